// The drill's odds feed: starting, killing, probing and checking it.
#include "drill/feed.h"
#include "drill/cluster.h"

#include <signal.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "drill/clock.h"
#include "drill/probe.h"
#include "tools/ports.h"

namespace betcore::drill {
namespace {

using nlohmann::json;

constexpr const char* kQueue = "betcore.feed.drill";

// The market's status through HAProxy ("" when unreachable).
std::string market_status(tools::HttpClient& c, const DrillCluster& cluster,
                          const std::string& market_id) {
  tools::Response r = c.get("/v1/markets/" + market_id, cluster.trader);
  if (r.status != 200) return "";
  json j = json::parse(r.body, nullptr, false);
  return j.is_object() ? j.value("status", "") : "";
}

// "" when betcore's market `m` holds the provider's last word `truth` on
// it: its prices, and the order numbers of that change (a market no change
// reached since its fixture has none: source_ts 0).
std::string market_difference(const json& truth, const json& m) {
  json prices = json::array();
  for (const json& s : m["selections"]) {
    prices.push_back({{"odds", s["odds"]}, {"selection_id", s["selection_id"]}});
  }
  const json& feed = m.contains("feed") ? m["feed"] : json::object();
  const bool same_order = feed.value("source_ts", int64_t{-1}) == truth["ts"].get<int64_t>() &&
                          feed.value("source_seq", uint64_t{0}) == truth["seq"].get<uint64_t>();
  const bool fixture_only = feed.value("source_ts", int64_t{-1}) == 0;
  if (prices == truth["prices"] && (same_order || fixture_only)) return "";
  return fmt::format("{} has {} (ts {}, seq {}), the provider {} (ts {}, seq {})",
                     truth["market_id"].get<std::string>(), prices.dump(),
                     feed.value("source_ts", int64_t{-1}), feed.value("source_seq", uint64_t{0}),
                     truth["prices"].dump(), truth["ts"].get<int64_t>(),
                     truth["seq"].get<uint64_t>());
}

}  // namespace

bool DrillFeed::start(const DrillCluster& cluster, std::string& why) {
  cluster_ = &cluster;
  if (!tools::rabbitmq_installed()) {
    why = "rabbitmq-server is missing: run scripts/install-deps.sh";
    return false;
  }
  broker_ = std::make_unique<tools::RabbitMq>(root_ / "rabbitmq");
  // Its own host in production. Behind the drill's load at the usual
  // priority, the markets reopened 59 s after feed_broker_killed instead
  // of 27 s: the broker's restart waited for CPU (tools/rabbitmq.h).
  broker_->set_nice(-10);
  if (!broker_->start(why)) return false;
  provider_port_ = tools::reserve_port();
  tools::SpawnOptions o;
  o.program = betcore_;
  o.args = {"feed-provider", "--amqp", broker_->url(), "--queue", kQueue,
            "--listen", "127.0.0.1:" + std::to_string(provider_port_),
            "--rate", std::to_string(kFeedRate), "--alive-interval-ms", "500"};
  o.log_path = (root_ / "feed-provider.log").string();
  provider_ = tools::Process::spawn(o);
  if (!wait_http_ready(provider_, provider_port_, "/v1/state", 20000)) {
    why = "betcore feed-provider did not start; see " + o.log_path;
    return false;
  }
  metrics_port_ = tools::reserve_port();
  if (!start_adapter(why)) return false;
  tools::HttpClient c("127.0.0.1", cluster.haproxy_port, betcore_http(1000));
  const int64_t deadline = now_ms() + 60'000;
  while (market_status(c, cluster, "m-20-5").empty()) {
    if (now_ms() > deadline) {
      why = "the feed's fixtures did not reach betcore in 60 s; see " + adapter_.log_path();
      return false;
    }
    sleep_ms(200);
  }
  return BetProbe::create_account(cluster.haproxy_port, cluster.admin, why);
}

bool DrillFeed::start_adapter(std::string& why) {
  tools::SpawnOptions o;
  o.program = betcore_;
  o.args = {"feed", "--amqp", broker_->url(), "--queue", kQueue,
            "--betcore", "https://127.0.0.1:" + std::to_string(cluster_->haproxy_port),
            "--tokens", (root_ / "credentials").string(),
            "--provider", "http://127.0.0.1:" + std::to_string(provider_port_),
            "--limit-ms", std::to_string(kFeedLimitMs),
            "--alive-max-lag-ms", std::to_string(kFeedAliveLagMaxMs),
            "--state-file", (root_ / "feed.state").string(),
            "--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port_)};
  const auto tls_args = cluster_->tls_client_args();
  o.args.insert(o.args.end(), tls_args.begin(), tls_args.end());
  o.log_path = (root_ / ("feed." + std::to_string(++adapter_runs_) + ".log")).string();
  adapter_ = tools::Process::spawn(o);
  if (wait_http_ready(adapter_, metrics_port_, "/metrics", 20000)) return true;
  why = "betcore feed did not start; see " + o.log_path;
  return false;
}

void DrillFeed::kill_adapter() {
  adapter_.kill(SIGKILL);
  adapter_.wait(5000);
}

bool DrillFeed::control(const std::string& what, std::string& why) {
  tools::Response r = tools::HttpClient("127.0.0.1", provider_port_).post("/control/" + what, "");
  if (r.ok()) return true;
  why = "provider /control/" + what + ": " +
        (r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body);
  return false;
}

bool DrillFeed::taking_bets() {
  BetProbe probe(cluster_->haproxy_port, cluster_->trader, ++probes_);
  for (const char* market : kFeedMarkets) {
    if (probe.ask(market) != Bets::taken) return false;
  }
  return true;
}

int64_t DrillFeed::wait_taking_bets(int timeout_ms) {
  BetProbe probe(cluster_->haproxy_port, cluster_->trader, ++probes_);
  const int64_t deadline = now_ms() + timeout_ms;
  for (size_t taken = 0; now_ms() < deadline;) {
    // A market that took a bet stays open until the next fault: count each once.
    if (probe.ask(kFeedMarkets[taken]) == Bets::taken && ++taken == std::size(kFeedMarkets)) {
      return now_ms();
    }
    sleep_ms(100);
  }
  return -1;
}

void DrillFeed::watch_start() {
  watch_ = std::make_unique<FeedWatch>(cluster_->haproxy_port, cluster_->trader, ++probes_,
                                       std::vector<std::string>(std::begin(kFeedMarkets),
                                                                std::end(kFeedMarkets)));
}

std::vector<ProbeSample> DrillFeed::watch_stop() {
  if (!watch_) return {};
  std::vector<ProbeSample> samples = watch_->stop();
  watch_.reset();
  return samples;
}

int64_t DrillFeed::dead_letters() {
  tools::Response r = tools::HttpClient("127.0.0.1", metrics_port_).get("/metrics");
  if (r.status != 200) return -1;
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);) {
    constexpr std::string_view kSeries = "betcore_feed_messages_total{outcome=\"dead_letter\"} ";
    if (line.rfind(kSeries, 0) == 0) return std::atoll(line.c_str() + kSeries.size());
  }
  return 0;  // none yet: the series is exposed once counted
}

