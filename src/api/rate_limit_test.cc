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
  for (int i = 0; i < 1000; ++i) r.admit("later" + std::to_string(i), t0 + 30s, retry);
  EXPECT_LE(r.keys(), 160u);
}

TEST(RateLimiter, ABusyKeyStaysLimitedThroughAFloodOfOtherKeys) {
  // 10 keys a shard, a bucket refills in 1 s. For 10 s a new key arrives
  // every millisecond (100 times what fits, so buckets are dropped all the
  // while) and the busy key asks every millisecond too. Its bucket is the
  // freshest, so it must never be the one dropped: a forgotten bucket would
  // start full again and let the busy key through far more than 1 a second.
  RateLimiter r({1, 1, 160});
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  int retry = 0;
  ASSERT_TRUE(r.admit("busy", t0, retry));
  int busy_admitted = 0;
  for (int ms = 1; ms <= 10'000; ++ms) {
    const auto now = t0 + std::chrono::milliseconds(ms);
    r.admit("flood" + std::to_string(ms), now, retry);
    // Half a millisecond later: strictly fresher than every flood key so far.
    busy_admitted += r.admit("busy", now + 500us, retry) ? 1 : 0;
  }
  EXPECT_LE(r.keys(), 160u);
  EXPECT_GE(busy_admitted, 9);
  EXPECT_LE(busy_admitted, 10) << "the busy key's bucket was forgotten during the flood";
}

TEST(RateLimiter, RetryAfterIsClampedToAnHour) {
  // 1e-4 a second is one request every 10,000 s; 1e-12 would overflow int.
  for (const double rate_per_s : {1e-4, 1e-12}) {
    RateLimiter r({rate_per_s, 1, 1000});
    const auto t0 = RateLimiter::Clock::time_point{} + 1h;
    int retry = 0;
    EXPECT_TRUE(r.admit("a", t0, retry));
    EXPECT_FALSE(r.admit("a", t0, retry));
    EXPECT_EQ(retry, RateLimiter::kRetryAfterMaxS) << rate_per_s;
  }
}

}  // namespace
}  // namespace betcore::api
