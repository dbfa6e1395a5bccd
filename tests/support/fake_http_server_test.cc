#include "support/fake_http_server.h"

#include <gtest/gtest.h>

#include "tools/http_client.h"

namespace betcore::test {
namespace {

TEST(FakeHttpServer, AnswersWithTheHandler) {
  FakeHttpServer server([](const FakeRequest& r) {
    return FakeResponse{r.target == "/teapot" ? 418 : 200, "{\"method\":\"" + r.method + "\"}"};
  });
  EXPECT_EQ(server.url(), "http://127.0.0.1:" + std::to_string(server.port()));
  tools::HttpClient client("127.0.0.1", server.port());
  EXPECT_EQ(client.get("/teapot").status, 418);
  auto r = client.post("/x", "{}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"method\":\"POST\"}");
  EXPECT_EQ(server.requests(), 2u);
  EXPECT_EQ(server.connections(), 1u);
}

TEST(FakeHttpServer, StopsWithOpenConnections) {
  auto server = std::make_unique<FakeHttpServer>([](const FakeRequest&) { return FakeResponse{}; });
  tools::HttpClient client("127.0.0.1", server->port());
  EXPECT_EQ(client.get("/").status, 200);
  server.reset();  // must not hang on the idle kept-alive connection
  EXPECT_EQ(client.get("/").status, 0);
}

}  // namespace
}  // namespace betcore::test
