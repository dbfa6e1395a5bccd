// The book in /metrics (src/node/business_metrics.h) and the operator's
// series beside it, read from a real node after real requests: every value
// is the exact one the requests imply, and promtool accepts the page.
#include <gtest/gtest.h>

#include <string>

#include "api_node.h"
#include "api_world.h"
#include "node_suite.h"

namespace betcore::apitest {
namespace {

class ApiBusinessMetrics : public NodeSuite<ApiBusinessMetrics> {
 public:
  static NodeConfig config() { return {{"rich", "poor", "pound"}, {}}; }
  static void build_world(ApiNode&) {}
};

// The value of one series on the node's /metrics now (-1: no such series).
double value(ApiNode& n, const std::string& name, const std::vector<std::string>& labels = {}) {
  Reply r = n.get("/metrics", "");
  EXPECT_EQ(r.status, 200) << r.body;
  return test::metric(r.body, name, labels);
}

TEST_F(ApiBusinessMetrics, BetsStakesPayoutsAndOpenLiabilityAreExact) {
  ApiNode& n = node();
  const std::vector<std::string> eur{R"(currency="EUR")"}, gbp{R"(currency="GBP")"};
  auto bets = [&](const char* outcome) {
    return value(n, "betcore_bets_total", {std::string("outcome=\"") + outcome + "\""});
  };
  // Every refusal code has its series from the start, at 0.
  EXPECT_EQ(bets("accepted"), 0);
  EXPECT_EQ(bets("insufficient_funds"), 0);
  EXPECT_EQ(bets("liability_exceeded"), 0);
  EXPECT_EQ(value(n, "betcore_open_bets"), 0);

  create_account(n, "rich");
  create_account(n, "poor");
  ASSERT_STATUS(n.post("/v1/accounts", account_body("pound", "GBP"), n.admin()), 201);
  deposit(n, "rich-1", "rich", 10'000);
  deposit(n, "poor-1", "poor", 100);
  deposit(n, "pound-1", "pound", 5'000);
  create_event(n, "m-ev");
  create_market(n, "m-mk", "m-ev", {{"home", "2.00"}, {"away", "3.00"}});
  create_market(n, "m-mk2", "m-ev", {{"yes", "1.50"}, {"no", "2.50"}});

  ASSERT_STATUS(place_bet(n, "b1", "rich", 1'000, {{"m-mk", "home", "2.00"}}), 201);
  // The same request again is a retry, not a second bet.
  ASSERT_STATUS(
      n.post("/v1/bets", bet_body("b1", "rich", 1'000, {{"m-mk", "home", "2.00"}}), n.trader()),
      201);
  EXPECT_ERROR(
      n.post("/v1/bets", bet_body("b2", "poor", 500, {{"m-mk", "home", "2.00"}}), n.trader()), 422,
      "insufficient_funds");
  EXPECT_ERROR(
      n.post("/v1/bets", bet_body("b3", "rich", 100, {{"m-mk", "home", "2.50"}}), n.trader()), 422,
      "odds_changed");
  ASSERT_STATUS(place_bet(n, "b4", "pound", 400, {{"m-mk2", "yes", "1.50"}}), 201);
  ASSERT_STATUS(place_bet(n, "b5", "rich", 200, {{"m-mk2", "no", "2.50"}}), 201);

  // Series move before the answer leaves: no waiting needed.
  EXPECT_EQ(bets("accepted"), 3);
  EXPECT_EQ(bets("insufficient_funds"), 1);
  EXPECT_EQ(bets("odds_changed"), 1);
  EXPECT_EQ(bets("market_not_open"), 0);
  EXPECT_EQ(value(n, "betcore_bet_retries_total"), 1);
  EXPECT_EQ(value(n, "betcore_stakes_minor_units_total", eur), 1'200);
  EXPECT_EQ(value(n, "betcore_stakes_minor_units_total", gbp), 400);
  EXPECT_EQ(value(n, "betcore_deposits_minor_units_total", eur), 10'100);
  EXPECT_EQ(value(n, "betcore_deposits_minor_units_total", gbp), 5'000);
  EXPECT_EQ(value(n, "betcore_open_bets"), 3);
  EXPECT_EQ(value(n, "betcore_open_stakes_minor_units", eur), 1'200);
  EXPECT_EQ(value(n, "betcore_open_stakes_minor_units", gbp), 400);
  // Winnings beyond the stake if every open bet wins: 1000 + 300 EUR, 200 GBP.
  EXPECT_EQ(value(n, "betcore_open_liability_minor_units", eur), 1'300);
  EXPECT_EQ(value(n, "betcore_open_liability_minor_units", gbp), 200);

  ASSERT_STATUS(n.post("/v1/markets/m-mk/settle", results_body({{"home", "win"}, {"away", "lose"}}),
                       n.trader()),
                200);
  EXPECT_EQ(value(n, "betcore_payouts_minor_units_total", eur), 2'000);
  EXPECT_EQ(value(n, "betcore_open_bets"), 2);
  EXPECT_EQ(value(n, "betcore_open_stakes_minor_units", eur), 200);
  EXPECT_EQ(value(n, "betcore_open_liability_minor_units", eur), 300);
  EXPECT_EQ(value(n, "betcore_settlement_lag_seconds_count"), 1);
  EXPECT_GT(value(n, "betcore_settlement_lag_seconds_sum"), 0) << "the event started in the past";

  // A resettlement takes the payout back and settles again: b1 now loses.
  // The bet stays closed; the market's first settlement was the lag.
  ASSERT_STATUS(n.post("/v1/markets/m-mk/resettle",
                       results_body({{"home", "lose"}, {"away", "win"}}), n.trader()),
                200);
  EXPECT_EQ(value(n, "betcore_market_resettlements_total"), 1);
  EXPECT_EQ(value(n, "betcore_payouts_minor_units_total", eur), 2'000);
  EXPECT_EQ(value(n, "betcore_open_bets"), 2);
  EXPECT_EQ(value(n, "betcore_open_stakes_minor_units", eur), 200);
  EXPECT_EQ(value(n, "betcore_settlement_lag_seconds_count"), 1);

  ASSERT_STATUS(n.post("/v1/markets/m-mk2/settle", results_body({{"yes", "win"}, {"no", "lose"}}),
                       n.trader()),
                200);
  EXPECT_EQ(value(n, "betcore_open_bets"), 0);
  EXPECT_EQ(value(n, "betcore_open_stakes_minor_units", eur), 0);
  EXPECT_EQ(value(n, "betcore_open_liability_minor_units", gbp), 0);
  EXPECT_EQ(value(n, "betcore_payouts_minor_units_total", gbp), 600);
}

TEST_F(ApiBusinessMetrics, BuildLogHeadAndDiskAreReported) {
  ApiNode& n = node();
  create_account(n, "disk-probe");
  Reply r = n.get("/metrics", "");
  ASSERT_STATUS(r, 200);
  const std::string& text = r.body;
  // One build series, value 1, with the project's version.
  const size_t at = text.find("\nbetcore_build_info{");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_NE(text.find("version=\"", at), std::string::npos);
  EXPECT_NE(text.find("revision=\"", at), std::string::npos);
  EXPECT_EQ(test::metric(text, "betcore_build_info"), 1);

  EXPECT_GE(test::metric(text, "betcore_log_head_index"),
            test::metric(text, "betcore_applied_index"));
  EXPECT_GT(test::metric(text, "betcore_applied_index"), 0);
  const double avail = test::metric(text, "betcore_data_filesystem_avail_bytes");
  const double size = test::metric(text, "betcore_data_filesystem_size_bytes");
  EXPECT_GT(avail, 0);
  EXPECT_GE(size, avail);
  EXPECT_EQ(test::promtool_check_metrics(n.port()), "");
}

}  // namespace
}  // namespace betcore::apitest
