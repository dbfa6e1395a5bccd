// The odds feed's routes (docs/api.md, "The odds feed") against a real node:
// a producer's alive, prices in the provider's order, and a market that
// stops taking bets on its own when its producer goes silent.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "api_node.h"
#include "api_world.h"
#include "node_suite.h"

namespace betcore::apitest {
namespace {

class ApiFeed : public NodeSuite<ApiFeed> {
 public:
  static NodeConfig config() { return {{"fay"}, {}}; }
  static void build_world(ApiNode& n) {
    create_account(n, "fay");
    deposit(n, "fay-dep", "fay", 10'000);
    create_event(n, "fe1");
  }
};

// The provider's clock: the node's, in these tests.
int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

json alive(int64_t limit_ms, int64_t source_ts, bool recovered = false) {
  return json{{"limit_ms", limit_ms}, {"source_ts", source_ts}, {"recovered", recovered}};
}

json prices(const std::string& producer, int64_t ts, uint64_t seq, const std::string& sel, const char* odds) {
  return json{{"producer", producer}, {"source_ts", ts}, {"source_seq", seq},
              {"prices", json::array({json{{"selection_id", sel}, {"odds", odds}}})}};
}

TEST_F(ApiFeed, PricesApplyInOrderAndASilentProducerStopsBets) {
  ApiNode& n = node();
  const int64_t t0 = wall_ms();
  Reply up = n.post("/v1/producers/live1/alive", alive(1'500, t0), n.feed());
  ASSERT_STATUS(up, 200);
  EXPECT_EQ(up["status"], "up");
  EXPECT_EQ(up["limit_ms"], 1'500);
  EXPECT_EQ(up["source_ts"], t0);
  ASSERT_STATUS(create_market(n, "fm1", "fe1", {{"home", "2.00"}, {"away", "1.80"}}, json{{"producer", "live1"}}),
                201);

  Reply first = n.post("/v1/markets/fm1/feed-prices", prices("live1", 1'000, 2, "home", "2.10"), n.feed());
  ASSERT_STATUS(first, 200);
  EXPECT_EQ(first["applied"], true);
  Reply older = n.post("/v1/markets/fm1/feed-prices", prices("live1", 999, 9, "home", "1.50"), n.feed());
  ASSERT_STATUS(older, 200);
  EXPECT_EQ(older["applied"], false);
  Reply market = n.get("/v1/markets/fm1", n.admin());
  ASSERT_STATUS(market, 200);
  EXPECT_EQ(market["selections"][0]["odds"], "2.1");
  EXPECT_EQ(market["feed"]["producer"], "live1");
  EXPECT_EQ(market["feed"]["source_ts"], 1'000);

  ASSERT_STATUS(place_bet(n, "fb1", "fay", 100, {{"fm1", "home", "2.10"}}), 201);
  // No alive for longer than the limit: the next bet's batch time is past
  // the deadline, whatever the adapter is doing.
  std::this_thread::sleep_for(std::chrono::milliseconds(1'700));
  Reply refused = n.post("/v1/bets",
                         json{{"bet_id", "fb2"}, {"account_id", "fay"}, {"stake", 100},
                              {"legs", json::array({json{{"market_id", "fm1"}, {"selection_id", "home"}, {"odds", "2.10"}}})}},
                         n.trader());
  ASSERT_STATUS(refused, 422);
  EXPECT_EQ(refused["error"]["code"], "market_not_open");
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("silent"), std::string::npos) << refused.describe();
  Reply silent = n.get("/v1/markets/fm1", n.admin());
  EXPECT_EQ(silent["status"], "suspended");

  // Back only after recovery.
  ASSERT_STATUS(n.post("/v1/producers/live1/alive", alive(1'500, wall_ms()), n.feed()), 409);
  // A recovered alive sent before the producer went down answers an
  // earlier outage (docs/simulation.md, finding 6): refused.
  ASSERT_STATUS(n.post("/v1/producers/live1/alive", alive(5'000, t0 + 100, true), n.feed()), 409);
  const int64_t t1 = wall_ms();
  Reply back = n.post("/v1/producers/live1/alive", alive(5'000, t1, true), n.feed());
  ASSERT_STATUS(back, 200);
  EXPECT_EQ(back["recoveries"], 1);
  // A copy of it (a client's retry) or an older alive changes nothing.
  Reply copy = n.post("/v1/producers/live1/alive", alive(5'000, t1, true), n.feed());
  ASSERT_STATUS(copy, 200);
  EXPECT_EQ(copy["recoveries"], 1);
  EXPECT_EQ(copy["alive_until"], back["alive_until"]);
  ASSERT_STATUS(place_bet(n, "fb3", "fay", 100, {{"fm1", "home", "2.10"}}), 201);
  Reply list = n.get("/v1/producers", n.trader());
  ASSERT_STATUS(list, 200);
  ASSERT_EQ(list["producers"].size(), 1u);
  EXPECT_EQ(list["producers"][0]["producer"], "live1");
}

TEST_F(ApiFeed, OnlyTheFeedRoleSendsFeedCommandsAndBadOnesAre400) {
  ApiNode& n = node();
  EXPECT_STATUS(n.post("/v1/producers/p2/alive", alive(2'000, wall_ms()), n.trader()), 403);
  EXPECT_STATUS(n.post("/v1/producers/p2/alive", alive(10, wall_ms()), n.feed()), 400);
  Reply extra = n.post("/v1/producers/p2/alive", json{{"limit_ms", 2'000}, {"source_ts", 5}, {"extra", 1}}, n.feed());
  EXPECT_STATUS(extra, 400);
  // source_ts is required: an alive without it would count from whenever
  // it lands (docs/api.md).
  EXPECT_STATUS(n.post("/v1/producers/p2/alive", json{{"limit_ms", 2'000}}, n.feed()), 400);
  EXPECT_STATUS(n.post("/v1/producers/p2/alive", alive(2'000, 0), n.feed()), 400);
  EXPECT_STATUS(n.post("/v1/producers/p2/alive", alive(2'000, wall_ms() + 2 * 3'600'000), n.feed()), 400);
  EXPECT_STATUS(n.post("/v1/markets/fm9/feed-prices", prices("p2", 0, 1, "home", "2.00"), n.feed()), 400);
  EXPECT_STATUS(n.post("/v1/markets/nope/feed-prices", prices("p2", 5, 1, "home", "2.00"), n.feed()), 404);
  EXPECT_STATUS(n.get("/v1/producers", n.punter("fay")), 403);
}

}  // namespace
}  // namespace betcore::apitest
