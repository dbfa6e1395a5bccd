#include "support/net.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "support/fake_http_server.h"
#include "support/process.h"

namespace betcore::test {
namespace {

TEST(FreePort, GivesAPortNobodyListensOn) {
  uint16_t a = reserve_port();
  EXPECT_NE(a, 0);
  std::string why;
  EXPECT_FALSE(wait_http_ready("127.0.0.1", a, "/health/ready", 0, nullptr, &why));
  EXPECT_NE(why.find("refused"), std::string::npos) << why;
}

TEST(WaitHttpReady, WaitsFor200) {
  std::atomic<int> polls{0};
  FakeHttpServer server([&](const FakeRequest& r) {
    EXPECT_EQ(r.target, "/health/ready");
    return FakeResponse{++polls < 3 ? 503 : 200, "{}"};
  });
  EXPECT_TRUE(wait_http_ready("127.0.0.1", server.port(), "/health/ready", 5000));
  EXPECT_EQ(polls.load(), 3);
}

TEST(WaitHttpReady, TimesOutWithTheLastAnswer) {
  FakeHttpServer server([](const FakeRequest&) { return FakeResponse{503, "not ready"}; });
  auto start = std::chrono::steady_clock::now();
  std::string why;
  EXPECT_FALSE(wait_http_ready("127.0.0.1", server.port(), "/health/ready", 300, nullptr, &why));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_EQ(why, "503 not ready");
}

TEST(WaitHttpReady, GivesUpWhenTheProcessExits) {
  Process p = Process::spawn("/bin/sh", {"-c", "exit 7"});
  ASSERT_TRUE(p.started());
  auto start = std::chrono::steady_clock::now();
  std::string why;
  EXPECT_FALSE(wait_http_ready("127.0.0.1", reserve_port(), "/health/ready", 10000, &p, &why));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(why, "the process exited: exit code 7");
}

}  // namespace
}  // namespace betcore::test