int64_t DrillFeed::dead_letters_since_mark() {
  const int64_t now = dead_letters();
  return now < 0 || dead_letters_mark_ < 0 ? -1 : now - dead_letters_mark_;
}

bool DrillFeed::hold_prices_until_equal(int timeout_ms, std::string& diff) {
  if (!control("rate?selections_per_s=0", diff)) return false;
  const int64_t deadline = now_ms() + timeout_ms;
  while (!(diff = differences()).empty() && now_ms() < deadline) sleep_ms(500);
  return diff.empty();
}

bool DrillFeed::resume_prices(std::string& why) {
  return control("rate?selections_per_s=" + std::to_string(kFeedRate), why);
}

void DrillFeed::heal_everything(std::vector<std::string>& failures) {
  if (!broker_) return;
  if (watch_) watch_stop();
  std::string why;
  if (!broker_->running() && !broker_->restart(why)) failures.push_back("feed broker: " + why);
  if (!adapter_.running() && !start_adapter(why)) failures.push_back("feed adapter: " + why);
  for (const char* what : {"talk?producer=prematch", "talk?producer=live", "duplicate?per_mille=0",
                           "reorder?per_mille=0"}) {
    if (!control(what, why)) failures.push_back(why);
  }
}

std::string DrillFeed::differences() {
  tools::Response state = tools::HttpClient("127.0.0.1", provider_port_).get("/v1/state");
  json truth = json::parse(state.body, nullptr, false);
  if (!truth.is_object() || !truth.contains("markets") || truth["markets"].empty()) {
    return "the provider did not answer GET /v1/state (" + std::to_string(state.status) + ")";
  }
  std::string out;
  tools::HttpClient c("127.0.0.1", cluster_->haproxy_port, betcore_http());
  for (const json& t : truth["markets"]) {
    std::string id = t["market_id"];
    tools::Response r = c.get("/v1/markets/" + id, cluster_->trader);
    json m = json::parse(r.body, nullptr, false);
    std::string d = r.status == 200 && m.is_object()
                        ? market_difference(t, m)
                        : id + " unreadable (" + std::to_string(r.status) + ")";
    if (!d.empty()) out += d + "; ";
  }
  return out;
}

void DrillFeed::check(std::vector<std::string>& failures, int timeout_ms) {
  if (!broker_) return;
  const int64_t started_ms = now_ms();
  std::string diff;
  if (!hold_prices_until_equal(timeout_ms, diff)) {
    failures.push_back(fmt::format(
        "odds feed: betcore does not hold the provider's last prices after {} s: {}",
        timeout_ms / 1000, diff.substr(0, 600)));
  }
  int64_t left_ms = std::max<int64_t>(timeout_ms - (now_ms() - started_ms), 5'000);
  if (wait_taking_bets(static_cast<int>(left_ms)) < 0) {
    failures.push_back(fmt::format("odds feed: {} and {} take no bets {} s after the faults healed",
                                   kFeedMarkets[0], kFeedMarkets[1], timeout_ms / 1000));
  }
}

void DrillFeed::stop_all() {
  if (watch_) watch_stop();
  adapter_.stop(3000);
  provider_.stop(3000);
  if (broker_) broker_->kill();
}

}  // namespace betcore::drill
