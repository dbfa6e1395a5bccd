// The odds feed end to end, with real processes: a RabbitMQ broker, a
// betcore node, `betcore feed-provider` and `betcore feed`. Kills, broker
// restarts, duplicates, reorders and garbage must leave every market with
// the provider's last prices, each change applied once and never an older
// over a newer; a silent producer or a dead adapter must shut its markets by
// the feed deadline, and recovery must reopen them.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "support/support.h"
#include "tools/http_client.h"

namespace betcore::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kLimitMs = 3000;  // the adapter's alive limit

class FeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tools::rabbitmq_installed()) GTEST_FAIL() << "rabbitmq-server is missing: run scripts/install-deps.sh";
    std::string why;
    ASSERT_TRUE(rabbit_.start(why)) << "RabbitMQ did not start: " << why;
    node_ = start_server(
        [&](uint16_t port) {
          SpawnOptions o;
          o.program = betcore_binary().string();
          o.args = {"node", "--data", (dir_ / "data").string(), "--listen", "127.0.0.1:" + std::to_string(port),
                    "--tokens", tokens_.file.string(), "--plain-http"};
          o.log_path = (dir_ / "node.log").string();
          return o;
        },
        "/health/ready", node_port_, "betcore node");
    ASSERT_TRUE(node_.started());
    provider_ = start_server(
        [&](uint16_t port) {
          SpawnOptions o;
          o.program = betcore_binary().string();
          o.args = {"feed-provider", "--amqp", rabbit_.url(), "--queue", "betcore.feed.test",
                    "--listen", "127.0.0.1:" + std::to_string(port), "--rate", "600", "--events", "6",
                    "--markets-per-event", "3", "--alive-interval-ms", "500"};
          o.log_path = (dir_ / "provider.log").string();
          return o;
        },
        "/v1/state", provider_port_, "betcore feed-provider");
    ASSERT_TRUE(provider_.started());
    start_adapter();
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(eventually(60s, [&] { return market("m-6-3").status == 200; }))
        << "the fixtures did not reach betcore\n" << logs();
  }

  void start_adapter() {
    adapter_ = start_server(
        [&](uint16_t port) {
          SpawnOptions o;
          o.program = betcore_binary().string();
          o.args = {"feed", "--amqp", rabbit_.url(), "--queue", "betcore.feed.test", "--betcore",
                    "http://127.0.0.1:" + std::to_string(node_port_), "--tokens", tokens_.credentials.string(),
                    "--provider", "http://127.0.0.1:" + std::to_string(provider_port_), "--limit-ms",
                    std::to_string(kLimitMs), "--state-file", (dir_ / "feed.state").string(),
                    "--metrics-listen", "127.0.0.1:" + std::to_string(port)};
          o.log_path = (dir_ / "adapter.log").string();
          return o;
        },
        "/metrics", adapter_port_, "betcore feed");
    ASSERT_TRUE(adapter_.started());
  }

  tools::Response market(const std::string& id) {
    return tools::HttpClient("127.0.0.1", node_port_).get("/v1/markets/" + id, tokens_.feed);
  }
  tools::Response control(const std::string& what) {
    return tools::HttpClient("127.0.0.1", provider_port_).post("/control/" + what, "");
  }
  // The provider's truth; an object with an empty "markets" (which no
  // comparison passes) when it cannot be read.
  json provider_state() {
    tools::Response r = tools::HttpClient("127.0.0.1", provider_port_).get("/v1/state");
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || !j.contains("markets")) {
      return {{"markets", json::array()}, {"unreadable", std::to_string(r.status) + " " + r.error + r.body}};
    }
    return j;
  }
  double adapter_metric(const std::string& series) {
    std::string text = tools::HttpClient("127.0.0.1", adapter_port_).get("/metrics").body;
    size_t at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
  }
  std::string logs() {
    return "--- adapter\n" + last_lines(adapter_.read_log(), 25) + "--- provider\n" +
           last_lines(provider_.read_log(), 15) + "--- node\n" + last_lines(node_.read_log(), 10);
  }

  // Markets whose betcore prices (and feed order) differ from the provider's
  // last word; "" when every market agrees.
  std::string differences() {
    std::string out;
    json state = provider_state();
    if (state["markets"].size() != 18) return "the provider's state: " + state.dump().substr(0, 300);
    for (const json& truth : state["markets"]) {
      std::string id = truth["market_id"];
      tools::Response r = market(id);
      if (r.status != 200) {
        out += id + ": " + std::to_string(r.status) + "\n";
        continue;
      }
      json m = json::parse(r.body);
      json prices = json::array();
      for (const json& s : m["selections"]) prices.push_back({{"odds", s["odds"]}, {"selection_id", s["selection_id"]}});
      bool settled_same = truth["status"] == "settled" || truth["status"] == "cancelled"
                              ? m["status"] == "settled"
                              : true;
      bool order_same = m.contains("feed") && m["feed"]["source_ts"] == truth["ts"] &&
                        m["feed"]["source_seq"] == truth["seq"];
      if (prices != truth["prices"] || !settled_same || !order_same) {
        out += id + ": betcore " + m.dump() + "\n   provider " + truth.dump() + "\n";
      }
    }
    return out;
  }

  // Sets up an account with money, for bets.
  void fund_alice() {
    tools::HttpClient c("127.0.0.1", node_port_);
    ASSERT_EQ(c.post("/v1/accounts", R"({"account_id":"alice","currency":"EUR"})", tokens_.admin).status, 201);
    ASSERT_EQ(c.post("/v1/deposits", R"({"payment_ref":"dep-1","account_id":"alice","amount":1000000})",
                     tokens_.payments).status, 201);
  }
  // A new bet each call (a refused bet's id answers the same refusal again).
  int bet(const std::string& market_id) {
    json body = {{"bet_id", "b-" + std::to_string(++bets_)}, {"account_id", "alice"}, {"stake", 100}, {"accept_better_odds", true},
                 {"legs", {{{"market_id", market_id}, {"selection_id", "home"}, {"odds", "1.001"}}}}};
    return tools::HttpClient("127.0.0.1", node_port_).post("/v1/bets", body.dump(), tokens_.punter("alice")).status;
  }

  TempDir dir_{"betcore-feed"};
  TestTokens tokens_ = write_tokens_file(dir_.path(), {"alice"});
  tools::RabbitMq rabbit_{dir_ / "rabbitmq"};
  int bets_ = 0;
  uint16_t node_port_ = 0, provider_port_ = 0, adapter_port_ = 0;
  Process node_, provider_, adapter_;
};

