// The circuit breaker, the retry budget and the stream progress, on a driven clock.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "payments/breaker.h"
#include "payments/progress.h"
#include "payments/retry_budget.h"

namespace betcore::payments {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

BreakerConfig small() {
  BreakerConfig c;
  c.sliding_window_size = 10;
  c.minimum_number_of_calls = 5;
  c.wait_open_ms = 1000;
  c.permitted_calls_in_half_open = 3;
  c.slow_call_duration_ms = 500;
  return c;
}

void call(Breaker& b, bool failure, Clock::time_point t, int ms = 0) {
  Permit p = b.try_acquire(t);
  ASSERT_TRUE(p.granted);
  b.record(p, failure, t + milliseconds(ms));
}

TEST(Breaker, ResilienceDefaults) {
  BreakerConfig d;
  EXPECT_EQ(d.failure_rate_threshold, 50);
  EXPECT_EQ(d.slow_call_rate_threshold, 100);
  EXPECT_EQ(d.slow_call_duration_ms, 60000);
  EXPECT_EQ(d.sliding_window_size, 100);
  EXPECT_EQ(d.minimum_number_of_calls, 100);
  EXPECT_EQ(d.wait_open_ms, 60000);
  EXPECT_EQ(d.permitted_calls_in_half_open, 10);
}

TEST(Breaker, OpensOnFailureRateOnlyAfterMinimumCalls) {
  Breaker b(small());
  const auto t = Clock::now();
  for (int i = 0; i < 4; ++i) call(b, true, t);
  EXPECT_EQ(b.state(), BreakerState::closed);  // 4 < minimum 5
  call(b, false, t);                           // 4 of 5 failed: 80% >= 50%
  EXPECT_EQ(b.state(), BreakerState::open);
  EXPECT_FALSE(b.try_acquire(t + milliseconds(999)).granted);
  EXPECT_EQ(b.counts().not_permitted, 1u);
  EXPECT_EQ(b.open_remaining_ms(t + milliseconds(400)), 600);
}

TEST(Breaker, StaysClosedBelowTheThreshold) {
  Breaker b(small());
  const auto t = Clock::now();
  for (int i = 0; i < 40; ++i) call(b, i % 3 == 0, t);  // a third fail
  EXPECT_EQ(b.state(), BreakerState::closed);
}

TEST(Breaker, SlowCallsOpenItToo) {
  Breaker b(small());
  const auto t = Clock::now();
  for (int i = 0; i < 5; ++i) call(b, false, t, 600);  // all slow, none failed
  EXPECT_EQ(b.state(), BreakerState::open);
}

TEST(Breaker, HalfOpenLetsOnlyTheTrialsThroughThenClosesOrReopens) {
  Breaker b(small());
  auto t = Clock::now();
  for (int i = 0; i < 5; ++i) call(b, true, t);
  ASSERT_EQ(b.state(), BreakerState::open);
  EXPECT_EQ(b.counts().last_opened, t);  // when it opened (the adapter's "detected")
  t += milliseconds(1000);
  Permit p1 = b.try_acquire(t), p2 = b.try_acquire(t), p3 = b.try_acquire(t);
  EXPECT_EQ(b.state(), BreakerState::half_open);
  EXPECT_TRUE(p1.granted && p2.granted && p3.granted);
  EXPECT_FALSE(b.try_acquire(t).granted);  // a fourth: no
  b.record(p1, true, t);
  b.record(p2, true, t);
  b.record(p3, false, t);  // 2 of 3 failed: open again
  EXPECT_EQ(b.state(), BreakerState::open);
  const auto reopened_at = t;
  t += milliseconds(1000);
  for (int i = 0; i < 3; ++i) call(b, false, t);
  EXPECT_EQ(b.state(), BreakerState::closed);
  const BreakerCounts c = b.counts();
  EXPECT_EQ(c.opened, 2u);
  EXPECT_EQ(c.last_opened, reopened_at);
  EXPECT_EQ(c.half_opened, 2u);
  EXPECT_EQ(c.closed, 1u);
  EXPECT_EQ(c.granted_half_open, 6u);
}

TEST(Breaker, AnOutcomeFromBeforeATransitionIsIgnored) {
  Breaker b(small());
  const auto t = Clock::now();
  Permit late = b.try_acquire(t);
  for (int i = 0; i < 5; ++i) call(b, true, t);
  ASSERT_EQ(b.state(), BreakerState::open);
  Permit trial_time = b.try_acquire(t + milliseconds(1000));
  ASSERT_EQ(b.state(), BreakerState::half_open);
  b.record(late, false, t + milliseconds(1000));  // from the closed era: dropped
  EXPECT_EQ(b.state(), BreakerState::half_open);
  b.record(trial_time, false, t + milliseconds(1000));
  EXPECT_EQ(b.state(), BreakerState::half_open);  // 1 of 3 trials in
}

TEST(RetryBudget, AllowsTheFloorPlusAShareOfCalls) {
  RetryBudget b(RetryBudgetConfig{10, 1, 20});  // 10 s: 10 retries + 20% of calls
  const auto t = Clock::now();
  for (int i = 0; i < 100; ++i) b.deposit(t);
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += b.try_withdraw(t) ? 1 : 0;
  EXPECT_EQ(allowed, 30);  // 10 + 20% of 100
  EXPECT_EQ(b.refused(), 70u);
  // Ten seconds later the window has moved on.
  EXPECT_TRUE(b.try_withdraw(t + std::chrono::seconds(11)));
}

TEST(Progress, ResumePointWaitsForTheOldestOwedWithdrawal) {
  Progress p(Position{3, 1});
  EXPECT_EQ(p.resume_point(), (Position{3, 1}));
  ASSERT_TRUE(p.owe(Position{5, 2}, "w1"));
  p.seen(Position{5, 2});
  ASSERT_TRUE(p.owe(Position{7, 1}, "w2"));
  p.seen(Position{7, 1});
  p.seen(Position{9, 4});
  EXPECT_FALSE(p.owe(Position{5, 2}, "w1"));  // read again: not twice
  EXPECT_EQ(p.resume_point(), (Position{5, 1}));
  p.done("w2");
  EXPECT_EQ(p.resume_point(), (Position{5, 1}));
  p.done("w1");
  EXPECT_EQ(p.resume_point(), (Position{9, 4}));
  EXPECT_EQ(p.owed(), 0u);
}

TEST(Progress, AResyncOwesManyAtOnePosition) {
  Progress p(Position{2, 5});
  ASSERT_TRUE(p.owe(Position{10, 0}, "a"));
  ASSERT_TRUE(p.owe(Position{10, 0}, "b"));
  p.jump_to(Position{10, 0});
  EXPECT_EQ(p.resume_point(), (Position{10, 0}));
  p.done("a");
  EXPECT_EQ(p.resume_point(), (Position{10, 0}));
  EXPECT_EQ(p.owed(), 1u);
  p.done("b");
  EXPECT_EQ(p.resume_point(), (Position{10, 0}));
  p.seen(Position{11, 2});
  EXPECT_EQ(p.resume_point(), (Position{11, 2}));
}

TEST(Progress, StateFileRoundTripAndDamage) {
  const std::string path = ::testing::TempDir() + "payments_position_test.json";
  std::remove(path.c_str());
  std::string error;
  EXPECT_FALSE(read_position(path, &error).has_value());
  EXPECT_TRUE(error.empty());
  ASSERT_TRUE(write_position(path, Position{812, 3}, &error)) << error;
  auto p = read_position(path, &error);
  ASSERT_TRUE(p.has_value()) << error;
  EXPECT_EQ(*p, (Position{812, 3}));
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs("{\"index\":", f);
  std::fclose(f);
  EXPECT_FALSE(read_position(path, &error).has_value());
  EXPECT_NE(error.find("damaged"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace betcore::payments
