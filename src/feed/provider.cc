// The provider process: a publishing thread with reconnection, and an HTTP
// server for recovery requests, the provider's truth and misbehaviour.
#include "feed/provider.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/http/http_server.h"
#include "tools/backoff.h"
#include "tools/server_process.h"

namespace betcore::feed {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// What the control endpoints ask of the publisher; guarded by Provider::mu_.
struct Misbehaviour {
  std::map<std::string, Clock::time_point> silent_until;  // producer -> end of silence
  Clock::time_point disconnected_until{};
  int duplicate_per_mille = 0;
  int reorder_per_mille = 0;
  int malformed_pending = 0;
};

struct Counters {
  uint64_t published = 0, duplicated = 0, reordered = 0, malformed = 0, dropped = 0,
           recoveries = 0, reconnects = 0;
};

class Provider {
 public:
  explicit Provider(const ProviderOptions& options)
      : options_(options), world_(options.world), rng_(options.world.seed ^ 0x5eed) {}

  void run_publisher(const std::atomic<bool>& stop);
  http::Response handle(const http::Request& request);

 private:
  void tick(Clock::time_point now);
  void publish_outbox(Amqp& amqp);
  std::vector<std::string> silent_producers(Clock::time_point now);
  http::Response control(std::string_view what, const http::Request& request);
  json state_json() const;

