// Reads (API.md, Conventions: linearizable by default, ?stale=true,
// ?min_index=N) and durability: what a node answered is still there after it
// is stopped and started again on the same --data.
#include <gtest/gtest.h>

#include <chrono>

#include "api_node.h"
#include "api_world.h"
#include "node_suite.h"

namespace betcore::apitest {
namespace {

class ApiReads : public NodeSuite<ApiReads> {
 public:
  static NodeConfig config() { return {{"rita"}, {}}; }
  static void build_world(ApiNode& n) {
    create_account(n, "rita");
    const Reply d = deposit(n, "rita-dep", "rita", 4'200);
    if (d["index"].is_number_unsigned()) deposit_index_ = d["index"].get<uint64_t>();
  }

 protected:
  static inline uint64_t deposit_index_ = 0;
};

TEST_F(ApiReads, StaleReadsAnswerTheSame) {
  ApiNode& n = node();
  Reply linear = n.get("/v1/accounts/rita", n.punter("rita"));
  ASSERT_STATUS(linear, 200);
  EXPECT_EQ(linear["balance"], 4'200);
  for (const char* q : {"?stale=true", "?stale=false", "?stale=true&min_index=0"}) {
    Reply r = n.get(std::string("/v1/accounts/rita") + q, n.punter("rita"));
    ASSERT_STATUS(r, 200) << q;
    EXPECT_EQ(r.json_body, linear.json_body) << q;
  }
  EXPECT_STATUS(n.get("/v1/ledger/balance?stale=true", n.admin()), 200);
}

TEST_F(ApiReads, MinIndexAtAKnownIndexAnswers) {
  ApiNode& n = node();
  ASSERT_GT(deposit_index_, 0u);
  for (const std::string& q :
       {"?min_index=" + std::to_string(deposit_index_),
        "?min_index=" + std::to_string(deposit_index_ - 1), std::string("?min_index=0"),
        "?min_index=" + std::to_string(deposit_index_) + "&stale=true"}) {
    auto start = std::chrono::steady_clock::now();
    Reply r = n.get("/v1/accounts/rita" + q, n.admin());
    ASSERT_STATUS(r, 200) << q;
    EXPECT_EQ(r["balance"], 4'200) << q;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << q << " waited";
  }
  // The index a write answers is one a read can ask for at once.
  Reply d = deposit(n, "rita-dep-2", "rita", 100);
  Reply r = n.get("/v1/accounts/rita?min_index=" + std::to_string(d["index"].get<uint64_t>()),
                  n.punter("rita"));
  ASSERT_STATUS(r, 200);
  EXPECT_EQ(r["balance"], 4'300);
}

TEST_F(ApiReads, EveryReadSaysThePositionItReflects) {
  ApiNode& n = node();
  Reply d = deposit(n, "rita-dep-3", "rita", 1);
  ASSERT_STATUS(d, 201);
  const uint64_t written = d["index"].get<uint64_t>();
  for (const std::string path : {"/v1/accounts/rita", "/v1/accounts/rita/bets", "/v1/ledger/balance"}) {
    Reply r = n.get(path, n.admin());
    ASSERT_STATUS(r, 200) << path;
    const std::string index = r.header("x-betcore-index");
    ASSERT_FALSE(index.empty()) << path << " answered no X-Betcore-Index";
    // A linearizable read reflects at least every write answered before it.
    EXPECT_GE(std::stoull(index), written) << path;
  }
  Reply ledger = n.get("/v1/ledger/balance", n.admin());
  EXPECT_EQ(ledger.header("x-betcore-index"), std::to_string(ledger["index"].get<uint64_t>()));
  EXPECT_EQ(n.get("/v1/accounts/nobody", n.admin()).header("x-betcore-index"), "");
}

TEST_F(ApiReads, MinIndexBeyondTheHeadTimesOutWith503) {
  ApiNode& n = node();
  Reply cluster = n.get("/v1/cluster", n.admin());
  ASSERT_STATUS(cluster, 200);
  const uint64_t head = cluster["log_head"].get<uint64_t>();
  const json before = snapshot(n, {{"rita"}, {}, {}, {}});
  // One request: the node waits its read timeout (5 s) for an index it never reaches.
  auto start = std::chrono::steady_clock::now();
  Reply r = n.get("/v1/accounts/rita?min_index=" + std::to_string(head + 1'000'000), n.admin());
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_ERROR(r, 503, "unavailable");
  EXPECT_FALSE(r.header("retry-after").empty()) << r.describe();
  EXPECT_GE(waited, std::chrono::seconds(4));
  EXPECT_LT(waited, std::chrono::seconds(9));
  EXPECT_EQ(snapshot(n, {{"rita"}, {}, {}, {}}), before);
  EXPECT_STATUS(n.get("/health/ready", ""), 200);
}

TEST(ApiDurability, EverythingAnsweredSurvivesARestart) {
  ApiNode n({{"dora"}, {}});
  ASSERT_TRUE(n.start()) << n.why();
  create_account(n, "dora", 1'000'000);
  deposit(n, "dora-dep", "dora", 20'000);
  create_event(n, "du-ev");
  create_market(n, "du-m", "du-ev", {{"a", "2.5"}, {"b", "1.6"}}, {{"max_stake", 9'000}});
  create_market(n, "du-m2", "du-ev", {{"x", "3"}, {"y", "1.4"}});
  const json b1 = bet_body("du-b1", "dora", 1'000, {{"du-m", "a", "2.5"}});
  Reply placed1 = n.post("/v1/bets", b1, n.punter("dora"));
  ASSERT_STATUS(placed1, 201);
  place_bet(n, "du-b2", "dora", 2'000, {{"du-m", "b", "1.6"}, {"du-m2", "x", "3"}});
  ASSERT_STATUS(n.post("/v1/markets/du-m/prices",
                       json{{"prices", {{{"selection_id", "a"}, {"odds", "2.7"}}}}}, n.trader()),
                200);
  ASSERT_STATUS(n.post("/v1/markets/du-m2/suspend", json{{"reason", "var"}}, n.trader()), 200);
  ASSERT_STATUS(
      n.post("/v1/markets/du-m/settle", results_body({{"a", "win"}, {"b", "win"}}), n.trader()),
      200);
  ASSERT_STATUS(n.post("/v1/withdrawals", withdrawal_body("du-w1", "dora", 500), n.punter("dora")),
                201);
  ASSERT_STATUS(n.post("/v1/withdrawals", withdrawal_body("du-w2", "dora", 700), n.punter("dora")),
                201);
  ASSERT_STATUS(
      n.post("/v1/withdrawals/du-w2/complete", json{{"gateway_ref", "gw-9"}}, n.payments()), 200);
  ASSERT_STATUS(n.post("/v1/accounts/dora/self-exclusion", json{{"until", "2099-06-01T12:00:00Z"}},
                       n.punter("dora")),
                200);
  ASSERT_FALSE(::testing::Test::HasFailure());

  // 20000 - 1000 - 2000 + 2500 (b1 won) - 500 - 700
  json a = account(n, "dora");
  EXPECT_EQ(a["balance"], 18'300);
  EXPECT_EQ(a["in_play"], 2'000);
  EXPECT_EQ(a["pending_withdrawals"], 500);
  const Visible v{{"dora"}, {"du-m", "du-m2"}, {"du-b1", "du-b2"}, {"du-w1", "du-w2"}};
  const json before = snapshot(n, v);
  Reply cluster = n.get("/v1/cluster", n.admin());
  const uint64_t applied = cluster["applied_index"].get<uint64_t>();

  test::ExitStatus stopped = n.stop();
  EXPECT_TRUE(stopped.success()) << "SIGTERM should stop the node cleanly: " << stopped.describe()
                                 << "\n"
                                 << n.log();
  ASSERT_TRUE(n.start()) << n.why();

  EXPECT_EQ(snapshot(n, v), before);
  a = account(n, "dora");
  EXPECT_EQ(a["balance"], 18'300);
  EXPECT_EQ(a["status"], "self_excluded");
  EXPECT_EQ(a["deposit_limit_24h"], 1'000'000);
  Reply after = n.get("/v1/cluster", n.admin());
  EXPECT_GE(after["applied_index"].get<uint64_t>(), applied);
  EXPECT_EQ(n.get("/v1/markets/du-m", n.trader())["selections"][0]["odds"], "2.7");
  EXPECT_EQ(n.get("/v1/markets/du-m2", n.trader())["status"], "suspended");

  // Exactly once holds across the restart: the retry is the first answer.
  Reply retried = n.post("/v1/bets", b1, n.punter("dora"));
  EXPECT_STATUS(retried, 201);
  EXPECT_EQ(retried.json_body, placed1.json_body);
  EXPECT_ERROR(n.post("/v1/deposits", deposit_body("dora-dep", "dora", 20'001), n.payments()), 409,
               "conflict");
  EXPECT_EQ(snapshot(n, v), before);

  // And the restarted node takes writes, which survive a second restart.
  ASSERT_STATUS(n.post("/v1/withdrawals/du-w1/fail", json{{"reason", "bounced"}}, n.payments()),
                200);
  ASSERT_STATUS(
      n.post("/v1/markets/du-m2/settle", results_body({{"x", "win"}, {"y", "lose"}}), n.trader()),
      200);
  // b2: 1.6 x 3 = 4.8, 2000 x 4.8 = 9600.
  a = account(n, "dora");
  EXPECT_EQ(a["balance"], 18'300 + 500 + 9'600);
  EXPECT_EQ(a["in_play"], 0);
  EXPECT_EQ(a["pending_withdrawals"], 0);
  const json before2 = snapshot(n, v);
  EXPECT_TRUE(n.stop().success());
  ASSERT_TRUE(n.start()) << n.why();
  EXPECT_EQ(snapshot(n, v), before2);
  Reply ledger = n.get("/v1/ledger/balance", n.admin());
  EXPECT_EQ(ledger["total"], 0);
  EXPECT_EQ(ledger["balanced"], true);

  // Tokens are secrets: the node never logs them, good or bad (API.md, Starting a node).
  const std::string wrong = "wrong-token-" + n.admin();
  EXPECT_ERROR(n.get("/v1/accounts/dora", wrong), 401, "unauthenticated");
  EXPECT_TRUE(n.stop().success());
  const std::string log = n.log();
  EXPECT_FALSE(log.empty());
  for (const std::string& token :
       {n.admin(), n.trader(), n.payments(), n.feed(), n.punter("dora"), wrong}) {
    EXPECT_EQ(log.find(token), std::string::npos) << "the node log holds a token";
  }
}

}  // namespace
}  // namespace betcore::apitest
