#include "tools/bench_plan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

namespace betcore::tools {
namespace {

using nlohmann::json;

TEST(BenchPlan, IdsCarryTheRunIdAndAreValid) {
  BenchPlan plan = make_plan("run-1", "n0nce1", 3, 5, 1000);
  EXPECT_EQ(plan.event_id, "run-1-ev");
  ASSERT_EQ(plan.markets.size(), 3u);
  ASSERT_EQ(plan.account_ids.size(), 5u);
  std::set<std::string> ids{plan.event_id};
  for (const auto& m : plan.markets) {
    EXPECT_TRUE(is_valid_id(m.id));
    EXPECT_EQ(m.id.rfind("run-1-", 0), 0u);
    ids.insert(m.id);
    EXPECT_GE(m.selections.size(), 2u);
    EXPECT_LE(m.selections.size(), 3u);
    EXPECT_EQ(m.leg_json.size(), m.selections.size());
  }
  for (const auto& a : plan.account_ids) {
    EXPECT_TRUE(is_valid_id(a));
    ids.insert(a);
  }
  EXPECT_EQ(ids.size(), 1u + 3u + 5u);
}

TEST(BenchPlan, DefaultRunIdIsAValidShortId) {
  std::string id = default_run_id();
  EXPECT_TRUE(is_valid_id(id)) << id;
  EXPECT_LE(id.size(), kRunIdLengthMax);
}

TEST(BenchPlan, LongestBetIdFitsTheApiLimit) {
  BenchPlan plan = make_plan(std::string(kRunIdLengthMax, 'r'), invocation_nonce(), 1, 1, 1);
  EXPECT_EQ(plan.bet_id_prefix.size(), kRunIdLengthMax + 2 + kNonceLength + 1);
  // As bench_load.cc formats it, with the largest connection number and a
  // sequence no run reaches (10^16 bets).
  std::string bet_id = plan.bet_id_prefix + std::to_string(kConnectionsMax) + "-" +
                       std::to_string(10'000'000'000'000'000ULL);
  EXPECT_LE(bet_id.size(), 64u) << bet_id;
  EXPECT_TRUE(is_valid_id(bet_id));
}

TEST(BenchPlan, NonceDiffersBetweenInvocations) {
  std::string a = invocation_nonce();
  std::string b = invocation_nonce();
  EXPECT_EQ(a.size(), kNonceLength);
  EXPECT_TRUE(is_valid_id(a));
  EXPECT_NE(a, b);  // nanosecond clock: two calls differ
}

TEST(BenchPlan, IdValidation) {
  EXPECT_TRUE(is_valid_id("a.B_c:d-9"));
  EXPECT_FALSE(is_valid_id(""));
  EXPECT_FALSE(is_valid_id("with space"));
  EXPECT_FALSE(is_valid_id("slash/"));
  EXPECT_FALSE(is_valid_id(std::string(65, 'x')));
}

TEST(BenchPlan, SetupBodiesFollowTheApi) {
  BenchPlan plan = make_plan("r", "abcdef", 2, 2, 5000);
  json event = json::parse(event_body(plan, "2030-01-01T00:00:00Z"));
  EXPECT_EQ(event["event_id"], "r-ev");
  EXPECT_EQ(event["starts_at"], "2030-01-01T00:00:00Z");
  EXPECT_TRUE(event["name"].is_string());

  json market = json::parse(market_body(plan, 1));
  EXPECT_EQ(market["market_id"], "r-m1");
  EXPECT_EQ(market["event_id"], "r-ev");
  EXPECT_EQ(market["selections"].size(), plan.markets[1].selections.size());
  EXPECT_TRUE(market["selections"][0]["odds"].is_string());
  EXPECT_TRUE(market["max_stake"].is_number_integer());
  EXPECT_LE(market["max_liability"].get<int64_t>(), 10'000'000'000'000);

  json account = json::parse(account_body(plan, 0));
  EXPECT_EQ(account, (json{{"account_id", "r-a0"}, {"currency", "EUR"}}));

  json deposit = json::parse(deposit_body(plan, 1));
  EXPECT_EQ(deposit, (json{{"payment_ref", "r-d1"}, {"account_id", "r-a1"}, {"amount", 5000}}));

  json leg = json::parse(plan.markets[0].leg_json[1]);
  EXPECT_EQ(leg, (json{{"market_id", "r-m0"}, {"selection_id", "s1"}, {"odds", "2.10"}}));
}

TEST(BenchPlan, Rfc3339) {
  std::string t = rfc3339_utc_from_now(0);
  ASSERT_EQ(t.size(), 20u) << t;
  EXPECT_EQ(t[4], '-');
  EXPECT_EQ(t[10], 'T');
  EXPECT_EQ(t.back(), 'Z');
}

}  // namespace
}  // namespace betcore::tools
