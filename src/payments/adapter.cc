// The payments adapter's process: the stream reader, the state file, the
// webhook and metrics server, the periodic reconciliation (adapter.h).
#include "payments/adapter.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "api/http/http_server.h"
#include "ops/metrics.h"
#include "ops/process_metrics.h"
#include "payments/progress.h"
#include "payments/signature.h"
#include "tools/backoff.h"
#include "tools/line_stream.h"
#include "tools/server_process.h"

namespace betcore::payments {

using json = nlohmann::json;

namespace {

// Sleeps up to `ms`, waking early when `stop` is set.
class Sleeper {
 public:
  void sleep_ms(int64_t ms) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stop_; });
  }
  void wake_all() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
  }
  bool stopped() {
    std::lock_guard lock(mu_);
    return stop_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

class Adapter {
 public:
  Adapter(const AdapterOptions& o, ops::Registry& registry, Position start)
      : options_(o),
        registry_(registry),
        gateway_(o.gateway, registry),
        progress_(start),
        pipeline_(
            PipelineConfig{o.betcore, o.token, o.workers, o.backoff_base_ms, o.backoff_cap_ms, o.poll_ms},
            gateway_, progress_, registry),
        webhooks_(WebhookConfig{o.betcore, o.token, o.webhook_secret, 300, o.webhook_threads, 10000},
                  registry),
        stream_lines_(registry.counter("betcore_payments_stream_events_total",
                                       "Events read from betcore's /v1/stream")),
        stream_connected_(registry.gauge("betcore_payments_stream_connected",
                                         "1 while the adapter reads betcore's stream")),
        differences_(registry.gauge("betcore_payments_reconcile_unrepaired",
                                    "Differences the last reconciliation could not repair")),
        reconcile_runs_(registry.counter("betcore_payments_reconcile_runs_total",
                                         "Reconciliation passes finished")) {
    position_gauge_ = registry.gauge_callback(
        "betcore_payments_stream_resume_index",
        "The log index the adapter would resume from after a restart", {},
        [this] { return static_cast<double>(progress_.resume_point().index); });
  }

  WebhookReceiver& webhooks() { return webhooks_; }
  GatewayEndpoints& gateway() { return gateway_; }

  void run() {
    pipeline_.start();
    webhooks_.start();
    std::thread saver([this] { save_loop(); });
    std::thread reconciler([this] { reconcile_loop(); });
    read_stream();
    pipeline_.stop();
    webhooks_.stop();
    saver.join();
    reconciler.join();
    save();
  }

  void stop() {
    sleeper_.wake_all();
    {
      std::lock_guard lock(asked_mu_);
      stopping_ = true;
    }
    asked_cv_.notify_all();
    std::lock_guard lock(stream_mu_);
    if (stream_ != nullptr) stream_->cancel();
  }

  ReconcileReport reconcile_now(bool repair, int64_t grace_ms) {
    GatewayClient client(gateway_);
    ReconcileOptions ro{options_.betcore, options_.token, repair, grace_ms,
                        options_.gateway_ref_prefix};
    std::lock_guard lock(reconcile_mu_);  // one pass at a time
    ReconcileReport report = reconcile(client, ro);
    reconcile_runs_.inc();
    differences_.set(static_cast<double>(report.unrepaired()));
    for (const Difference& d : report.differences) {
      if (d.repaired) {
        spdlog::warn("payments: reconcile repaired {} {}: {}", d.kind, d.id, d.detail);
      } else {
        spdlog::error("payments: ALERT reconcile found {} {}: {}", d.kind, d.id, d.detail);
      }
    }
    if (!report.error.empty()) spdlog::error("payments: reconcile stopped early: {}", report.error);
    return report;
  }

 private:
  void read_stream() {
    tools::Backoff backoff(200, 5000, 0x57e4);
    while (!sleeper_.stopped()) {
      const Position from = progress_.resume_point();
      tools::LineStream stream;
      {
        std::lock_guard lock(stream_mu_);
        stream_ = &stream;
      }
      const std::string target = "/v1/stream?from=" + std::to_string(from.index) +
                                 "&after_seq=" + std::to_string(from.seq);
      tools::Response r = sleeper_.stopped() ? tools::Response{}
                                             : stream.open(options_.betcore, target, options_.token);
      if (r.status == 200) {
        stream_connected_.set(1);
        spdlog::info("payments: reading betcore's stream from index {} (after event {})",
                     from.index, from.seq);
        std::string line;
        while (stream.next_line(line)) {
          backoff.reset();
          handle_line(line);
        }
        stream_connected_.set(0);
        if (!sleeper_.stopped()) {
          spdlog::warn("payments: betcore's stream ended ({}); reconnecting", stream.error());
        }
      } else if (r.status == 404) {
        // The node no longer keeps events that far back (the adapter was
        // stopped across a snapshot): resync from the API, then stream on.
        if (!resync(r.body)) {
          spdlog::error("payments: ALERT cannot resync from betcore ({}); retrying", r.body);
        }
      } else if (!sleeper_.stopped()) {
        spdlog::warn("payments: cannot read betcore's stream at {}: {}; retrying",
                     options_.betcore.host_port(),
                     r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body);
      }
      {
        std::lock_guard lock(stream_mu_);
        stream_ = nullptr;
      }
      sleeper_.sleep_ms(backoff.next_ms());
    }
  }

  // Owes every withdrawal betcore has pending, then moves the position to
  // the first index the node still keeps (from its 404's message).
  bool resync(const std::string& not_found_body) {
    json e = json::parse(not_found_body, nullptr, false);
    const std::string message =
        e.is_object() && e.contains("error") ? e["error"].value("message", "") : "";
    const size_t at = message.rfind("stream from ");
    if (at == std::string::npos) return false;
    const uint64_t first = std::strtoull(message.c_str() + at + 12, nullptr, 10);
    if (first == 0) return false;
    spdlog::warn("payments: betcore keeps events from index {} only; resyncing: every pending "
                 "withdrawal is read from GET /v1/withdrawals?status=pending",
                 first);
    tools::HttpClient betcore(options_.betcore);
    std::string after;
    size_t owed = 0;
    for (;;) {
      std::string target = "/v1/withdrawals?status=pending&limit=1000";
      if (!after.empty()) target += "&after=" + after;
      tools::Response r = betcore.get(target, options_.token);
      json page = json::parse(r.body, nullptr, false);
      if (r.status != 200 || !page.is_object() || !page.contains("withdrawals")) return false;
      for (const json& w : page["withdrawals"]) {
        Withdrawal wd{w.value("withdrawal_id", ""), w.value("account_id", ""),
                      w.value("amount", int64_t{0})};
        if (!wd.withdrawal_id.empty() && progress_.owe(Position{first, 0}, wd.withdrawal_id)) {
          pipeline_.add(std::move(wd));
          ++owed;
        }
      }
      if (!page.contains("next") || !page["next"].is_string()) break;
      after = page["next"].get<std::string>();
    }
    progress_.jump_to(Position{first, 0});
    spdlog::warn("payments: resynced: {} pending withdrawals owed; streaming from index {}", owed,
                 first);
    return true;
  }

  void handle_line(const std::string& line) {
    stream_lines_.inc();
    json j = json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("index") || !j["index"].is_number_unsigned() ||
        !j.contains("seq") || !j["seq"].is_number_unsigned()) {
      spdlog::error("payments: a stream line is not an event: {}", line.substr(0, 200));
      return;
    }
    const Position at{j["index"].get<uint64_t>(), j["seq"].get<uint32_t>()};
    if (j.value("type", "") == "withdrawal_requested" && j.contains("withdrawal")) {
      const json& w = j["withdrawal"];
      Withdrawal wd{w.value("withdrawal_id", ""), w.value("account_id", ""),
                    w.value("amount", int64_t{0})};
      if (!wd.withdrawal_id.empty() && progress_.owe(at, wd.withdrawal_id)) {
        pipeline_.add(std::move(wd));
      }
    }
    progress_.seen(at);
  }

  void save() {
    if (options_.state_file.empty()) return;
    const Position p = progress_.resume_point();
    if (p == saved_) return;
    std::string error;
    if (!write_position(options_.state_file, p, &error)) {
      spdlog::error("payments: cannot save the stream position: {}", error);
      return;
    }
    saved_ = p;
  }

  void save_loop() {
    while (!sleeper_.stopped()) {
      save();
      sleeper_.sleep_ms(200);
    }
  }

  // Passes on a timer, and on demand (POST /reconcile), one at a time.
  void reconcile_loop() {
    auto next = std::chrono::steady_clock::now() +
                std::chrono::seconds(std::max(1, options_.reconcile_interval_s));
    std::unique_lock lock(asked_mu_);
    for (;;) {
      if (options_.reconcile_interval_s > 0) {
        asked_cv_.wait_until(lock, next, [&] { return stopping_ || !asked_.empty(); });
      } else {
        asked_cv_.wait(lock, [&] { return stopping_ || !asked_.empty(); });
      }
      if (stopping_) break;
      std::vector<std::pair<http::Responder, bool>> asked = std::move(asked_);
      asked_.clear();
      lock.unlock();
      if (asked.empty()) {
        reconcile_now(true, options_.reconcile_grace_ms);
        next = std::chrono::steady_clock::now() + std::chrono::seconds(options_.reconcile_interval_s);
      }
      for (auto& [responder, repair] : asked) {
        responder.send(http::Response::json(200, reconcile_now(repair, 0).to_json()));
      }
      lock.lock();
    }
    for (auto& [responder, repair] : asked_) {
      responder.send(http::Response::error(503, "unavailable", "the adapter is stopping"));
    }
    asked_.clear();
  }

 public:
  void ask_reconcile(http::Responder responder, bool repair) {
    {
      std::lock_guard lock(asked_mu_);
      asked_.emplace_back(std::move(responder), repair);
    }
    asked_cv_.notify_one();
  }

 private:
  const AdapterOptions options_;
  ops::Registry& registry_;
  GatewayEndpoints gateway_;
  Progress progress_;
  PayoutPipeline pipeline_;
  WebhookReceiver webhooks_;
  ops::Counter& stream_lines_;
  ops::Gauge& stream_connected_;
  ops::Gauge& differences_;
  ops::Counter& reconcile_runs_;
  ops::Registration position_gauge_;
  Sleeper sleeper_;
  std::mutex stream_mu_;
  tools::LineStream* stream_ = nullptr;
  std::mutex reconcile_mu_;
  std::mutex asked_mu_;
  std::condition_variable asked_cv_;
  bool stopping_ = false;  // guarded by asked_mu_
  std::vector<std::pair<http::Responder, bool>> asked_;
  Position saved_{UINT64_MAX, 0};
};

}  // namespace

