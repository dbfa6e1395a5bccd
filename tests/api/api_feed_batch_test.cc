// POST /v1/feed-prices (docs/api.md) on a real node: many changes in one request, each alone.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "api_node.h"
#include "api_world.h"
#include "node_suite.h"

namespace betcore::apitest {
namespace {

// An alive stamped now (the provider's clock is the node's here).
json batch_alive() {
  using namespace std::chrono;
  const int64_t now_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  return json{{"limit_ms", 600'000}, {"source_ts", now_ms}};
}

class ApiFeedBatch : public NodeSuite<ApiFeedBatch> {
 public:
  static NodeConfig config() { return {{"bo"}, {}}; }
  static void build_world(ApiNode& n) {
    create_account(n, "bo");
    // Long enough that the producer never goes silent during the suite.
    EXPECT_STATUS(n.post("/v1/producers/bp/alive", batch_alive(), n.feed()), 200);
    create_event(n, "be1");
    const json fed = json{{"producer", "bp"}};
    for (const char* m :
         {"bm1", "bm2", "bm3", "bm4", "twin-a1", "twin-a2", "twin-b1", "twin-b2", "closed1"}) {
      create_market(n, m, "be1", {{"home", "2.00"}, {"away", "1.80"}}, fed);
    }
    create_market(n, "byhand", "be1", {{"home", "2.00"}, {"away", "1.80"}});
    EXPECT_STATUS(n.post("/v1/markets/closed1/close", json::object(), n.trader()), 200);
  }
};

json change(const std::string& market, int64_t ts, uint64_t seq, const char* home,
            const char* away) {
  return json{{"market_id", market},
              {"producer", "bp"},
              {"source_ts", ts},
              {"source_seq", seq},
              {"prices", json::array({json{{"selection_id", "home"}, {"odds", home}},
                                      json{{"selection_id", "away"}, {"odds", away}}})}};
}

json batch(std::vector<json> changes) { return json{{"changes", std::move(changes)}}; }

// The element of "results" at i, or null (with a failure) when there is none.
const json& element(const Reply& r, size_t i) {
  static const json none;
  const json& results = r["results"];
  EXPECT_TRUE(results.is_array() && results.size() > i) << r.describe();
  return results.is_array() && results.size() > i ? results[i] : none;
}

// The parts of a market a feed change sets.
json priced(ApiNode& n, const std::string& id) {
  json m = market(n, id);
  return json{{"selections", m["selections"]}, {"feed", m["feed"]}};
}

TEST_F(ApiFeedBatch, ChangesAcrossMarketsAnswerInRequestOrderAndOldOnesAreNotApplied) {
  ApiNode& n = node();
  Reply r =
      n.post("/v1/feed-prices",
             batch({change("bm1", 100, 1, "2.10", "1.70"), change("bm2", 100, 1, "3.00", "1.40"),
                    change("bm1", 100, 1, "2.10", "1.70"),  // a duplicate
                    change("bm1", 99, 7, "9.00", "9.00"),   // older
                    change("bm1", 100, 0, "8.00", "8.00"),  // older by seq
                    change("bm3", 101, 0, "1.50", "2.50"), change("bm1", 102, 0, "2.20", "1.65")}),
             n.feed());
  ASSERT_STATUS(r, 200);
  ASSERT_EQ(r["results"].size(), 7u) << r.describe();
  const std::vector<std::pair<std::string, bool>> want = {
      {"bm1", true},  {"bm2", true}, {"bm1", false}, {"bm1", false},
      {"bm1", false}, {"bm3", true}, {"bm1", true}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(element(r, i)["market_id"], want[i].first) << i;
    EXPECT_EQ(element(r, i)["applied"], want[i].second) << i;
  }
  ASSERT_TRUE(r["index"].is_number_unsigned()) << r.describe();
  EXPECT_GT(r["index"].get<uint64_t>(), 0u);

  json bm1 = market(n, "bm1");
  EXPECT_EQ(bm1["selections"][0]["odds"], "2.2");
  EXPECT_EQ(bm1["selections"][1]["odds"], "1.65");
  EXPECT_EQ(bm1["feed"]["source_ts"], 102);
  EXPECT_EQ(market(n, "bm2")["selections"][0]["odds"], "3");
  EXPECT_EQ(market(n, "bm3")["selections"][1]["odds"], "2.5");

  // The whole batch again (an adapter retrying after a lost answer): nothing
  // is applied twice.
  Reply again =
      n.post("/v1/feed-prices",
             batch({change("bm2", 100, 1, "3.00", "1.40"), change("bm3", 101, 0, "1.50", "2.50")}),
             n.feed());
  ASSERT_STATUS(again, 200);
  EXPECT_EQ(element(again, 0)["applied"], false);
  EXPECT_EQ(element(again, 1)["applied"], false);
}

TEST_F(ApiFeedBatch, LeavesMarketsAsTheSameChangesSentOneByOneDo) {
  ApiNode& n = node();
  // The same changes, in the same order, to twin markets: a1/a2 by batch,
  // b1/b2 by the single route.
  struct Step {
    int which;
    int64_t ts;
    uint64_t seq;
    const char* home;
    const char* away;
  };
  const std::vector<Step> steps = {{1, 10, 0, "2.50", "1.50"}, {2, 10, 0, "1.90", "1.90"},
                                   {1, 12, 3, "2.60", "1.45"}, {1, 12, 2, "7.00", "7.00"},
                                   {2, 9, 9, "5.00", "5.00"},  {2, 11, 0, "1.95", "1.85"},
                                   {1, 12, 3, "2.60", "1.45"}};
  std::vector<json> changes;
  std::vector<bool> singles_applied;
  for (const Step& s : steps) {
    const std::string twin = std::to_string(s.which);
    changes.push_back(change("twin-a" + twin, s.ts, s.seq, s.home, s.away));
    json body = change("twin-b" + twin, s.ts, s.seq, s.home, s.away);
    body.erase("market_id");
    Reply one = n.post("/v1/markets/twin-b" + twin + "/feed-prices", body, n.feed());
    ASSERT_STATUS(one, 200);
    singles_applied.push_back(one["applied"].get<bool>());
  }
  Reply r = n.post("/v1/feed-prices", batch(changes), n.feed());
  ASSERT_STATUS(r, 200);
  for (size_t i = 0; i < steps.size(); ++i)
    EXPECT_EQ(element(r, i)["applied"], singles_applied[i]) << i;
  EXPECT_EQ(priced(n, "twin-a1"), priced(n, "twin-b1"));
  EXPECT_EQ(priced(n, "twin-a2"), priced(n, "twin-b2"));
}

TEST_F(ApiFeedBatch, ABadChangeIsItsOwnErrorAndTheOthersApply) {
  ApiNode& n = node();
  json bad_ts = change("bm4", 0, 0, "2.00", "2.00");  // source_ts must be >= 1
  json no_market = change("bm4", 20, 0, "2.00", "2.00");
  no_market.erase("market_id");
  json unknown_field = change("bm4", 20, 0, "2.00", "2.00");
  unknown_field["extra"] = 1;
  Reply r = n.post(
      "/v1/feed-prices",
      batch({change("bm4", 20, 0, "2.30", "1.60"), bad_ts, change("nope", 20, 0, "2.00", "2.00"),
             no_market, json(42), unknown_field, change("closed1", 20, 0, "2.00", "2.00"),
             change("byhand", 20, 0, "2.00", "2.00"), change("bm4", 21, 0, "2.40", "1.55")}),
      n.feed());
  ASSERT_STATUS(r, 200);
  ASSERT_EQ(r["results"].size(), 9u) << r.describe();
  EXPECT_EQ(element(r, 0)["applied"], true);
  const std::vector<std::pair<size_t, const char*>> errors = {
      {1, "invalid_request"}, {2, "not_found"},       {3, "invalid_request"},
      {4, "invalid_request"}, {5, "invalid_request"}, {6, "market_not_open"},
      {7, "conflict"}};
  for (const auto& [i, code] : errors) {
    const json& e = element(r, i);
    ASSERT_TRUE(e.contains("error")) << i << ": " << r.describe();
    EXPECT_EQ(e["error"]["code"], code) << i;
    EXPECT_FALSE(e["error"]["message"].get<std::string>().empty()) << i;
    EXPECT_FALSE(e.contains("applied")) << i;
  }
  EXPECT_EQ(element(r, 1)["market_id"], "bm4");
  EXPECT_NE(element(r, 1)["error"]["message"].get<std::string>().find("changes[1].source_ts"),
            std::string::npos)
      << r.describe();
  EXPECT_TRUE(element(r, 3)["market_id"].is_string());  // "" when the change has none
  EXPECT_TRUE(element(r, 2)["error"].contains("index")) << "refused by the state machine";
  EXPECT_FALSE(element(r, 1)["error"].contains("index")) << "refused by the parser";
  EXPECT_EQ(element(r, 8)["applied"], true);
  EXPECT_EQ(market(n, "bm4")["selections"][0]["odds"], "2.4");

  // Nothing in it a state machine takes: answered at once, index 0.
  Reply none = n.post("/v1/feed-prices", batch({bad_ts}), n.feed());
  ASSERT_STATUS(none, 200);
  EXPECT_EQ(element(none, 0)["error"]["code"], "invalid_request");
  EXPECT_EQ(none["index"], 0);
}

TEST_F(ApiFeedBatch, ABodyThatIsNotABatchIs400) {
  ApiNode& n = node();
  std::vector<json> too_many(257, change("bm1", 1, 0, "2.00", "2.00"));
  const std::vector<std::string> bodies = {
      "not json",
      "[]",
      "{}",
      R"({"changes":[]})",
      R"({"changes":"x"})",
      R"({"changes":{}})",
      batch({change("bm1", 1, 0, "2.00", "2.00")}).dump().insert(1, R"("extra":1,)"),
      batch(too_many).dump()};
  for (const std::string& body : bodies) {
    Reply r = n.post_raw("/v1/feed-prices", body, n.feed());
    EXPECT_ERROR(r, 400, "invalid_request") << body.substr(0, 80);
  }
  std::vector<json> most(256, change("bm1", 1, 0, "2.00", "2.00"));
  Reply full = n.post("/v1/feed-prices", batch(most), n.feed());
  ASSERT_STATUS(full, 200);
  EXPECT_EQ(full["results"].size(), 256u);
}

TEST_F(ApiFeedBatch, OnlyTheFeedRoleSendsBatches) {
  ApiNode& n = node();
  const json body = batch({change("bm1", 1, 0, "2.00", "2.00")});
  for (const std::string& token : {n.admin(), n.trader(), n.payments(), n.punter("bo")}) {
    EXPECT_ERROR(n.post("/v1/feed-prices", body, token), 403, "forbidden");
  }
  EXPECT_ERROR(n.post("/v1/feed-prices", body, ""), 401, "unauthenticated");
  Reply get = n.get("/v1/feed-prices", n.feed());
  EXPECT_ERROR(get, 405, "invalid_request");
  EXPECT_EQ(get.header("allow"), "POST");
  ASSERT_STATUS(n.post("/v1/feed-prices", body, n.feed()), 200);
  Reply metrics = n.get("/metrics", "");
  EXPECT_GE(
      metric(metrics.body, R"(betcore_api_requests_total{code="403",route="feed_prices_batch"})")
          .value_or(0),
      4);
}

// The node queues a batch's changes all or none: one that does not fit the
// submit queue is 429 as a whole, and none of its changes is applied.
TEST(ApiFeedBatchOverload, ABatchTheSubmitQueueCannotTakeIs429AndAppliesNothing) {
  ApiNode n({{}, {"--queue-commands-max", "2"}});
  ASSERT_TRUE(n.start()) << n.why();
  ASSERT_STATUS(n.post("/v1/producers/bp/alive", batch_alive(), n.feed()), 200);
  create_event(n, "oe");
  create_market(n, "om", "oe", {{"home", "2.00"}, {"away", "1.80"}}, json{{"producer", "bp"}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  Reply r = n.post("/v1/feed-prices",
                   batch({change("om", 5, 0, "2.10", "1.70"), change("om", 6, 0, "2.20", "1.60"),
                          change("om", 7, 0, "2.30", "1.50")}),
                   n.feed());
  EXPECT_ERROR(r, 429, "overloaded");
  EXPECT_EQ(r.header("retry-after"), "1");
  EXPECT_EQ(market(n, "om")["selections"][0]["odds"], "2");
  Reply fits = n.post(
      "/v1/feed-prices",
      batch({change("om", 5, 0, "2.10", "1.70"), change("om", 6, 0, "2.20", "1.60")}), n.feed());
  ASSERT_STATUS(fits, 200);
  EXPECT_EQ(market(n, "om")["selections"][0]["odds"], "2.2");
}

}  // namespace
}  // namespace betcore::apitest