  ProviderOptions options_;
  mutable std::mutex mu_;
  ProviderWorld world_;
  tools::SplitMix64 rng_;
  std::deque<Message> outbox_;   // to publish, in order
  std::vector<std::string> garbage_;  // malformed bodies to publish
  Misbehaviour bad_;
  Counters counters_;
  std::map<std::string, bool> session_lost_;  // producer -> next alive says subscribed:false
  Clock::time_point next_alive_{};
  Clock::time_point last_tick_{};
  double odds_credit_ = 0;
  bool connected_ = false;
};

std::vector<std::string> Provider::silent_producers(Clock::time_point now) {
  std::vector<std::string> silent;
  for (const auto& [producer, until] : bad_.silent_until) {
    if (now < until) silent.push_back(producer);
  }
  return silent;
}

// One step of the provider's world: alives, odds changes, misbehaviour.
void Provider::tick(Clock::time_point now) {
  std::lock_guard lock(mu_);
  int64_t ts = wall_ms();
  std::vector<std::string> silent = silent_producers(now);
  if (now >= next_alive_) {
    next_alive_ = now + std::chrono::milliseconds(options_.alive_interval_ms);
    for (const std::string& p : world_.producers()) {
      if (std::find(silent.begin(), silent.end(), p) != silent.end()) continue;
      // subscribed:false until the customer asks for a recovery of p.
      outbox_.push_back(world_.alive(p, ts, !session_lost_[p]));
    }
  }
  double dt = last_tick_ == Clock::time_point{} ? 0 : std::chrono::duration<double>(now - last_tick_).count();
  last_tick_ = now;
  odds_credit_ = std::min(odds_credit_ + dt * options_.selections_per_s, options_.selections_per_s);
  while (odds_credit_ >= 3) {
    if (bad_.reorder_per_mille > 0 && rng_.chance(static_cast<uint32_t>(bad_.reorder_per_mille))) {
      for (Message& m : world_.reordered_pair(ts, silent)) outbox_.push_back(std::move(m));
      ++counters_.reordered;
      odds_credit_ -= 6;
      continue;
    }
    std::vector<Message> changes = world_.odds_changes(1, ts, silent);
    if (changes.empty()) {
      odds_credit_ = 0;
      break;
    }
    for (Message& m : changes) {
      odds_credit_ -= static_cast<double>(m.prices.size());
      if (bad_.duplicate_per_mille > 0 && rng_.chance(static_cast<uint32_t>(bad_.duplicate_per_mille))) {
        outbox_.push_back(m);
        ++counters_.duplicated;
      }
      outbox_.push_back(std::move(m));
    }
  }
  for (; bad_.malformed_pending > 0; --bad_.malformed_pending) {
    static constexpr std::array<const char*, 4> kGarbage = {
        R"({"kind":"odds_change","producer":"live","seq":1)",
        R"({"kind":"odds_change","producer":"live","seq":-4,"ts":1,"market_id":"m-1-1","prices":[]})",
        R"({"kind":"teleport","producer":"live","seq":1,"ts":1})", "\xff\xfe not json"};
    garbage_.push_back(kGarbage[rng_.below(kGarbage.size())]);
  }
}

void Provider::publish_outbox(Amqp& amqp) {
  std::vector<Message> batch;
  std::vector<std::string> garbage;
  {
    std::lock_guard lock(mu_);
    size_t n = std::min<size_t>(outbox_.size(), 2000);
    // Copies: until the broker confirms them they stay in the outbox, to be
    // sent again after a reconnect.
    batch.assign(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(n));
    garbage.swap(garbage_);
  }
  for (const Message& m : batch) amqp.publish(options_.exchange, routing_key(m), to_json(m));
  for (const std::string& g : garbage) amqp.publish(options_.exchange, "live.odds_change.garbage", g);
  amqp.wait_confirms(10000);
  std::lock_guard lock(mu_);
  // Confirmed: now they are the customer's. (On a failure they stay in the
  // outbox and go again after the reconnect: at least once.)
  outbox_.erase(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(batch.size()));
  counters_.published += batch.size();
  counters_.malformed += garbage.size();
}

void Provider::run_publisher(const std::atomic<bool>& stop) {
  tick(Clock::now());  // the first alives go before the fixtures of their producers
  {
    std::lock_guard lock(mu_);
    for (Message& m : world_.fixtures(wall_ms())) outbox_.push_back(std::move(m));
  }
  tools::Backoff backoff(200, 5000, options_.world.seed);
  std::unique_ptr<Amqp> amqp;
  while (!stop.load()) {
    auto now = Clock::now();
    tick(now);
    bool disconnected;
    {
      std::lock_guard lock(mu_);
      disconnected = now < bad_.disconnected_until;
      if (disconnected) {
        // Told to lose the connection: what it would have sent is lost, and
        // the customer hears so in the next alive (subscribed: false).
        counters_.dropped += outbox_.size();
        std::erase_if(outbox_, [](const Message& m) { return m.kind != Kind::fixture; });
        for (const std::string& p : world_.producers()) session_lost_[p] = true;
      }
    }
    if (disconnected) {
      if (amqp) spdlog::warn("feed-provider: dropping the RabbitMQ connection as told");
      amqp.reset();
      connected_ = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    try {
      if (!amqp) {
        amqp = std::make_unique<Amqp>(options_.amqp);
        amqp->declare_exchange(options_.exchange);
        if (!options_.queue.empty()) amqp->declare_queue(options_.queue, options_.exchange, "#");
        amqp->enable_confirms();
        std::lock_guard lock(mu_);
        if (counters_.reconnects++ > 0) {
          for (const std::string& p : world_.producers()) session_lost_[p] = true;
        }
        spdlog::info("feed-provider: publishing to exchange {} at {}:{}", options_.exchange,
                     options_.amqp.host, options_.amqp.port);
        backoff.reset();
      }
      publish_outbox(*amqp);
    } catch (const AmqpError& e) {
      amqp.reset();
      int wait = backoff.next_ms();
      spdlog::warn("feed-provider: {}; reconnecting in {} ms", e.what(), wait);
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

json Provider::state_json() const {
  json markets = json::array();
  for (const auto& [id, m] : world_.truth()) {
    json prices = json::array();
    for (const Price& p : m.prices) prices.push_back({{"selection_id", p.selection_id}, {"odds", p.odds}});
    json results = json::array();
    for (const Result& r : m.results) results.push_back({{"selection_id", r.selection_id}, {"result", r.result}});
    markets.push_back({{"market_id", id}, {"event_id", m.event_id}, {"producer", m.producer},
                       {"prices", prices}, {"ts", m.ts}, {"seq", m.seq}, {"status", m.status},
                       {"results", results}});
  }
  return {{"markets", markets},
          {"outbox", outbox_.size()},
          {"published", counters_.published},
          {"duplicated", counters_.duplicated},
          {"reordered", counters_.reordered},
          {"malformed", counters_.malformed},
          {"dropped", counters_.dropped},
          {"recoveries", counters_.recoveries},
          {"connections", counters_.reconnects}};
}

http::Response Provider::control(std::string_view what, const http::Request& request) {
  auto param = [&](const char* key) { return request.query_param(key).value_or(""); };
  auto number = [&](const char* key, int fallback) {
    std::string v = param(key);
    return v.empty() ? fallback : std::atoi(v.c_str());
  };
  auto now = Clock::now();
  int64_t ts = wall_ms();
  std::lock_guard lock(mu_);
  auto queue = [&](std::vector<Message> messages) {
    if (messages.empty()) return http::Response::error(404, "not_found", "no such market");
    for (Message& m : messages) outbox_.push_back(std::move(m));
    return http::Response::json(200, R"({"queued":true})");
  };
  if (what == "silent") {
    bad_.silent_until[param("producer")] = now + std::chrono::seconds(number("seconds", 3600));
  } else if (what == "talk") {
    bad_.silent_until.erase(param("producer"));
  } else if (what == "disconnect") {
    bad_.disconnected_until = now + std::chrono::milliseconds(number("ms", 3000));
  } else if (what == "duplicate") {
    bad_.duplicate_per_mille = std::clamp(number("per_mille", 0), 0, 1000);
  } else if (what == "reorder") {
    bad_.reorder_per_mille = std::clamp(number("per_mille", 0), 0, 1000);
  } else if (what == "malformed") {
    bad_.malformed_pending += std::clamp(number("count", 1), 0, 10000);
  } else if (what == "rate") {
    options_.selections_per_s = std::max(0, number("selections_per_s", 0));
  } else if (what == "bet-stop") {
    return queue(world_.bet_stop(param("market"), ts));
  } else if (what == "bet-start") {
    return queue(world_.bet_start(param("market"), ts));
  } else if (what == "settle") {
    return queue(world_.settle(param("market"), param("winner"), ts));
  } else if (what == "rollback") {
    return queue(world_.rollback(param("market"), param("winner"), ts));
  } else if (what == "cancel") {
    return queue(world_.cancel(param("market"), ts));
  } else {
    return http::Response::error(404, "not_found", fmt::format("no control {}", what));
  }
  return http::Response::json(200, R"({"ok":true})");
}

// POST /v1/recovery/{producer}?after=MS&request_id=ID   (the customer's recovery)
// GET  /v1/state                                        (the provider's truth)
// POST /control/{silent|talk|disconnect|duplicate|reorder|malformed|rate|
//                bet-stop|bet-start|settle|rollback|cancel}?...
http::Response Provider::handle(const http::Request& request) {
  std::string_view path = request.path();
  if (request.method == http::Method::get && path == "/v1/state") {
    std::lock_guard lock(mu_);
    return http::Response::json(200, state_json().dump());
  }
  if (request.method != http::Method::post) {
    return http::Response::error(405, "method_not_allowed", "use GET /v1/state or POST");
  }
  if (path.starts_with("/control/")) return control(path.substr(9), request);
  if (path.starts_with("/v1/recovery/")) {
    std::string producer(path.substr(13));
    std::string after = request.query_param("after").value_or("0");
    std::string request_id = request.query_param("request_id").value_or("");
    if (request_id.empty()) return http::Response::error(400, "invalid_request", "request_id is required");
    std::lock_guard lock(mu_);
    auto& producers = world_.producers();
    if (std::find(producers.begin(), producers.end(), producer) == producers.end()) {
      return http::Response::error(404, "not_found", fmt::format("no producer {}", producer));
    }
    std::vector<Message> replay = world_.recovery(producer, std::atoll(after.c_str()), request_id, wall_ms());
    ++counters_.recoveries;
    session_lost_[producer] = false;
    spdlog::info("feed-provider: recovery {} of {} after {}: {} messages", request_id, producer, after,
                 replay.size());
    for (Message& m : replay) outbox_.push_back(std::move(m));
    return http::Response::json(202, json{{"request_id", request_id}, {"messages", replay.size()}}.dump());
  }
  return http::Response::error(404, "not_found", "no such route");
}

}  // namespace

int run_provider(const ProviderOptions& options) {
  const sigset_t stop_signals = tools::block_stop_signals();

  Provider provider(options);
  http::Options http_options;
  http_options.host = options.listen_host;
  http_options.port = options.listen_port;
  http::Server server(http_options, [&provider](http::Request&& request, http::Responder responder) {
    responder.send(provider.handle(request));
  });
  if (http::Status s = server.start(); !s.ok()) {
    spdlog::error("feed-provider: cannot listen on {}:{}: {}; choose another --listen",
                  options.listen_host, options.listen_port, s.error);
    return 1;
  }
  spdlog::info("feed-provider ready on http://{}:{}", options.listen_host, server.bound_port());
  std::atomic<bool> stop{false};
  std::thread publisher([&] { provider.run_publisher(stop); });
  int sig = tools::wait_for_stop_signal(stop_signals);
  spdlog::info("feed-provider: signal {}: stopping", sig);
  stop = true;
  publisher.join();
  server.stop();
  return 0;
}

}  // namespace betcore::feed
