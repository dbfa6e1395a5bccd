// The payout pipeline's workers and steps (payouts.h).
#include "payments/payouts.h"

#include "payments/reconcile.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "ops/metrics.h"
#include "tools/backoff.h"

namespace betcore::payments {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct PayoutPipeline::Job {
  enum class Stage { check, pay, poll, finish };
  Withdrawal w;
  Stage stage = Stage::check;
  std::string payout_id;
  bool paid = false;
  std::string reason;  // when not paid
  bool retry = false;  // the next gateway call repeats one that failed
  int polls = 0;
  tools::Backoff backoff;
  Clock::time_point added = Clock::now();

  Job(Withdrawal w_in, int base_ms, int cap_ms, uint64_t seed)
      : w(std::move(w_in)), backoff(base_ms, cap_ms, seed) {}
};

struct PayoutPipeline::Metrics {
  explicit Metrics(ops::Registry& r)
      : completed(outcome(r, "completed")),
        failed(outcome(r, "failed")),
        already(outcome(r, "already_finished")),
        conflict(outcome(r, "conflict")),
        betcore_errors(r.counter("betcore_payments_betcore_errors_total",
                                 "Calls to betcore that failed and will be retried")),
        latency(r.histogram("betcore_payments_payout_seconds",
                            "From reading a withdrawal to its outcome being in betcore")) {}
  static ops::Counter& outcome(ops::Registry& r, const char* o) {
    return r.counter("betcore_payments_withdrawals_total",
                     "Withdrawals the adapter finished, by outcome (conflict: a person must look)",
                     {{"outcome", o}});
  }
  ops::Counter& completed;
  ops::Counter& failed;
  ops::Counter& already;
  ops::Counter& conflict;
  ops::Counter& betcore_errors;
  ops::Histogram& latency;
  std::vector<ops::Registration> callbacks;
};

PayoutPipeline::PayoutPipeline(const PipelineConfig& config, GatewayEndpoints& gateway,
                               Progress& progress, ops::Registry& metrics)
    : config_(config),
      gateway_(gateway),
      progress_(progress),
      metrics_(std::make_unique<Metrics>(metrics)) {
  metrics_->callbacks.push_back(metrics.gauge_callback(
      "betcore_payments_queue_depth", "Withdrawals read and not yet finished", {},
      [this] { return static_cast<double>(progress_.owed()); }));
}

PayoutPipeline::~PayoutPipeline() { stop(); }

void PayoutPipeline::start() {
  std::lock_guard lock(mu_);
  stopping_ = false;
  for (int i = 0; i < config_.workers; ++i) workers_.emplace_back([this, i] { run_worker(i); });
}

void PayoutPipeline::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void PayoutPipeline::add(Withdrawal w) {
  static std::atomic<uint64_t> seed{0x9a1};
  schedule(std::make_unique<Job>(std::move(w), config_.backoff_base_ms, config_.backoff_cap_ms,
                                 seed.fetch_add(0x9e3779b97f4a7c15)),
           0);
}

size_t PayoutPipeline::queued() const {
  std::lock_guard lock(mu_);
  return due_.size();
}

void PayoutPipeline::schedule(std::unique_ptr<Job> job, int delay_ms) {
  {
    std::lock_guard lock(mu_);
    due_.emplace(Clock::now() + std::chrono::milliseconds(delay_ms), std::move(job));
  }
  cv_.notify_one();
}

void PayoutPipeline::run_worker(int) {
  GatewayClient gateway(gateway_);
  tools::HttpClientOptions o;
  o.request_timeout_ms = 10000;
  tools::HttpClient betcore(config_.betcore, o);
  std::unique_lock lock(mu_);
  for (;;) {
    if (stopping_) return;
    if (due_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto when = due_.begin()->first;
    if (when > Clock::now()) {
      cv_.wait_until(lock, when);
      continue;
    }
    std::unique_ptr<Job> job = std::move(due_.begin()->second);
    due_.erase(due_.begin());
    lock.unlock();
    std::optional<int> next;
    for (;;) {
      next = step(*job, gateway, betcore);
      if (!next || *next > 0) break;
    }
    if (next) {
      schedule(std::move(job), *next);
    } else {
      progress_.done(job->w.withdrawal_id);
    }
    lock.lock();
  }
}

std::string PayoutPipeline::currency_of(const std::string& account_id,
                                        tools::HttpClient& betcore) {
  {
    std::lock_guard lock(currency_mu_);
    if (auto it = currencies_.find(account_id); it != currencies_.end()) return it->second;
  }
  tools::Response r = betcore.get("/v1/accounts/" + account_id, config_.token);
  if (r.status != 200) return "";
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("currency") || !j["currency"].is_string()) return "";
  std::string c = j["currency"].get<std::string>();
  std::lock_guard lock(currency_mu_);
  currencies_.emplace(account_id, c);
  return c;
}

std::optional<int> PayoutPipeline::step(Job& job, GatewayClient& gateway,
                                        tools::HttpClient& betcore) {
  const std::string& id = job.w.withdrawal_id;
  auto betcore_failed = [&](const tools::Response& r, const char* what) {
    metrics_->betcore_errors.inc();
    spdlog::warn("payments: {} of withdrawal {} failed ({}); retrying", what, id,
                 r.status == 0 ? r.error : "HTTP " + std::to_string(r.status));
    return job.backoff.next_ms();
  };
  // After a gateway call that did not go through: when to try again.
  auto gateway_wait = [&](const Call& c, Breaker& breaker) {
    if (c.result == CallResult::failed) job.retry = true;
    const int backoff = job.backoff.next_ms();
    if (c.result == CallResult::not_permitted) {
      return static_cast<int>(std::max<int64_t>(backoff, breaker.open_remaining_ms()));
    }
    return backoff;
  };

  switch (job.stage) {
    case Job::Stage::check: {
      // Already finished (read again after a restart)? Then nothing to do.
      tools::Response r = betcore.get("/v1/withdrawals/" + id, config_.token);
      if (r.status != 200) return betcore_failed(r, "reading the status");
      json j = json::parse(r.body, nullptr, false);
      if (j.is_object() && j.value("status", "") != "pending") {
        metrics_->already.inc();
        return std::nullopt;
      }
      job.stage = Job::Stage::pay;
      job.backoff.reset();
      return 0;
    }
    case Job::Stage::pay: {
      const std::string currency = currency_of(job.w.account_id, betcore);
      if (currency.empty()) {
        return betcore_failed(tools::Response{}, "reading the account's currency");
      }
      Call c = gateway.create_payout(
          PayoutRequest{id, job.w.amount, currency, job.w.account_id, id}, job.retry);
      if (c.result == CallResult::ok) {
        job.retry = false;
        job.backoff.reset();
        job.payout_id = c.payout.payout_id;
        if (c.payout.status == "processing") {
          job.stage = Job::Stage::poll;
          return config_.poll_ms;
        }
        job.paid = c.payout.status == "paid";
        job.reason = fail_reason_of(c.payout);
        job.stage = Job::Stage::finish;
        return 0;
      }
      if (c.result == CallResult::rejected) {
        if (c.status == 401 || c.status == 403) {
          spdlog::error("payments: the gateway refuses our API key ({}): check --secrets; "
                        "withdrawal {} waits",
                        c.error, id);
          return job.backoff.next_ms();
        }
        if (c.code == "idempotency_key_reused") {
          metrics_->conflict.inc();
          spdlog::error("payments: ALERT withdrawal {}: the gateway holds another payout under "
                        "this key ({}); not paid, left pending: check it by hand and run "
                        "`betcore payments reconcile`",
                        id, c.error);
          return std::nullopt;
        }
        // The gateway will never make this payout: the money goes back.
        job.paid = false;
        job.reason = "gateway refused: " + (c.code.empty() ? c.error : c.code);
        job.stage = Job::Stage::finish;
        return 0;
      }
      return gateway_wait(c, gateway_.create_payout());
    }
    case Job::Stage::poll: {
      Call c = gateway.get_payout(job.payout_id, job.retry);
      if (c.result == CallResult::ok) {
        job.retry = false;
        job.backoff.reset();
        if (c.payout.status == "processing") {
          ++job.polls;
          return std::min(5000, config_.poll_ms << std::min(job.polls, 5));
        }
        job.paid = c.payout.status == "paid";
        job.reason = fail_reason_of(c.payout);
        job.stage = Job::Stage::finish;
        return 0;
      }
      if (c.result == CallResult::rejected) {
        // Not found by id: ask again by key, which finds it or makes it.
        job.stage = Job::Stage::pay;
        return job.backoff.next_ms();
      }
      return gateway_wait(c, gateway_.get_payout());
    }
    case Job::Stage::finish: {
      tools::Response r =
          job.paid ? betcore.post("/v1/withdrawals/" + id + "/complete",
                                  json{{"gateway_ref", job.payout_id}}.dump(), config_.token)
                   : betcore.post("/v1/withdrawals/" + id + "/fail",
                                  json{{"reason", job.reason}}.dump(),
                                  config_.token);
      if (r.status == 200 || r.status == 201) {
        (job.paid ? metrics_->completed : metrics_->failed).inc();
        metrics_->latency.observe(Clock::now() - job.added);
        return std::nullopt;
      }
      if (r.status == 0 || r.status >= 500 || r.status == 429) {
        return betcore_failed(r, job.paid ? "completing" : "failing");
      }
      metrics_->conflict.inc();
      spdlog::error("payments: ALERT withdrawal {}: the gateway says {} (payout {}) but betcore "
                    "answered {} {}; run `betcore payments reconcile` and settle it by hand",
                    id, job.paid ? "paid" : "failed", job.payout_id, r.status, r.body);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace betcore::payments