TEST_F(FeedTest, PricesEndAsTheProvidersLastThroughKillsRestartsDuplicatesReordersAndGarbage) {
  ASSERT_EQ(control("duplicate?per_mille=150").status, 200);
  ASSERT_EQ(control("reorder?per_mille=150").status, 200);
  std::this_thread::sleep_for(2s);
  adapter_.kill(SIGKILL);  // mid-stream: unacked messages come again
  adapter_.wait(5000);
  std::this_thread::sleep_for(1s);
  start_adapter();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(control("malformed?count=5").status, 200);
  std::this_thread::sleep_for(2s);
  std::string why;
  ASSERT_TRUE(rabbit_.restart(why)) << why;  // kill -9, then again: confirmed messages are on its disk
  std::this_thread::sleep_for(3s);
  // A settlement, corrected by a rollback; a cancellation.
  ASSERT_EQ(control("settle?market=m-1-1&winner=home").status, 200);
  ASSERT_EQ(control("rollback?market=m-1-1&winner=away").status, 200);
  ASSERT_EQ(control("cancel?market=m-2-1").status, 200);
  // The provider loses its connection, and with it a bet stop: only a
  // recovery (its alives now say subscribed:false) can bring it.
  ASSERT_EQ(control("disconnect?ms=2500").status, 200);
  ASSERT_EQ(control("bet-stop?market=m-3-1").status, 200);
  std::this_thread::sleep_for(4s);
  ASSERT_EQ(control("rate?selections_per_s=0").status, 200);

  std::string diff;
  EXPECT_TRUE(eventually(90s, [&] { return (diff = differences()).empty(); }))
      << "markets that differ from the provider:\n" << diff << logs();
  json settled = json::parse(market("m-1-1").body);
  EXPECT_EQ(settled["settlements"], 2) << "settle, then one resettle for the rollback: " << settled.dump();
  for (const json& s : settled["selections"]) {
    EXPECT_EQ(s["result"], s["selection_id"] == "away" ? "win" : "lose") << settled.dump();
  }
  json cancelled = json::parse(market("m-2-1").body);
  for (const json& s : cancelled["selections"]) EXPECT_EQ(s["result"], "void") << cancelled.dump();
  EXPECT_TRUE(eventually(30s, [&] {
    return adapter_metric("betcore_feed_messages_total{outcome=\"dead_letter\"}") >= 5;
  })) << "the malformed messages must be dead-lettered\n" << logs();
  json stopped = json::parse(market("m-3-1").body);
  EXPECT_EQ(stopped["status"], "suspended") << "the bet stop lost in the disconnect came by recovery: "
                                            << stopped.dump() << "\n" << logs();
  EXPECT_EQ(stopped.value("status_reason", ""), "provider bet stop") << stopped.dump();
  EXPECT_GE(adapter_metric("betcore_feed_recoveries_total"), 1) << logs();
  EXPECT_GT(adapter_metric("betcore_feed_messages_total{outcome=\"stale\"}"), 0)
      << "duplicates and reorders must have been answered applied:false\n" << logs();
  json balance = json::parse(
      tools::HttpClient("127.0.0.1", node_port_).get("/v1/ledger/balance", tokens_.admin).body);
  EXPECT_EQ(balance.value("total", int64_t{-1}), 0) << balance.dump();
  EXPECT_EQ(balance.value("balanced", false), true) << balance.dump();
  // What Prometheus scrapes from the adapter lints clean.
  EXPECT_EQ(promtool_check_metrics(adapter_port_), "");
}

