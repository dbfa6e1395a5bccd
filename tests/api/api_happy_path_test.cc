// The happy path of design/API.md against a real node: accounts and money,
// events, markets and prices, singles and multiples, settlement with exact
// balances, withdrawals, self-exclusion, paging, and the operations routes.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <thread>

#include "api_node.h"
#include "api_world.h"
#include "node_suite.h"

namespace betcore::apitest {
namespace {

const std::regex kTimestamp(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)");

bool is_timestamp(const json& v) {
  return v.is_string() && std::regex_match(v.get<std::string>(), kTimestamp);
}

class ApiHappyPath : public NodeSuite<ApiHappyPath> {
 public:
  static NodeConfig config() { return {{"alice", "pat", "wanda", "sam", "pager"}, {}}; }
  static void build_world(ApiNode&) {}
};

TEST_F(ApiHappyPath, AccountIsCreatedAndCreditedByDeposits) {
  ApiNode& n = node();
  Reply created = n.post("/v1/accounts", account_body("alice"), n.admin());
  ASSERT_STATUS(created, 201);
  EXPECT_EQ(created["account_id"], "alice");
  EXPECT_EQ(created["currency"], "EUR");
  EXPECT_EQ(created["status"], "active");
  EXPECT_EQ(created["balance"], 0);
  EXPECT_EQ(created["in_play"], 0);
  EXPECT_EQ(created["pending_withdrawals"], 0);
  EXPECT_TRUE(created["deposit_limit_24h"].is_null()) << created.body;
  ASSERT_TRUE(created["index"].is_number_unsigned()) << created.body;
  const uint64_t account_index = created["index"].get<uint64_t>();
  EXPECT_GT(account_index, 0u);

  Reply d1 = n.post("/v1/deposits", deposit_body("alice-dep-1", "alice", 10'000), n.payments());
  ASSERT_STATUS(d1, 201);
  EXPECT_EQ(d1["payment_ref"], "alice-dep-1");
  EXPECT_EQ(d1["account_id"], "alice");
  EXPECT_EQ(d1["amount"], 10'000);
  EXPECT_EQ(d1["balance"], 10'000);
  ASSERT_TRUE(d1["index"].is_number_unsigned()) << d1.body;
  EXPECT_GT(d1["index"].get<uint64_t>(), account_index);

  Reply d2 = n.post("/v1/deposits", deposit_body("alice-dep-2", "alice", 2'505), n.payments());
  ASSERT_STATUS(d2, 201);
  EXPECT_EQ(d2["balance"], 12'505);
  EXPECT_GT(d2["index"].get<uint64_t>(), d1["index"].get<uint64_t>());

  // The account reads the same for each role allowed to read it.
  for (const std::string& token : {n.admin(), n.payments(), n.punter("alice")}) {
    Reply got = n.get("/v1/accounts/alice", token);
    ASSERT_STATUS(got, 200);
    EXPECT_EQ(got["account_id"], "alice");
    EXPECT_EQ(got["currency"], "EUR");
    EXPECT_EQ(got["status"], "active");
    EXPECT_EQ(got["balance"], 12'505);
    EXPECT_EQ(got["in_play"], 0);
    EXPECT_EQ(got["pending_withdrawals"], 0);
    EXPECT_TRUE(got.json_body.contains("deposit_limit_24h")) << got.body;
    EXPECT_TRUE(got["deposit_limit_24h"].is_null()) << got.body;
  }

  // An account with a deposit limit says so.
  Reply limited = n.post("/v1/accounts", account_body("alice-limited", "GBP", 50'000), n.admin());
  ASSERT_STATUS(limited, 201);
  EXPECT_EQ(limited["currency"], "GBP");
  EXPECT_EQ(limited["deposit_limit_24h"], 50'000);
  EXPECT_EQ(account(n, "alice-limited")["deposit_limit_24h"], 50'000);
}

TEST_F(ApiHappyPath, BoundaryValuesAreAccepted) {
  ApiNode& n = node();
  const std::string id64(64, 'x');  // the longest id, every allowed character class below
  ASSERT_STATUS(n.post("/v1/accounts", account_body(id64), n.admin()), 201);
  const std::string odd_id = "Az09_.:-";
  ASSERT_STATUS(n.post("/v1/accounts", account_body(odd_id), n.admin()), 201);
  EXPECT_EQ(account(n, odd_id)["account_id"], odd_id);

  // amount 10^13 is the largest; 1 the smallest.
  Reply big =
      n.post("/v1/deposits", deposit_body("bound-dep-max", id64, 10'000'000'000'000), n.payments());
  ASSERT_STATUS(big, 201);
  EXPECT_EQ(big["balance"], 10'000'000'000'000);
  Reply small = n.post("/v1/deposits", deposit_body("bound-dep-min", id64, 1), n.payments());
  ASSERT_STATUS(small, 201);
  EXPECT_EQ(small["balance"], 10'000'000'000'001);

  // Odds "1.001" and "1000" are the range; "2.10" reads back as "2.1".
  create_event(n, "bound-ev");
  Reply m =
      create_market(n, "bound-m", "bound-ev", {{"lo", "1.001"}, {"hi", "1000"}, {"mid", "2.10"}});
  ASSERT_STATUS(m, 201);
  ASSERT_EQ(m["selections"].size(), 3u) << m.body;
  EXPECT_EQ(m["selections"][0]["odds"], "1.001");
  EXPECT_EQ(m["selections"][1]["odds"], "1000");
  EXPECT_EQ(m["selections"][2]["odds"], "2.1");
  EXPECT_EQ(m["min_stake"], 1);
  EXPECT_EQ(m["max_stake"], 10'000'000'000'000);
  EXPECT_EQ(m["max_liability"], 1'000'000'000'000'000);

  // A stake of 1 at 1.001 pays floor(1.001) = 1; 10^13 at 1.001 pays 1.001 x 10^13.
  Reply b1 = place_bet(n, "bound-b1", id64, 1, {{"bound-m", "lo", "1.001"}});
  EXPECT_EQ(b1["potential_payout"], 1);
  Reply b2 = place_bet(n, "bound-b2", id64, 10'000'000'000'000, {{"bound-m", "lo", "1.001"}});
  EXPECT_EQ(b2["potential_payout"], 10'010'000'000'000);
  json a = account(n, id64);
  EXPECT_EQ(a["balance"], 0);
  EXPECT_EQ(a["in_play"], 10'000'000'000'001);

  // A multiple of 20 legs (the most) at 1.1: 1.1^20 = 6.72749994932560009201 -> "6.727".
  create_account(n, "bound-multi");
  deposit(n, "bound-multi-dep", "bound-multi", 10'000);
  std::vector<LegSpec> legs;
  for (int i = 0; i < 20; ++i) {
    const std::string m = "bound-leg-" + std::to_string(i);
    create_market(n, m, "bound-ev", {{"s", "1.1"}});
    legs.push_back({m, "s", "1.1"});
  }
  Reply multi = place_bet(n, "bound-multi-1", "bound-multi", 1'000, legs);
  EXPECT_EQ(multi["odds"], "6.727");
  EXPECT_EQ(multi["potential_payout"], 6'727);
  EXPECT_EQ(multi["legs"].size(), 20u);
  // The product is rounded down once, not leg by leg: 1.333 x 1.333 = 1.776889 -> "1.776".
  create_market(n, "bound-r1", "bound-ev", {{"s", "1.333"}});
  create_market(n, "bound-r2", "bound-ev", {{"s", "1.333"}});
  Reply rounded = place_bet(n, "bound-multi-2", "bound-multi", 1'000,
                            {{"bound-r1", "s", "1.333"}, {"bound-r2", "s", "1.333"}});
  EXPECT_EQ(rounded["odds"], "1.776");
  EXPECT_EQ(rounded["potential_payout"], 1'776);
  // A single pays floor(stake x odds): 333 x 1.333 = 443.889 -> 443.
  Reply single = place_bet(n, "bound-multi-3", "bound-multi", 333, {{"bound-r1", "s", "1.333"}});
  EXPECT_EQ(single["potential_payout"], 443);
  EXPECT_EQ(account(n, "bound-multi")["balance"], 10'000 - 1'000 - 1'000 - 333);
}

// Singles and multiples through suspend, resume, close, settle and resettle,
// with the balance after every step computed by hand.
TEST_F(ApiHappyPath, BetsSettleAndResettleWithExactBalances) {
  ApiNode& n = node();
  create_account(n, "pat");
  deposit(n, "pat-dep", "pat", 10'000);
  Reply ev = n.post(
      "/v1/events",
      json{{"event_id", "final"}, {"name", "Cup final"}, {"starts_at", "2026-11-27T20:00:00Z"}},
      n.trader());
  ASSERT_STATUS(ev, 201);
  EXPECT_EQ(ev["event_id"], "final");
  EXPECT_EQ(ev["name"], "Cup final");
  EXPECT_TRUE(is_timestamp(ev["starts_at"])) << ev.body;
  EXPECT_EQ(ev["starts_at"].get<std::string>().substr(0, 19), "2026-11-27T20:00:00");

  Reply m1 = create_market(n, "m1", "final", {{"home", "2.10"}, {"draw", "3.4"}, {"away", "3.75"}});
  ASSERT_STATUS(m1, 201);
  EXPECT_EQ(m1["market_id"], "m1");
  EXPECT_EQ(m1["event_id"], "final");
  EXPECT_EQ(m1["status"], "open");
  ASSERT_EQ(m1["selections"].size(), 3u) << m1.body;
  EXPECT_EQ(m1["selections"][0]["selection_id"], "home");
  EXPECT_EQ(m1["selections"][0]["odds"], "2.1");
  EXPECT_EQ(m1["selections"][0]["active"], true);
  EXPECT_EQ(m1["selections"][0]["liability"], 0);
  ASSERT_STATUS(create_market(n, "m2", "final", {{"yes", "1.5"}, {"no", "2.5"}}), 201);
  // Any role reads a market.
  for (const std::string& token :
       {n.admin(), n.trader(), n.feed(), n.payments(), n.punter("pat")}) {
    Reply r = n.get("/v1/markets/m1", token);
    ASSERT_STATUS(r, 200);
    EXPECT_EQ(r.json_body, market(n, "m1"));
  }

  // b1: a single placed by the punter for itself.
  Reply b1 =
      n.post("/v1/bets", bet_body("b1", "pat", 1'000, {{"m1", "home", "2.10"}}), n.punter("pat"));
  ASSERT_STATUS(b1, 201);
  EXPECT_EQ(b1["bet_id"], "b1");
  EXPECT_EQ(b1["account_id"], "pat");
  EXPECT_EQ(b1["stake"], 1'000);
  EXPECT_EQ(b1["odds"], "2.1");
  EXPECT_EQ(b1["potential_payout"], 2'100);
  EXPECT_EQ(b1["status"], "open");
  EXPECT_EQ(b1["legs"], json::parse(R"([{"market_id":"m1","selection_id":"home","odds":"2.1"}])"));
  EXPECT_TRUE(is_timestamp(b1["placed_at"])) << b1.body;
  EXPECT_TRUE(b1["index"].is_number_unsigned()) << b1.body;
  json a = account(n, "pat");
  EXPECT_EQ(a["balance"], 9'000);
  EXPECT_EQ(a["in_play"], 1'000);

  // b2: a multiple, 3.4 x 1.5 = 5.1.
  Reply b2 =
      n.post("/v1/bets", bet_body("b2", "pat", 500, {{"m1", "draw", "3.4"}, {"m2", "yes", "1.5"}}),
             n.punter("pat"));
  ASSERT_STATUS(b2, 201);
  EXPECT_EQ(b2["odds"], "5.1");
  EXPECT_EQ(b2["potential_payout"], 2'550);
  EXPECT_EQ(b2["legs"].size(), 2u);
  a = account(n, "pat");
  EXPECT_EQ(a["balance"], 8'500);
  EXPECT_EQ(a["in_play"], 1'500);

  // The feed moves home out to 2.5; a bet asking 2.10 with accept_better_odds gets 2.5.
  Reply priced = n.post("/v1/markets/m1/prices",
                        json{{"prices", {{{"selection_id", "home"}, {"odds", "2.5"}}}}}, n.feed());
  ASSERT_STATUS(priced, 200);
  EXPECT_EQ(priced["selections"][0]["odds"], "2.5");
  EXPECT_EQ(market(n, "m1")["selections"][0]["odds"], "2.5");
  Reply b3 = place_bet(n, "b3", "pat", 200, {{"m1", "home", "2.10"}}, /*accept_better_odds=*/true);
  EXPECT_EQ(b3["odds"], "2.5");
  EXPECT_EQ(b3["potential_payout"], 500);
  EXPECT_EQ(b3["legs"][0]["odds"], "2.5");

  Reply b4 = place_bet(n, "b4", "pat", 300, {{"m1", "away", "3.75"}});
  EXPECT_EQ(b4["potential_payout"], 1'125);
  Reply b5 = place_bet(n, "b5", "pat", 100, {{"m1", "away", "3.75"}, {"m2", "no", "2.5"}});
  EXPECT_EQ(b5["odds"], "9.375");
  EXPECT_EQ(b5["potential_payout"], 937);  // floor(100 x 9.375)
  Reply b6 = place_bet(n, "b6", "pat", 400, {{"m2", "yes", "1.5"}});
  EXPECT_EQ(b6["potential_payout"], 600);
  a = account(n, "pat");
  EXPECT_EQ(a["balance"], 7'500);
  EXPECT_EQ(a["in_play"], 2'500);

  // Liability per selection: what the book loses if it wins.
  json mk1 = market(n, "m1");
  EXPECT_EQ(mk1["selections"][0]["liability"], 1'100 + 300);  // b1, b3
  EXPECT_EQ(mk1["selections"][1]["liability"], 2'050);        // b2
  EXPECT_EQ(mk1["selections"][2]["liability"], 825 + 837);    // b4, b5
  json mk2 = market(n, "m2");
  EXPECT_EQ(mk2["selections"][0]["liability"], 2'050 + 200);  // b2, b6
  EXPECT_EQ(mk2["selections"][1]["liability"], 837);          // b5

  // Reading a bet: the punter names its account; admin and trader need not.
  Reply got = n.get("/v1/bets/b1?account_id=pat", n.punter("pat"));
  ASSERT_STATUS(got, 200);
  EXPECT_EQ(got["bet_id"], "b1");
  EXPECT_EQ(got["status"], "open");
  EXPECT_EQ(got["stake"], 1'000);
  EXPECT_EQ(got["odds"], "2.1");
  EXPECT_EQ(got["potential_payout"], 2'100);
  EXPECT_EQ(got["placed_at"], b1["placed_at"]);
  EXPECT_EQ(got["index"], b1["index"]);
  EXPECT_STATUS(n.get("/v1/bets/b1", n.admin()), 200);
  EXPECT_STATUS(n.get("/v1/bets/b1?account_id=pat", n.trader()), 200);

  // Suspend and resume (feed), then close (trader).
  Reply susp = n.post("/v1/markets/m2/suspend", json{{"reason", "goal check"}}, n.feed());
  ASSERT_STATUS(susp, 200);
  EXPECT_EQ(susp["status"], "suspended");
  EXPECT_EQ(market(n, "m2")["status"], "suspended");
  Reply resumed = n.post_raw("/v1/markets/m2/resume", "", n.feed());  // {reason?}: no body at all
  ASSERT_STATUS(resumed, 200);
  EXPECT_EQ(resumed["status"], "open");
  Reply closed = n.post("/v1/markets/m1/close", json::object(), n.trader());
  ASSERT_STATUS(closed, 200);
  EXPECT_EQ(closed["status"], "closed");

  // Settle m1: home wins, draw loses, away is void.
  Reply s1 =
      n.post("/v1/markets/m1/settle",
             results_body({{"home", "win"}, {"draw", "lose"}, {"away", "void"}}), n.trader());
  ASSERT_STATUS(s1, 200);
  EXPECT_EQ(s1["settled_bets"], 3);  // b1, b3, b4; the multiples wait for m2
  EXPECT_TRUE(s1["index"].is_number_unsigned()) << s1.body;
  a = account(n, "pat");
  EXPECT_EQ(a["balance"], 7'500 + 2'100 + 500 + 300);
  EXPECT_EQ(a["in_play"], 500 + 100 + 400);
  mk1 = market(n, "m1");
  EXPECT_EQ(mk1["status"], "settled");
  EXPECT_EQ(mk1["selections"][0]["result"], "win");
  EXPECT_EQ(mk1["selections"][1]["result"], "lose");
  EXPECT_EQ(mk1["selections"][2]["result"], "void");
  EXPECT_EQ(mk1["selections"][0]["liability"], 0);
  EXPECT_EQ(mk1["selections"][1]["liability"], 2'050);  // b2 is still open
  EXPECT_EQ(mk1["selections"][2]["liability"], 837);    // b5 is still open
  Reply won = n.get("/v1/bets/b1?account_id=pat", n.punter("pat"));
  EXPECT_EQ(won["status"], "won");
  EXPECT_EQ(won["payout"], 2'100);
  EXPECT_EQ(won["legs"][0]["result"], "win");
  Reply voided = n.get("/v1/bets/b4", n.admin());
  EXPECT_EQ(voided["status"], "void");
  EXPECT_EQ(voided["payout"], 300);
  EXPECT_EQ(n.get("/v1/bets/b2", n.admin())["status"], "open");  // a leg lost, but m2 is pending

  // Settle m2: yes wins. b2 lost (draw), b5 lost (no), b6 won.
  Reply s2 =
      n.post("/v1/markets/m2/settle", results_body({{"yes", "win"}, {"no", "lose"}}), n.trader());
  ASSERT_STATUS(s2, 200);
  EXPECT_EQ(s2["settled_bets"], 3);
  a = account(n, "pat");
  EXPECT_EQ(a["balance"], 11'000);
  EXPECT_EQ(a["in_play"], 0);
  EXPECT_EQ(n.get("/v1/bets/b2", n.admin())["status"], "lost");
  EXPECT_EQ(n.get("/v1/bets/b5", n.admin())["status"], "lost");
  EXPECT_EQ(n.get("/v1/bets/b6", n.admin())["payout"], 600);
  // Bind each market first: a range-for over a member of a temporary would
  // read it after it is destroyed.
  for (const char* id : {"m1", "m2"}) {
    const json m = market(n, id);
    for (const auto& sel : m["selections"]) EXPECT_EQ(sel["liability"], 0) << id << " " << sel;
  }

  // Resettle m2 the other way: b6 gives back its 600; b5 (void x 2.5) wins 250.
  Reply rs =
      n.post("/v1/markets/m2/resettle", results_body({{"yes", "lose"}, {"no", "win"}}), n.trader());
  ASSERT_STATUS(rs, 200);
  EXPECT_EQ(rs["settled_bets"], 3);
  EXPECT_GT(rs["index"].get<uint64_t>(), s2["index"].get<uint64_t>());
  a = account(n, "pat");
  EXPECT_EQ(a["balance"], 11'000 - 600 + 250);
  EXPECT_EQ(a["in_play"], 0);
  Reply b5_after = n.get("/v1/bets/b5?account_id=pat", n.punter("pat"));
  EXPECT_EQ(b5_after["status"], "won");
  EXPECT_EQ(b5_after["payout"], 250);
  EXPECT_EQ(b5_after["legs"][0]["result"], "void");
  EXPECT_EQ(b5_after["legs"][1]["result"], "win");
  EXPECT_EQ(n.get("/v1/bets/b6", n.admin())["status"], "lost");
  EXPECT_EQ(n.get("/v1/bets/b6", n.admin())["payout"], 0);
  EXPECT_EQ(n.get("/v1/bets/b2", n.admin())["status"], "lost");
  EXPECT_EQ(market(n, "m2")["selections"][1]["result"], "win");

  Reply ledger = n.get("/v1/ledger/balance", n.admin());
  ASSERT_STATUS(ledger, 200);
  EXPECT_EQ(ledger["total"], 0);
  EXPECT_EQ(ledger["balanced"], true);
}

// A resettlement takes back winnings the punter has already moved out of its
// balance: the balance never goes negative (the invariant every test
// shares); the rest is a debt that later credits repay first.
TEST_F(ApiHappyPath, ResettleAfterAWithdrawalLeavesADebtThatDepositsRepay) {
  ApiNode& n = node();
  create_account(n, "debtor");
  deposit(n, "debtor-dep-1", "debtor", 1'000);
  create_event(n, "debt-ev");
  create_market(n, "debt-m", "debt-ev", {{"a", "2"}, {"b", "2"}});
  place_bet(n, "debt-b", "debtor", 1'000, {{"debt-m", "a", "2"}});
  ASSERT_STATUS(
      n.post("/v1/markets/debt-m/settle", results_body({{"a", "win"}, {"b", "lose"}}), n.trader()),
      200);
  EXPECT_EQ(account(n, "debtor")["balance"], 2'000);
  ASSERT_STATUS(n.post("/v1/withdrawals", withdrawal_body("debt-w", "debtor", 2'000), n.admin()),
                201);
  ASSERT_STATUS(n.post("/v1/markets/debt-m/resettle", results_body({{"a", "lose"}, {"b", "win"}}),
                       n.trader()),
                200);
  json a = account(n, "debtor");
  EXPECT_EQ(a["balance"], 0);
  EXPECT_EQ(a["pending_withdrawals"], 2'000);
  EXPECT_EQ(a["debt"], 2'000);
  EXPECT_EQ(n.get("/v1/bets/debt-b", n.admin())["status"], "lost");
  Reply ledger = n.get("/v1/ledger/balance", n.admin());
  EXPECT_EQ(ledger["total"], 0);
  EXPECT_EQ(ledger["balanced"], true);

  Reply d = deposit(n, "debtor-dep-2", "debtor", 500);
  EXPECT_EQ(d["balance"], 0);
  EXPECT_EQ(account(n, "debtor")["debt"], 1'500);
  // Money owed is not money to bet with.
  create_market(n, "debt-m2", "debt-ev", {{"a", "2"}});
  EXPECT_ERROR(
      n.post("/v1/bets", bet_body("debt-b2", "debtor", 1, {{"debt-m2", "a", "2"}}), n.trader()),
      422, "insufficient_funds");
  d = deposit(n, "debtor-dep-3", "debtor", 2'000);
  EXPECT_EQ(d["balance"], 500);
  a = account(n, "debtor");
  EXPECT_EQ(a["balance"], 500);
  EXPECT_EQ(a["debt"], 0);
  ledger = n.get("/v1/ledger/balance", n.admin());
  EXPECT_EQ(ledger["total"], 0);
  EXPECT_EQ(ledger["balanced"], true);
}

TEST_F(ApiHappyPath, WithdrawalsMoveMoneyThroughPending) {
  ApiNode& n = node();
  create_account(n, "wanda");
  deposit(n, "wanda-dep", "wanda", 5'000);

  Reply w1 =
      n.post("/v1/withdrawals", withdrawal_body("wanda-w1", "wanda", 1'500), n.punter("wanda"));
  ASSERT_STATUS(w1, 201);
  EXPECT_EQ(w1["withdrawal_id"], "wanda-w1");
  EXPECT_EQ(w1["account_id"], "wanda");
  EXPECT_EQ(w1["amount"], 1'500);
  EXPECT_EQ(w1["status"], "pending");
  EXPECT_TRUE(w1["index"].is_number_unsigned()) << w1.body;
  json a = account(n, "wanda");
  EXPECT_EQ(a["balance"], 3'500);
  EXPECT_EQ(a["pending_withdrawals"], 1'500);

  Reply done =
      n.post("/v1/withdrawals/wanda-w1/complete", json{{"gateway_ref", "gw-77"}}, n.payments());
  ASSERT_STATUS(done, 200);
  EXPECT_EQ(done["status"], "completed");
  EXPECT_EQ(done["gateway_ref"], "gw-77");
  a = account(n, "wanda");
  EXPECT_EQ(a["balance"], 3'500);
  EXPECT_EQ(a["pending_withdrawals"], 0);

  // Admin may request for any account; a failed withdrawal returns the money.
  Reply w2 = n.post("/v1/withdrawals", withdrawal_body("wanda-w2", "wanda", 1'000), n.admin());
  ASSERT_STATUS(w2, 201);
  a = account(n, "wanda");
  EXPECT_EQ(a["balance"], 2'500);
  EXPECT_EQ(a["pending_withdrawals"], 1'000);
  Reply failed =
      n.post("/v1/withdrawals/wanda-w2/fail", json{{"reason", "card declined"}}, n.payments());
  ASSERT_STATUS(failed, 200);
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_EQ(failed["reason"], "card declined");
  a = account(n, "wanda");
  EXPECT_EQ(a["balance"], 3'500);
  EXPECT_EQ(a["pending_withdrawals"], 0);

  Reply got1 = n.get("/v1/withdrawals/wanda-w1", n.punter("wanda"));
  ASSERT_STATUS(got1, 200);
  EXPECT_EQ(got1["status"], "completed");
  EXPECT_EQ(got1["amount"], 1'500);
  Reply got2 = n.get("/v1/withdrawals/wanda-w2", n.payments());
  ASSERT_STATUS(got2, 200);
  EXPECT_EQ(got2["status"], "failed");
  EXPECT_STATUS(n.get("/v1/withdrawals/wanda-w2", n.admin()), 200);

  // The whole balance can go.
  ASSERT_STATUS(
      n.post("/v1/withdrawals", withdrawal_body("wanda-w3", "wanda", 3'500), n.punter("wanda")),
      201);
  a = account(n, "wanda");
  EXPECT_EQ(a["balance"], 0);
  EXPECT_EQ(a["pending_withdrawals"], 3'500);

  Reply ledger = n.get("/v1/ledger/balance", n.admin());
  EXPECT_EQ(ledger["total"], 0);
  EXPECT_EQ(ledger["balanced"], true);
}

TEST_F(ApiHappyPath, SelfExclusionStopsBetsAndDepositsButNotWithdrawals) {
  ApiNode& n = node();
  create_account(n, "sam");
  deposit(n, "sam-dep", "sam", 1'000);
  create_event(n, "sam-ev");
  create_market(n, "sam-m", "sam-ev", {{"a", "2"}, {"b", "2"}});

  Reply ex = n.post("/v1/accounts/sam/self-exclusion", json{{"until", "2099-01-01T00:00:00Z"}},
                    n.punter("sam"));
  ASSERT_STATUS(ex, 200);
  EXPECT_EQ(ex["account_id"], "sam");
  EXPECT_EQ(ex["status"], "self_excluded");
  EXPECT_EQ(ex["balance"], 1'000);
  EXPECT_EQ(ex["self_excluded_until"].get<std::string>().substr(0, 19), "2099-01-01T00:00:00")
      << ex.body;
  EXPECT_EQ(account(n, "sam")["status"], "self_excluded");

  EXPECT_ERROR(
      n.post("/v1/bets", bet_body("sam-b1", "sam", 100, {{"sam-m", "a", "2"}}), n.punter("sam")),
      422, "account_not_active");
  EXPECT_ERROR(n.post("/v1/deposits", deposit_body("sam-dep-2", "sam", 100), n.payments()), 422,
               "account_not_active");
  // It can be extended, never shortened (an admin may set it too).
  Reply shorter =
      n.post("/v1/accounts/sam/self-exclusion", json{{"until", "2098-01-01T00:00:00Z"}}, n.admin());
  ASSERT_STATUS(shorter, 200);
  EXPECT_EQ(shorter["self_excluded_until"].get<std::string>().substr(0, 19), "2099-01-01T00:00:00");
  // The punter can still take its money out.
  EXPECT_STATUS(n.post("/v1/withdrawals", withdrawal_body("sam-w", "sam", 1'000), n.punter("sam")),
                201);
  json a = account(n, "sam");
  EXPECT_EQ(a["balance"], 0);
  EXPECT_EQ(a["pending_withdrawals"], 1'000);
}

TEST_F(ApiHappyPath, AccountBetsArePagedNewestFirst) {
  ApiNode& n = node();
  create_account(n, "pager");
  deposit(n, "pager-dep", "pager", 1'000);
  create_event(n, "pager-ev");
  create_market(n, "pager-m", "pager-ev", {{"a", "2"}, {"b", "3"}});
  for (int i = 1; i <= 5; ++i) {
    place_bet(n, "pg-" + std::to_string(i), "pager", 10 * i,
              {{"pager-m", i % 2 == 1 ? "a" : "b", i % 2 == 1 ? "2" : "3"}});
  }
  auto ids = [](const Reply& r) {
    std::vector<std::string> out;
    for (const auto& b : r["bets"]) out.push_back(b["bet_id"].get<std::string>());
    return out;
  };
  using V = std::vector<std::string>;
  const std::string& t = n.punter("pager");

  Reply all = n.get("/v1/accounts/pager/bets", t);
  ASSERT_STATUS(all, 200);
  EXPECT_EQ(ids(all), (V{"pg-5", "pg-4", "pg-3", "pg-2", "pg-1"}));
  EXPECT_TRUE(all["next_after"].is_null()) << all.body;
  EXPECT_EQ(all["bets"][0]["stake"], 50);
  EXPECT_EQ(all["bets"][0]["status"], "open");

  Reply p1 = n.get("/v1/accounts/pager/bets?limit=2", t);
  ASSERT_STATUS(p1, 200);
  EXPECT_EQ(ids(p1), (V{"pg-5", "pg-4"}));
  EXPECT_EQ(p1["next_after"], "pg-4");
  Reply p2 = n.get("/v1/accounts/pager/bets?limit=2&after=pg-4", t);
  EXPECT_EQ(ids(p2), (V{"pg-3", "pg-2"}));
  EXPECT_EQ(p2["next_after"], "pg-2");
  Reply p3 = n.get("/v1/accounts/pager/bets?limit=2&after=pg-2", t);
  EXPECT_EQ(ids(p3), (V{"pg-1"}));
  EXPECT_TRUE(p3["next_after"].is_null()) << p3.body;
  Reply exact = n.get("/v1/accounts/pager/bets?limit=5", t);
  EXPECT_EQ(ids(exact).size(), 5u);
  EXPECT_TRUE(exact["next_after"].is_null()) << exact.body;

  EXPECT_EQ(ids(n.get("/v1/accounts/pager/bets?status=open", n.admin())).size(), 5u);
  EXPECT_STATUS(n.get("/v1/accounts/pager/bets", n.trader()), 200);

  ASSERT_STATUS(
      n.post("/v1/markets/pager-m/settle", results_body({{"a", "win"}, {"b", "lose"}}), n.trader()),
      200);
  EXPECT_EQ(ids(n.get("/v1/accounts/pager/bets?status=won", t)), (V{"pg-5", "pg-3", "pg-1"}));
  EXPECT_EQ(ids(n.get("/v1/accounts/pager/bets?status=lost", t)), (V{"pg-4", "pg-2"}));
  EXPECT_EQ(ids(n.get("/v1/accounts/pager/bets?status=settled", t)).size(), 5u);
  Reply none = n.get("/v1/accounts/pager/bets?status=open", t);
  EXPECT_EQ(ids(none), V{});
  EXPECT_TRUE(none["next_after"].is_null()) << none.body;
  Reply won1 = n.get("/v1/accounts/pager/bets?status=won&limit=2", t);
  EXPECT_EQ(ids(won1), (V{"pg-5", "pg-3"}));
  EXPECT_EQ(won1["next_after"], "pg-3");
  EXPECT_EQ(ids(n.get("/v1/accounts/pager/bets?status=won&limit=2&after=pg-3", t)), (V{"pg-1"}));
  // 1000 - (10+20+30+40+50) + 2x10 + 2x30 + 2x50
  EXPECT_EQ(account(n, "pager")["balance"], 1'000 - 150 + 20 + 60 + 100);
}

TEST_F(ApiHappyPath, OperationsRoutesAnswer) {
  ApiNode& n = node();
  Reply live = n.get("/health/live", "");
  ASSERT_STATUS(live, 200);
  EXPECT_EQ(live["status"], "live");
  Reply ready = n.get("/health/ready", "");
  ASSERT_STATUS(ready, 200);
  EXPECT_EQ(ready["status"], "ready");

  Reply cluster = n.get("/v1/cluster", n.admin());
  ASSERT_STATUS(cluster, 200);
  const json& c = cluster.json_body;
  EXPECT_TRUE(c["node_id"].is_string() && !c["node_id"].get<std::string>().empty()) << cluster.body;
  EXPECT_TRUE(c["applied_index"].is_number_unsigned()) << cluster.body;
  EXPECT_TRUE(c["log_head"].is_number_unsigned()) << cluster.body;
  EXPECT_TRUE(c["state_digest"].is_string()) << cluster.body;
  EXPECT_TRUE(c["checkpoint"].is_number_unsigned()) << cluster.body;
  ASSERT_TRUE(c["nodes"].is_array() && c["nodes"].size() == 1) << cluster.body;
  const json& me = c["nodes"][0];
  EXPECT_EQ(me["id"], c["node_id"]);
  EXPECT_EQ(me["address"], "127.0.0.1:" + std::to_string(n.port()));
  EXPECT_EQ(me["applied_index"], c["applied_index"]);
  EXPECT_EQ(me["state_digest"], c["state_digest"]);
  EXPECT_EQ(me["checkpoint"], c["checkpoint"]);
  EXPECT_EQ(me["ready"], true);
  ASSERT_TRUE(c["log"].is_object()) << cluster.body;
  EXPECT_TRUE(c["log"]["backend"].is_string()) << cluster.body;
  EXPECT_TRUE(c["log"]["members"].is_array()) << cluster.body;
  EXPECT_GE(c["log_head"].get<uint64_t>(), c["applied_index"].get<uint64_t>());

  Reply alerts = n.get("/v1/alerts", n.admin());
  ASSERT_STATUS(alerts, 200);
  EXPECT_TRUE(alerts["alerts"].is_array()) << alerts.body;
  Reply dashboard = n.get("/", "");
  EXPECT_STATUS(dashboard, 200);
}

TEST_F(ApiHappyPath, MetricsCountRequestsAndCommits) {
  ApiNode& n = node();
  Reply before = n.get("/metrics", "");
  ASSERT_STATUS(before, 200);
  EXPECT_NE(before.header("content-type").find("text/plain"), std::string::npos);

  create_account(n, "metrics-acct");
  deposit(n, "metrics-dep", "metrics-acct", 100);
  EXPECT_ERROR(n.post_raw("/v1/deposits", "{", n.payments()), 400, "invalid_request");

  // The node answers a write once it is applied; the submitter records the
  // append's metrics when append() returns, which may be a moment later.
  // So: poll until the counts arrive (and then check they are exact).
  Reply after;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    after = n.get("/metrics", "");
    ASSERT_STATUS(after, 200);
    auto grew = [&](const char* series, double by) {
      return metric(after.body, series).value_or(0) - metric(before.body, series).value_or(0) >= by;
    };
    if ((grew("betcore_commands_applied_total", 2) && grew("betcore_batch_commands_count", 2) &&
         grew("betcore_log_append_seconds_count", 2)) ||
        std::chrono::steady_clock::now() > deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string& text = after.body;
  for (const char* family :
       {"betcore_api_requests_total", "betcore_api_request_seconds",
        "betcore_commands_applied_total", "betcore_batch_commands", "betcore_log_append_seconds"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }
  EXPECT_NE(text.find("# TYPE betcore_api_request_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("# TYPE betcore_batch_commands histogram"), std::string::npos);
  EXPECT_NE(text.find("# TYPE betcore_log_append_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("# TYPE betcore_commands_applied_total counter"), std::string::npos);

  auto delta = [&](const std::string& series) {
    std::optional<double> a = metric(before.body, series);
    std::optional<double> b = metric(after.body, series);
    EXPECT_TRUE(b.has_value()) << "no sample " << series;
    return b.value_or(0) - a.value_or(0);
  };
  EXPECT_EQ(delta(R"(betcore_api_requests_total{code="201",route="deposit"})"), 1);
  EXPECT_EQ(delta(R"(betcore_api_requests_total{code="400",route="deposit"})"), 1);
  EXPECT_EQ(delta(R"(betcore_api_requests_total{code="201",route="create_account"})"), 1);
  EXPECT_EQ(delta(R"(betcore_api_request_seconds_count{route="deposit"})"), 2);
  EXPECT_EQ(delta(R"(betcore_api_request_seconds_bucket{route="deposit",le="+Inf"})"), 2);
  // Two writes committed, one batch each (this test's client waits for each answer).
  EXPECT_EQ(delta("betcore_commands_applied_total"), 2);
  EXPECT_EQ(delta("betcore_batch_commands_count"), 2);
  EXPECT_EQ(delta("betcore_batch_commands_sum"), 2);
  EXPECT_EQ(delta("betcore_log_append_seconds_count"), 2);

  // The process series every Prometheus client exposes, with sane values.
  EXPECT_GT(metric(text, "process_cpu_seconds_total").value_or(-1), 0);
  EXPECT_GT(metric(text, "process_resident_memory_bytes").value_or(-1), 1 << 20);
  EXPECT_GE(metric(text, "process_virtual_memory_bytes").value_or(-1),
            metric(text, "process_resident_memory_bytes").value_or(0));
  EXPECT_GT(metric(text, "process_open_fds").value_or(-1), 3);  // the log, a socket, ...
  EXPECT_GE(metric(text, "process_max_fds").value_or(-1), metric(text, "process_open_fds").value_or(0));
  const double started = metric(text, "process_start_time_seconds").value_or(-1);
  const double now_s = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  EXPECT_GT(started, now_s - 600) << "the node started within this test run";
  EXPECT_LE(started, now_s + 1);
}

}  // namespace
}  // namespace betcore::apitest