int run_adapter(const AdapterOptions& options) {
  const sigset_t stop_signals = tools::block_stop_signals();
  Position start;
  if (!options.state_file.empty()) {
    std::string error;
    std::optional<Position> p = read_position(options.state_file, &error);
    if (!error.empty()) {
      spdlog::error("payments: {}", error);
      return 2;
    }
    if (p) start = *p;
  }
  ops::Registry registry;
  const auto process_series = ops::register_process_metrics(registry);
  Adapter adapter(options, registry, start);

  http::Options http_options;
  http_options.host = options.listen_host;
  http_options.port = options.listen_port;
  http_options.threads = 2;
  http_options.capture_headers = {std::string(kSignatureHeader)};
  http_options.metrics = &registry;
  http::Server server(http_options, [&](http::Request&& request, http::Responder r) {
    const std::string_view path = request.path();
    if (path == "/webhooks/gateway" && request.method == http::Method::post) {
      adapter.webhooks().handle(std::move(request), std::move(r));
    } else if (path == "/metrics") {
      r.send(http::metrics_response(registry));
    } else if (path == "/health/live" || path == "/health/ready") {
      r.send(http::Response::json(200, R"({"status":"ok"})"));
    } else if (path == "/reconcile" && request.method == http::Method::post) {
      // A full pass now (no grace), on the reconciler's thread; the answer is
      // its report. The port also faces the PSP's webhooks: only a caller
      // with the adapter's own payments token may ask.
      if (!payments::same_secret(request.authorization, "Bearer " + options.token)) {
        r.send(http::Response::error(401, "unauthorized",
                                     "POST /reconcile needs Authorization: Bearer <payments token>"));
        return;
      }
      const bool repair = request.query_param("repair").value_or("false") == "true";
      adapter.ask_reconcile(std::move(r), repair);
    } else {
      r.send(http::Response::error(404, "not_found",
                                   "here: POST /webhooks/gateway, GET /metrics, GET /health/ready, "
                                   "POST /reconcile?repair=true"));
    }
  });
  if (http::Status s = server.start(); !s.ok()) {
    spdlog::error("payments: cannot listen on {}:{}: {}; choose another --listen",
                  options.listen_host, options.listen_port, s.error);
    return 1;
  }
  spdlog::info("payments adapter listening on http://{}:{} (webhooks at /webhooks/gateway, "
               "/metrics); betcore at {}, gateway at {}; resuming from index {}",
               options.listen_host, server.bound_port(), options.betcore.host_port(),
               options.gateway.url.host_port(), start.index);
  std::thread main([&] { adapter.run(); });
  const int sig = tools::wait_for_stop_signal(stop_signals);
  spdlog::info("payments: signal {}: stopping (withdrawals in flight resume at the next start)",
               sig);
  adapter.stop();
  main.join();
  server.stop();
  return 0;
}

}  // namespace betcore::payments
