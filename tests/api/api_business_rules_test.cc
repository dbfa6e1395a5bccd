// 422: each business rule of design/API.md says no, with its own code, and
// the refused request changes nothing. Where a rule has a boundary, the value
// just inside it is accepted.
#include <gtest/gtest.h>

#include "api_node.h"
#include "api_world.h"
#include "node_suite.h"

namespace betcore::apitest {
namespace {

class ApiBusinessRules : public NodeSuite<ApiBusinessRules> {
 public:
  static NodeConfig config() { return rejection_world_config(); }
  static void build_world(ApiNode& n) { build_rejection_world(n); }

 protected:
  void expect_422(const Req& req, std::string_view code) {
    EXPECT_TRUE(Rejected(node(), req, 422, code, rejection_world_visible()));
  }
  void expect_bet_422(const json& bet, std::string_view code) {
    expect_422({"POST", "/v1/bets", bet.dump(), node().trader()}, code);
  }
};

TEST_F(ApiBusinessRules, InsufficientFunds) {
  ApiNode& n = node();
  // poor has 100.
  expect_bet_422(bet_body("poor-b1", "poor", 101, {{"mk2", "yes", "1.5"}}), "insufficient_funds");
  expect_422(
      {"POST", "/v1/bets",
       bet_body("poor-b2", "poor", 101, {{"mk2", "yes", "1.5"}, {"liab", "a", "2.1"}}).dump(),
       n.punter("poor")},
      "insufficient_funds");
  expect_422(
      {"POST", "/v1/withdrawals", withdrawal_body("poor-w1", "poor", 101).dump(), n.punter("poor")},
      "insufficient_funds");
  // Money in play or pending is not in the balance: alice has 9800 (200 in play).
  expect_bet_422(bet_body("alice-all", "alice", 10'000, {{"mk2", "yes", "1.5"}}),
                 "insufficient_funds");
  // bob has 4800 (100 pending).
  expect_422(
      {"POST", "/v1/withdrawals", withdrawal_body("bob-all", "bob", 4'900).dump(), n.admin()},
      "insufficient_funds");
  // Exactly the balance is fine.
  ASSERT_STATUS(n.post("/v1/bets", bet_body("poor-b3", "poor", 100, {{"mk2", "yes", "1.5"}}),
                       n.punter("poor")),
                201);
  EXPECT_EQ(account(n, "poor")["balance"], 0);
  expect_bet_422(bet_body("poor-b4", "poor", 1, {{"mk2", "yes", "1.5"}}), "insufficient_funds");
}

TEST_F(ApiBusinessRules, OddsChanged) {
  // mk/home is 2.1.
  expect_bet_422(bet_body("oc-1", "alice", 500, {{"mk", "home", "2.2"}}), "odds_changed");
  expect_bet_422(
      bet_body("oc-2", "alice", 500, {{"mk", "home", "2.2"}}, /*accept_better_odds=*/true),
      "odds_changed");
  expect_bet_422(bet_body("oc-3", "alice", 500, {{"mk", "home", "2.0"}}), "odds_changed");
  expect_bet_422(bet_body("oc-4", "alice", 500, {{"mk2", "yes", "1.5"}, {"mk", "home", "2.11"}}),
                 "odds_changed");
  // The message tells the punter the odds now.
  Reply r = node().post("/v1/bets", bet_body("oc-5", "alice", 500, {{"mk", "home", "2.0"}}),
                        node().trader());
  EXPECT_NE(r["error"]["message"].get<std::string>().find("2.1"), std::string::npos) << r.body;
}

TEST_F(ApiBusinessRules, MarketNotOpen) {
  ApiNode& n = node();
  for (const char* m : {"susp", "closed", "settled"}) {
    expect_bet_422(bet_body(std::string("mno-") + m, "alice", 100, {{m, "a", "2"}}),
                   "market_not_open");
    expect_bet_422(bet_body(std::string("mno-multi-") + m, "alice", 100,
                            {{"mk2", "yes", "1.5"}, {m, "a", "2"}}),
                   "market_not_open");
  }
  // A closed or settled market takes no prices; a suspended one does.
  for (const char* m : {"closed", "settled"}) {
    expect_422({"POST", std::string("/v1/markets/") + m + "/prices",
                R"({"prices":[{"selection_id":"a","odds":"3"}]})", n.trader()},
               "market_not_open");
  }
}

TEST_F(ApiBusinessRules, SelectionNotActive) {
  ApiNode& n = node();
  expect_bet_422(bet_body("sna-1", "alice", 500, {{"mk", "draw", "3"}}), "selection_not_active");
  expect_bet_422(bet_body("sna-2", "alice", 500, {{"mk2", "no", "2.5"}, {"mk", "draw", "3"}}),
                 "selection_not_active");
  // Deactivated through prices with "active": false, the selection reads inactive; reactivated, it
  // takes bets.
  ASSERT_STATUS(create_market(n, "sna-m", "er-ev", {{"a", "2"}, {"b", "2"}}), 201);
  Reply off = n.post("/v1/markets/sna-m/prices",
                     json{{"prices", {{{"selection_id", "b"}, {"odds", "2"}, {"active", false}}}}},
                     n.feed());
  ASSERT_STATUS(off, 200);
  EXPECT_EQ(off["selections"][1]["active"], false);
  EXPECT_EQ(off["selections"][0]["active"], true);
  expect_bet_422(bet_body("sna-3", "alice", 500, {{"sna-m", "b", "2"}}), "selection_not_active");
  ASSERT_STATUS(n.post("/v1/markets/sna-m/prices",
                       json{{"prices", {{{"selection_id", "b"}, {"odds", "2"}, {"active", true}}}}},
                       n.feed()),
                200);
  EXPECT_STATUS(
      n.post("/v1/bets", bet_body("sna-4", "alice", 500, {{"sna-m", "b", "2"}}), n.trader()), 201);
}

TEST_F(ApiBusinessRules, StakeOutOfRange) {
  ApiNode& n = node();
  // mk takes stakes 100..5000.
  expect_bet_422(bet_body("sr-1", "alice", 99, {{"mk", "away", "1.8"}}), "stake_out_of_range");
  expect_bet_422(bet_body("sr-2", "alice", 5'001, {{"mk", "away", "1.8"}}), "stake_out_of_range");
  expect_bet_422(bet_body("sr-3", "alice", 5'001, {{"mk2", "yes", "1.5"}, {"mk", "away", "1.8"}}),
                 "stake_out_of_range");
  expect_bet_422(bet_body("sr-4", "alice", 1, {{"mk", "away", "1.8"}, {"mk2", "yes", "1.5"}}),
                 "stake_out_of_range");
  EXPECT_STATUS(
      n.post("/v1/bets", bet_body("sr-5", "alice", 100, {{"mk", "away", "1.8"}}), n.trader()), 201);
  EXPECT_STATUS(
      n.post("/v1/bets", bet_body("sr-6", "alice", 1'000, {{"mk", "away", "1.8"}}), n.trader()),
      201);
}

TEST_F(ApiBusinessRules, LiabilityExceeded) {
  ApiNode& n = node();
  // liab/a is 2.1 with a liability limit of 1000: a stake of 1000 would risk 1100.
  expect_bet_422(bet_body("le-1", "alice", 1'000, {{"liab", "a", "2.1"}}), "liability_exceeded");
  expect_bet_422(bet_body("le-2", "alice", 1'000, {{"mk2", "yes", "1.5"}, {"liab", "a", "2.1"}}),
                 "liability_exceeded");
  // 900 risks 990: in. Then 10 more would risk 11 more: 1001 is out.
  ASSERT_STATUS(
      n.post("/v1/bets", bet_body("le-3", "alice", 900, {{"liab", "a", "2.1"}}), n.trader()), 201);
  EXPECT_EQ(market(n, "liab")["selections"][0]["liability"], 990);
  expect_bet_422(bet_body("le-4", "alice", 10, {{"liab", "a", "2.1"}}), "liability_exceeded");
  // 9 risks floor(9 x 2.1) - 9 = 9 more: exactly 999, in.
  EXPECT_STATUS(
      n.post("/v1/bets", bet_body("le-5", "alice", 9, {{"liab", "a", "2.1"}}), n.trader()), 201);
  // Combined odds of 1000 x 1000 are over the 100000 maximum of a multiple.
  expect_bet_422(bet_body("le-6", "alice", 1, {{"big1", "x", "1000"}, {"big2", "x", "1000"}}),
                 "liability_exceeded");
}

TEST_F(ApiBusinessRules, AccountNotActive) {
  ApiNode& n = node();
  expect_422({"POST", "/v1/bets", bet_body("ana-1", "xavier", 100, {{"mk2", "yes", "1.5"}}).dump(),
              n.punter("xavier")},
             "account_not_active");
  expect_bet_422(bet_body("ana-2", "xavier", 100, {{"mk2", "yes", "1.5"}}), "account_not_active");
  expect_422({"POST", "/v1/deposits", deposit_body("ana-dep", "xavier", 100).dump(), n.payments()},
             "account_not_active");
}

TEST_F(ApiBusinessRules, DepositLimitExceeded) {
  ApiNode& n = node();
  // limited: 600 of 1000 deposited in the last 24 hours.
  expect_422({"POST", "/v1/deposits", deposit_body("dl-1", "limited", 401).dump(), n.payments()},
             "deposit_limit_exceeded");
  ASSERT_STATUS(n.post("/v1/deposits", deposit_body("dl-2", "limited", 400), n.payments()), 201);
  EXPECT_EQ(account(n, "limited")["balance"], 1'000);
  expect_422({"POST", "/v1/deposits", deposit_body("dl-3", "limited", 1).dump(), n.payments()},
             "deposit_limit_exceeded");
  // Withdrawing does not give the limit back.
  ASSERT_STATUS(n.post("/v1/withdrawals", withdrawal_body("dl-w", "limited", 500), n.admin()), 201);
  expect_422({"POST", "/v1/deposits", deposit_body("dl-4", "limited", 1).dump(), n.payments()},
             "deposit_limit_exceeded");
}

TEST_F(ApiBusinessRules, DuplicateLeg) {
  expect_bet_422(bet_body("dup-1", "alice", 100, {{"mk2", "yes", "1.5"}, {"mk2", "no", "2.5"}}),
                 "duplicate_leg");
  expect_bet_422(bet_body("dup-2", "alice", 100, {{"mk2", "yes", "1.5"}, {"mk2", "yes", "1.5"}}),
                 "duplicate_leg");
  expect_bet_422(bet_body("dup-3", "alice", 100,
                          {{"mk2", "yes", "1.5"}, {"liab", "a", "2.1"}, {"mk2", "no", "2.5"}}),
                 "duplicate_leg");
}

}  // namespace
}  // namespace betcore::apitest