TEST_F(FeedTest, ASilentProducerShutsItsMarketsAndRecoveryReopensThem) {
  fund_alice();
  // e-2 is priced by "live" (events alternate: prematch, live, ...).
  ASSERT_TRUE(eventually(20s, [&] { return bet("m-2-1") == 201; })) << logs();
  ASSERT_EQ(control("silent?producer=live&seconds=600").status, 200);
  auto silenced = std::chrono::steady_clock::now();
  // Bets are refused once the limit has passed since the last alive that
  // betcore took (stamped when it committed: up to --alive-max-lag-ms after
  // the provider sent it, and later still on a loaded machine).
  std::this_thread::sleep_until(silenced + std::chrono::milliseconds(kLimitMs + 1000));
  EXPECT_TRUE(eventually(3s, [&] { return bet("m-2-1") == 422; }))
      << "still taking bets " << kLimitMs + 4000 << " ms after its producer fell silent\n" << logs();
  EXPECT_TRUE(eventually(10s, [&] { return bet("m-1-1") == 201; })) << "prematch is not silent\n" << logs();
  EXPECT_EQ(json::parse(market("m-2-1").body)["status"], "suspended");
  // The node's guard has an incident for it: what it did, what to do.
  auto feed_incident = [&] {
    json list = json::parse(tools::HttpClient("127.0.0.1", node_port_).get("/v1/incidents", tokens_.admin).body,
                            nullptr, false);
    if (!list.is_object()) return json();
    for (const json& i : list["incidents"]) {
      if (i.value("signal", "") == "feed_producers_down") return i;
    }
    return json();
  };
  json incident;
  EXPECT_TRUE(eventually(5s, [&] { return !(incident = feed_incident()).is_null(); })) << logs();
  if (!incident.is_null()) {
    EXPECT_NE(incident.value("seen", "").find("live"), std::string::npos) << incident.dump(2);
    EXPECT_EQ(incident.value("action", ""), "markets suspended");
    EXPECT_TRUE(incident.value("open", false));
  }
  // Back: the adapter recovers what the producer sent, then reopens.
  ASSERT_EQ(control("talk?producer=live").status, 200);
  EXPECT_TRUE(eventually(30s, [&] { return bet("m-2-1") == 201; })) << logs();
  EXPECT_TRUE(eventually(5s, [&] { return !feed_incident().value("open", true); }))
      << "the feed incident did not close: " << feed_incident().dump(2);
  EXPECT_GE(adapter_metric("betcore_feed_recoveries_total"), 1) << logs();
  json producers = json::parse(
      tools::HttpClient("127.0.0.1", node_port_).get("/v1/producers", tokens_.feed).body);
  bool recovered = false;
  for (const json& p : producers["producers"]) {
    if (p["producer"] == "live") recovered = p["recoveries"].get<int>() >= 1 && p["status"] == "up";
  }
  EXPECT_TRUE(recovered) << producers.dump();
}

TEST_F(FeedTest, ADeadAdapterShutsTheMarketsByTheFeedDeadlineAlone) {
  fund_alice();
  ASSERT_TRUE(eventually(20s, [&] { return bet("m-1-1") == 201; })) << logs();
  adapter_.kill(SIGKILL);
  adapter_.wait(5000);
  auto killed = std::chrono::steady_clock::now();
  std::this_thread::sleep_until(killed + std::chrono::milliseconds(kLimitMs));
  EXPECT_TRUE(eventually(3s, [&] { return bet("m-1-1") == 422 && bet("m-2-1") == 422; }))
      << "no adapter, no alive: the deadline alone shuts them\n" << logs();
  start_adapter();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(eventually(30s, [&] { return bet("m-1-1") == 201 && bet("m-2-1") == 201; }))
      << logs();
  std::string diff;
  ASSERT_EQ(control("rate?selections_per_s=0").status, 200);
  EXPECT_TRUE(eventually(60s, [&] { return (diff = differences()).empty(); })) << diff << logs();
}

}  // namespace
}  // namespace betcore::test
