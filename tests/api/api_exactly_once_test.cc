// Exactly once (API.md, Errors): a write retried with the same id and the
// same body answers the first answer again and changes nothing; the same id
// with a different body is 409 conflict and changes nothing either.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "api_node.h"
#include "api_world.h"
#include "node_suite.h"

namespace betcore::apitest {
namespace {

class ApiExactlyOnce : public NodeSuite<ApiExactlyOnce> {
 public:
  static NodeConfig config() { return {{"eve"}, {}}; }
  static void build_world(ApiNode& n) {
    create_account(n, "eve");
    deposit(n, "eve-dep", "eve", 10'000);
    create_account(n, "frank");
    deposit(n, "frank-dep", "frank", 10'000);
    create_event(n, "eo-ev");
    create_market(n, "eo-m", "eo-ev", {{"a", "2"}, {"b", "1.8"}});
  }

 protected:
  static Visible everything() { return {{"eve", "frank"}, {"eo-m"}, {}, {}}; }
};

// Sends `body` to `target` twice more after `first`: same answer, no change.
void expect_replayed(ApiNode& n, const std::string& target, const json& body,
                     const std::string& token, const Reply& first, const Visible& visible) {
  json before = snapshot(n, visible);
  for (int i = 0; i < 2; ++i) {
    Reply again = n.post(target, body, token);
    EXPECT_EQ(again.status, first.status) << target << " " << again.describe();
    EXPECT_EQ(again.json_body, first.json_body)
        << target << "\nfirst: " << first.body << "\nagain: " << again.body;
  }
  EXPECT_EQ(snapshot(n, visible), before) << "a retry of " << target << " changed something";
}

TEST_F(ApiExactlyOnce, AccountCreatedOnce) {
  ApiNode& n = node();
  const json body = account_body("eo-acct", "EUR", 5'000);
  Reply first = n.post("/v1/accounts", body, n.admin());
  ASSERT_STATUS(first, 201);
  Visible v{{"eo-acct"}, {}, {}, {}};
  expect_replayed(n, "/v1/accounts", body, n.admin(), first, v);

  json before = snapshot(n, v);
  EXPECT_ERROR(n.post("/v1/accounts", account_body("eo-acct", "USD", 5'000), n.admin()), 409,
               "conflict");
  EXPECT_ERROR(n.post("/v1/accounts", account_body("eo-acct", "EUR"), n.admin()), 409, "conflict");
  EXPECT_ERROR(n.post("/v1/accounts", account_body("eo-acct", "EUR", 5'001), n.admin()), 409,
               "conflict");
  EXPECT_EQ(snapshot(n, v), before);
  EXPECT_EQ(account(n, "eo-acct")["currency"], "EUR");
}

TEST_F(ApiExactlyOnce, DepositCreditsOnce) {
  ApiNode& n = node();
  const json body = deposit_body("eo-pay-1", "eve", 700);
  Reply first = n.post("/v1/deposits", body, n.payments());
  ASSERT_STATUS(first, 201);
  EXPECT_EQ(first["balance"], 10'700);
  expect_replayed(n, "/v1/deposits", body, n.payments(), first, everything());
  EXPECT_EQ(account(n, "eve")["balance"], 10'700);

  // After another deposit, the retry still answers the first answer's balance.
  deposit(n, "eo-pay-2", "eve", 300);
  Reply late = n.post("/v1/deposits", body, n.payments());
  ASSERT_STATUS(late, 201);
  EXPECT_EQ(late["balance"], 10'700);
  EXPECT_EQ(late["index"], first["index"]);
  EXPECT_EQ(account(n, "eve")["balance"], 11'000);

  json before = snapshot(n, everything());
  EXPECT_ERROR(n.post("/v1/deposits", deposit_body("eo-pay-1", "eve", 701), n.payments()), 409,
               "conflict");
  EXPECT_ERROR(n.post("/v1/deposits", deposit_body("eo-pay-1", "frank", 700), n.payments()), 409,
               "conflict");
  EXPECT_EQ(snapshot(n, everything()), before);
}

TEST_F(ApiExactlyOnce, BetPlacedOnce) {
  ApiNode& n = node();
  const json body = bet_body("eo-bet-1", "eve", 1'000, {{"eo-m", "a", "2"}});
  Reply first = n.post("/v1/bets", body, n.punter("eve"));
  ASSERT_STATUS(first, 201);
  const int64_t balance = account(n, "eve")["balance"].get<int64_t>();
  Visible v = everything();
  v.bets = {"eo-bet-1"};
  expect_replayed(n, "/v1/bets", body, n.punter("eve"), first, v);
  // The trader's retry of the same bet is the same bet.
  Reply by_trader = n.post("/v1/bets", body, n.trader());
  EXPECT_EQ(by_trader.json_body, first.json_body) << by_trader.body;
  EXPECT_EQ(account(n, "eve")["balance"], balance);

  // A retry still answers after the price moved and the market was suspended.
  ASSERT_STATUS(n.post("/v1/markets/eo-m/prices",
                       json{{"prices", {{{"selection_id", "a"}, {"odds", "2.2"}}}}}, n.trader()),
                200);
  ASSERT_STATUS(n.post("/v1/markets/eo-m/suspend", json::object(), n.trader()), 200);
  Reply late = n.post("/v1/bets", body, n.punter("eve"));
  EXPECT_STATUS(late, 201);
  EXPECT_EQ(late.json_body, first.json_body) << late.body;
  ASSERT_STATUS(n.post("/v1/markets/eo-m/resume", json::object(), n.trader()), 200);
  ASSERT_STATUS(n.post("/v1/markets/eo-m/prices",
                       json{{"prices", {{{"selection_id", "a"}, {"odds", "2"}}}}}, n.trader()),
                200);

  json before = snapshot(n, v);
  EXPECT_ERROR(
      n.post("/v1/bets", bet_body("eo-bet-1", "eve", 1'001, {{"eo-m", "a", "2"}}), n.punter("eve")),
      409, "conflict");
  EXPECT_ERROR(n.post("/v1/bets", bet_body("eo-bet-1", "eve", 1'000, {{"eo-m", "b", "1.8"}}),
                      n.punter("eve")),
               409, "conflict");
  EXPECT_ERROR(n.post("/v1/bets", bet_body("eo-bet-1", "eve", 1'000, {{"eo-m", "a", "2"}}, true),
                      n.punter("eve")),
               409, "conflict");
  EXPECT_ERROR(
      n.post("/v1/bets", bet_body("eo-bet-1", "frank", 1'000, {{"eo-m", "a", "2"}}), n.trader()),
      409, "conflict");
  EXPECT_EQ(snapshot(n, v), before);
}

// The same bet from 16 connections at once (a client retrying hard, or
// several nodes' retries landing in one batch): one bet, one answer.
TEST_F(ApiExactlyOnce, ConcurrentRetriesPlaceOneBet) {
  ApiNode& n = node();
  create_account(n, "racer");
  deposit(n, "racer-dep", "racer", 1'000);
  const json body = bet_body("eo-race", "racer", 250, {{"eo-m", "b", "1.8"}});
  constexpr int kThreads = 16;
  std::vector<Reply> replies(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      tools::HttpClient c = n.client();
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      replies[t] = to_reply(c.request("POST", "/v1/bets", body.dump(), n.trader()));
    });
  }
  for (auto& th : threads) th.join();
  for (const Reply& r : replies) {
    ASSERT_STATUS(r, 201);
    EXPECT_EQ(r.json_body, replies[0].json_body);
  }
  json a = account(n, "racer");
  EXPECT_EQ(a["balance"], 750);
  EXPECT_EQ(a["in_play"], 250);
  Reply page = n.get("/v1/accounts/racer/bets", n.admin());
  ASSERT_EQ(page["bets"].size(), 1u) << page.body;
  EXPECT_EQ(page["bets"][0]["bet_id"], "eo-race");
}

TEST_F(ApiExactlyOnce, WithdrawalRequestedCompletedAndFailedOnce) {
  ApiNode& n = node();
  const json body = withdrawal_body("eo-wd-1", "frank", 400);
  Reply first = n.post("/v1/withdrawals", body, n.admin());
  ASSERT_STATUS(first, 201);
  Visible v = everything();
  v.withdrawals = {"eo-wd-1"};
  expect_replayed(n, "/v1/withdrawals", body, n.admin(), first, v);
  json a = account(n, "frank");
  EXPECT_EQ(a["balance"], 9'600);
  EXPECT_EQ(a["pending_withdrawals"], 400);

  json before = snapshot(n, v);
  EXPECT_ERROR(n.post("/v1/withdrawals", withdrawal_body("eo-wd-1", "frank", 401), n.admin()), 409,
               "conflict");
  EXPECT_ERROR(n.post("/v1/withdrawals", withdrawal_body("eo-wd-1", "eve", 400), n.admin()), 409,
               "conflict");
  EXPECT_EQ(snapshot(n, v), before);

  const json done = {{"gateway_ref", "gw-1"}};
  Reply completed = n.post("/v1/withdrawals/eo-wd-1/complete", done, n.payments());
  ASSERT_STATUS(completed, 200);
  EXPECT_EQ(completed["status"], "completed");
  expect_replayed(n, "/v1/withdrawals/eo-wd-1/complete", done, n.payments(), completed, v);
  // Completed with another gateway ref, or failed after completing: conflict.
  before = snapshot(n, v);
  EXPECT_ERROR(
      n.post("/v1/withdrawals/eo-wd-1/complete", json{{"gateway_ref", "gw-2"}}, n.payments()), 409,
      "conflict");
  EXPECT_ERROR(n.post("/v1/withdrawals/eo-wd-1/fail", json{{"reason", "late"}}, n.payments()), 409,
               "conflict");
  EXPECT_EQ(snapshot(n, v), before);
  EXPECT_EQ(account(n, "frank")["pending_withdrawals"], 0);

  ASSERT_STATUS(n.post("/v1/withdrawals", withdrawal_body("eo-wd-2", "frank", 100), n.admin()),
                201);
  const json why = {{"reason", "declined"}};
  Reply failed = n.post("/v1/withdrawals/eo-wd-2/fail", why, n.payments());
  ASSERT_STATUS(failed, 200);
  v.withdrawals.push_back("eo-wd-2");
  expect_replayed(n, "/v1/withdrawals/eo-wd-2/fail", why, n.payments(), failed, v);
  before = snapshot(n, v);
  EXPECT_ERROR(n.post("/v1/withdrawals/eo-wd-2/complete", done, n.payments()), 409, "conflict");
  EXPECT_ERROR(n.post("/v1/withdrawals/eo-wd-2/fail", json{{"reason", "other"}}, n.payments()), 409,
               "conflict");
  EXPECT_EQ(snapshot(n, v), before);
  EXPECT_EQ(account(n, "frank")["balance"], 9'600);
}

TEST_F(ApiExactlyOnce, EventMarketAndSettlementOnce) {
  ApiNode& n = node();
  const json ev = event_body("eo-ev-2");
  Reply ev_first = n.post("/v1/events", ev, n.trader());
  ASSERT_STATUS(ev_first, 201);
  expect_replayed(n, "/v1/events", ev, n.trader(), ev_first, everything());
  json ev_other = ev;
  ev_other["name"] = "another name";
  EXPECT_ERROR(n.post("/v1/events", ev_other, n.trader()), 409, "conflict");

  const json mk = market_body("eo-m2", "eo-ev-2", {{"x", "1.9"}, {"y", "1.9"}});
  Reply mk_first = n.post("/v1/markets", mk, n.trader());
  ASSERT_STATUS(mk_first, 201);
  Visible v = everything();
  v.markets.push_back("eo-m2");
  expect_replayed(n, "/v1/markets", mk, n.trader(), mk_first, v);
  json before = snapshot(n, v);
  EXPECT_ERROR(n.post("/v1/markets", market_body("eo-m2", "eo-ev-2", {{"x", "1.9"}, {"y", "2"}}),
                      n.trader()),
               409, "conflict");
  EXPECT_ERROR(
      n.post("/v1/markets",
             market_body("eo-m2", "eo-ev-2", {{"x", "1.9"}, {"y", "1.9"}}, {{"max_stake", 10}}),
             n.trader()),
      409, "conflict");
  EXPECT_EQ(snapshot(n, v), before);

  place_bet(n, "eo-bet-x", "frank", 100, {{"eo-m2", "x", "1.9"}});
  v.bets = {"eo-bet-x"};
  const json results = results_body({{"x", "win"}, {"y", "lose"}});
  Reply settled = n.post("/v1/markets/eo-m2/settle", results, n.trader());
  ASSERT_STATUS(settled, 200);
  EXPECT_EQ(settled["settled_bets"], 1);
  const int64_t balance = account(n, "frank")["balance"].get<int64_t>();
  expect_replayed(n, "/v1/markets/eo-m2/settle", results, n.trader(), settled, v);
  EXPECT_EQ(account(n, "frank")["balance"], balance);

  // Settling again with other results is a conflict: that is what resettle is for.
  before = snapshot(n, v);
  EXPECT_ERROR(
      n.post("/v1/markets/eo-m2/settle", results_body({{"x", "lose"}, {"y", "win"}}), n.trader()),
      409, "conflict");
  EXPECT_EQ(snapshot(n, v), before);

  const json re = results_body({{"x", "void"}, {"y", "lose"}});
  Reply resettled = n.post("/v1/markets/eo-m2/resettle", re, n.trader());
  ASSERT_STATUS(resettled, 200);
  EXPECT_EQ(account(n, "frank")["balance"], balance - 190 + 100);
  expect_replayed(n, "/v1/markets/eo-m2/resettle", re, n.trader(), resettled, v);
  EXPECT_EQ(account(n, "frank")["balance"], balance - 190 + 100);
}

// Trader requests with a request_id (an extension, docs/api-notes.md): a
// suspend retried after a later resume answers as the first time and does
// not suspend the market again (found by betcore sim).
TEST_F(ApiExactlyOnce, TraderRequestWithARequestIdAppliesOnce) {
  ApiNode& n = node();
  create_market(n, "eo-rq", "eo-ev", {{"a", "2"}, {"b", "1.8"}});
  const json suspend = {{"reason", "goal"}, {"request_id", "rq-1"}};
  Reply first = n.post("/v1/markets/eo-rq/suspend", suspend, n.trader());
  ASSERT_STATUS(first, 200);
  ASSERT_STATUS(n.post("/v1/markets/eo-rq/resume", json{{"request_id", "rq-2"}}, n.trader()), 200);
  Reply late = n.post("/v1/markets/eo-rq/suspend", suspend, n.trader());
  ASSERT_STATUS(late, 200);
  // The answer shows the market as it is now: open, not suspended again.
  EXPECT_EQ(late["status"], "open") << late.body;
  EXPECT_EQ(market(n, "eo-rq")["status"], "open");
  // The same id for another request: 409, nothing changes.
  EXPECT_ERROR(n.post("/v1/markets/eo-rq/close", json{{"request_id", "rq-1"}}, n.trader()), 409, "conflict");
  EXPECT_ERROR(n.post("/v1/markets/eo-rq/suspend", json{{"request_id", "no spaces"}}, n.trader()), 400,
               "invalid_request");
  EXPECT_EQ(market(n, "eo-rq")["status"], "open");
}

}  // namespace
}  // namespace betcore::apitest
