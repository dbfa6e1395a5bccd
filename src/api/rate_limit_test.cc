#include "api/rate_limit.h"

#include <gtest/gtest.h>

#include <string>

namespace betcore::api {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, AKeyGetsItsBurstThenItsRateAndOthersAreUnaffected) {
  RateLimiter r({10, 5, 1000});
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  int retry = 0;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(r.admit("a", t0, retry)) << i;
  EXPECT_FALSE(r.admit("a", t0, retry));
  EXPECT_EQ(retry, 1);
  EXPECT_TRUE(r.admit("b", t0, retry)) << "another key has its own bucket";
  EXPECT_TRUE(r.admit("a", t0 + 100ms, retry)) << "one token back after 1/rate";
  EXPECT_FALSE(r.admit("a", t0 + 100ms, retry));
  // Over a long window the key gets rate x time (+ burst), not more.
  int admitted = 0;
  for (int ms = 0; ms < 10'000; ms += 10) {
    admitted += r.admit("a", t0 + 200ms + std::chrono::milliseconds(ms), retry) ? 1 : 0;
  }
  EXPECT_GE(admitted, 99);
  EXPECT_LE(admitted, 101);
}

TEST(RateLimiter, RetryAfterSaysWhenTheNextRequestFits) {
  RateLimiter r({0.25, 1, 1000});  // one every 4 s
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  int retry = 0;
  EXPECT_TRUE(r.admit("a", t0, retry));
  EXPECT_FALSE(r.admit("a", t0, retry));
  EXPECT_EQ(retry, 4);
}

TEST(RateLimiter, ZeroRateIsNoLimit) {
  RateLimiter r({0, 0, 10});
  int retry = 0;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(r.admit("a", RateLimiter::Clock::now(), retry));
  EXPECT_EQ(r.keys(), 0u);
}

TEST(RateLimiter, AFloodOfNewKeysStaysWithinTheBound) {
  RateLimiter r({1, 1, 160});
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  int retry = 0;
  for (int i = 0; i < 10'000; ++i) r.admit("k" + std::to_string(i), t0, retry);
  EXPECT_LE(r.keys(), 160u);
  // A busy key that exhausted its bucket is still limited after the flood
  // when the flood is of idle keys.
  EXPECT_TRUE(r.admit("busy", t0 + 10s, retry));
  EXPECT_FALSE(r.admit("busy", t0 + 10s, retry));
  for (int i = 0; i < 1000; ++i) r.admit("later" + std::to_string(i), t0 + 30s, retry);
  EXPECT_LE(r.keys(), 160u);
}

}  // namespace
}  // namespace betcore::api
