#include "drill/feed_verdict.h"

#include <gtest/gtest.h>

namespace betcore::drill {
namespace {

constexpr Bets T = Bets::taken;
constexpr Bets R = Bets::refused;
constexpr Bets U = Bets::unknown;

const std::vector<WatchedMarket> kPrematchSilent = {{"m-1-1", true}, {"m-2-1", false}};

TEST(FeedVerdict, ShutByTheDeadlineIsDetectedAtTheFirstRefusalThatLasted) {
  // due at 4000: m-1-1 refused from 3100 on (once earlier, then taken again).
  std::vector<ProbeSample> s = {{0, 1000, T}, {1, 1000, T}, {0, 2900, R}, {0, 3000, T},
                                {0, 3100, R}, {1, 3100, T}, {0, 4100, U}, {0, 4300, R},
                                {1, 4300, T}};
  OutageVerdict v = judge_outage(s, kPrematchSilent, 4000);
  EXPECT_TRUE(v.violations.empty()) << v.violations.front();
  EXPECT_EQ(v.shut_ms, 3100);
}

TEST(FeedVerdict, ABetTakenAfterTheDeadlineIsAViolation) {
  std::vector<ProbeSample> s = {{0, 3900, R}, {0, 4200, T}, {0, 4400, R}};
  OutageVerdict v = judge_outage(s, kPrematchSilent, 4000);
  ASSERT_EQ(v.violations.size(), 1u);
  EXPECT_NE(v.violations[0].find("m-1-1 took a bet sent at 4.2 s, 200 ms after"), std::string::npos)
      << v.violations[0];
  EXPECT_EQ(v.shut_ms, -1);
}

TEST(FeedVerdict, ARefusalMustBeSeenAfterTheDeadline) {
  // Refused before it, but nothing answered after it: not shown.
  std::vector<ProbeSample> s = {{0, 3500, R}, {0, 4100, U}};
  OutageVerdict v = judge_outage(s, kPrematchSilent, 4000);
  ASSERT_EQ(v.violations.size(), 1u);
  EXPECT_EQ(v.violations[0], "no probe bet on m-1-1 was answered after its feed's deadline");
}

TEST(FeedVerdict, AMarketOfAnAliveProducerRefusesNothing) {
  std::vector<ProbeSample> s = {{0, 4100, R}, {1, 2000, T}, {1, 2200, R}};
  OutageVerdict v = judge_outage(s, kPrematchSilent, 4000);
  ASSERT_EQ(v.violations.size(), 1u);
  EXPECT_NE(v.violations[0].find("m-2-1 refused a bet sent at 2.2 s although its own producer"),
            std::string::npos)
      << v.violations[0];
}

TEST(FeedVerdict, NoOutageNoDetection) {
  std::vector<WatchedMarket> open = {{"m-1-1", false}, {"m-2-1", false}};
  std::vector<ProbeSample> s = {{0, 100, T}, {1, 100, T}, {0, 300, U}};
  OutageVerdict v = judge_outage(s, open, 0);
  EXPECT_TRUE(v.violations.empty());
  EXPECT_EQ(v.shut_ms, -1);
}

TEST(FeedVerdict, EveryMarketThatMustShutCountsForTheDetection) {
  std::vector<WatchedMarket> all = {{"m-1-1", true}, {"m-2-1", true}};
  std::vector<ProbeSample> s = {{0, 3000, R}, {1, 3000, T}, {0, 3200, R}, {1, 3200, R},
                                {0, 4100, R}, {1, 4100, R}};
  OutageVerdict v = judge_outage(s, all, 4000);
  EXPECT_TRUE(v.violations.empty());
  EXPECT_EQ(v.shut_ms, 3200);
}

}  // namespace
}  // namespace betcore::drill
