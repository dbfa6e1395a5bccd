#include "tools/http_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "support/fake_http_server.h"
#include "support/net.h"

namespace betcore::tools {
namespace {

using test::FakeHttpServer;
using test::FakeRequest;
using test::FakeResponse;

TEST(ParseUrl, HostAndPort) {
  auto u = parse_url("http://127.0.0.1:8080");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "");
  EXPECT_EQ(u->host_port(), "127.0.0.1:8080");
}

TEST(ParseUrl, SchemeIsOptionalAndCaseInsensitive) {
  EXPECT_EQ(parse_url("localhost:9000")->port, 9000);
  EXPECT_EQ(parse_url("HTTP://node-1.example:81/")->host, "node-1.example");
}

TEST(ParseUrl, DefaultPortAndPath) {
  auto u = parse_url("http://example.com/betcore/");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path, "/betcore");
}

TEST(ParseUrl, Ipv6InBrackets) {
  auto u = parse_url("http://[::1]:8080");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->host_port(), "[::1]:8080");
}

TEST(ParseUrl, HttpsDefaultsToPort443AndSaysTls) {
  auto u = parse_url("https://example.test");
  ASSERT_TRUE(u.has_value());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->origin(), "https://example.test:443");
  auto p = parse_url("HTTP://127.0.0.1:8080");
  ASSERT_TRUE(p.has_value());
  EXPECT_FALSE(p->tls);
  EXPECT_EQ(p->origin(), "http://127.0.0.1:8080");
}

TEST(ParseUrl, RejectsWhatIsNotAnHttpUrl) {
  for (const char* bad :
       {"", "httpx://127.0.0.1:8080", "https://", "http://", "http://:8080", "http://host:", "http://host:0",
        "http://host:65536", "http://host:80x", "http://ho st:80", "http://[::1", "http://[::1]x",
        "ftp://host", "http://host:8080/path?q=1"}) {
    EXPECT_FALSE(parse_url(bad).has_value()) << bad;
  }
}

TEST(HttpClient, SendsMethodTargetBodyAndBearerToken) {
  std::mutex mu;
  FakeRequest seen;
  FakeHttpServer server([&](const FakeRequest& r) {
    std::lock_guard lock(mu);
    seen = r;
    return FakeResponse{201, R"({"ok":true})", {{"Retry-After", "3"}}};
  });
  HttpClient client("127.0.0.1", server.port());
  Response r = client.post("/v1/accounts", R"({"account_id":"alice"})", "s3cret");
  EXPECT_EQ(r.status, 201) << r.error;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.body, R"({"ok":true})");
  EXPECT_EQ(r.header("retry-after"), "3");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/v1/accounts");
  EXPECT_EQ(seen.body, R"({"account_id":"alice"})");
  EXPECT_EQ(seen.header("authorization"), "Bearer s3cret");
  EXPECT_EQ(seen.header("content-type"), "application/json");
}

TEST(HttpClient, KeepsTheConnectionAlive) {
  FakeHttpServer server([](const FakeRequest&) { return FakeResponse{200, "{}"}; });
  HttpClient client("127.0.0.1", server.port());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client.get("/health/live").status, 200);
  EXPECT_EQ(server.connections(), 1u);
  EXPECT_TRUE(client.connected());
}

TEST(HttpClient, ReconnectsWhenTheServerClosedAnIdleConnection) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r{200, "{}"};
    r.close_silently = true;
    return r;
  });
  HttpClient client("127.0.0.1", server.port());
  for (int i = 0; i < 3; ++i) {
    Response r = client.get("/health/live");
    EXPECT_EQ(r.status, 200) << r.error;
    // Give the server's close time to arrive, so the next request finds a dead connection.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(server.requests(), 3u);
  EXPECT_EQ(server.connections(), 3u);
}

TEST(HttpClient, ConnectionRefusedIsAValueNotAnException) {
  uint16_t port = test::reserve_port();
  ASSERT_NE(port, 0);
  HttpClient client("127.0.0.1", port);
  Response r = client.get("/health/live");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("connect to 127.0.0.1:"), std::string::npos) << r.error;
}

TEST(HttpClient, TimesOutOnASlowServerAndRecovers) {
  std::atomic<bool> slow{true};
  FakeHttpServer server([&](const FakeRequest&) {
    if (slow) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return FakeResponse{200, "{}"};
  });
  HttpClientOptions options;
  options.request_timeout_ms = 100;
  HttpClient client(*parse_url(server.url()), options);
  auto start = std::chrono::steady_clock::now();
  Response r = client.get("/slow");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("within 100 ms"), std::string::npos) << r.error;
  EXPECT_LT(took, std::chrono::milliseconds(280));
  EXPECT_FALSE(client.connected());
  slow = false;
  // The fake serves one request at a time: let it finish the slow one.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Response fast = client.get("/fast");
  EXPECT_EQ(fast.status, 200) << fast.error;
}

TEST(HttpClient, HonoursConnectionClose) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeResponse{200, "{}", {{"Connection", "close"}}};
  });
  HttpClient client("127.0.0.1", server.port());
  EXPECT_EQ(client.get("/").status, 200);
  EXPECT_FALSE(client.connected());
  EXPECT_EQ(client.get("/").status, 200);
  EXPECT_EQ(server.connections(), 2u);
}

}  // namespace
}  // namespace betcore::tools
