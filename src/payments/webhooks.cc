// The deposit webhook receiver (webhooks.h).
#include "payments/webhooks.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "ops/metrics.h"
#include "payments/signature.h"

namespace betcore::payments {

using json = nlohmann::json;

struct WebhookReceiver::Metrics {
  // Every outcome registered up front (a dashboard sees zeros, not gaps),
  // and looked up without the registry's lock afterwards.
  explicit Metrics(ops::Registry& r) {
    for (const char* o : {"credited", "bad_signature", "too_old", "too_new", "malformed", "ignored",
                          "conflict", "refused", "retry_later"}) {
      by_outcome.emplace(o, &r.counter("betcore_payments_webhooks_total",
                                       "Gateway webhooks received, by outcome (bad_signature, "
                                       "too_old, too_new and malformed were refused)",
                                       {{"outcome", o}}));
    }
  }
  ops::Counter& outcome(std::string_view o) { return *by_outcome.at(std::string(o)); }
  std::map<std::string, ops::Counter*> by_outcome;
};

WebhookReceiver::WebhookReceiver(const WebhookConfig& config, ops::Registry& metrics)
    : config_(config), metrics_(std::make_unique<Metrics>(metrics)) {}

WebhookReceiver::~WebhookReceiver() { stop(); }

void WebhookReceiver::start() {
  std::lock_guard lock(mu_);
  stopping_ = false;
  for (int i = 0; i < config_.threads; ++i) threads_.emplace_back([this] { run(); });
}

void WebhookReceiver::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  // What was queued is answered 503 by the Responders' destructors' 500 —
  // either way the gateway delivers it again.
  std::lock_guard lock(mu_);
  for (Deposit& d : queue_) {
    d.responder.send(http::Response::error(503, "unavailable", "the adapter is stopping"));
  }
  queue_.clear();
}

void WebhookReceiver::handle(http::Request&& request, http::Responder responder) {
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const Verdict v = verify_webhook(config_.webhook_secret, request.header(kSignatureHeader),
                                   request.body, now_s, config_.tolerance_s);
  if (v != Verdict::ok) {
    metrics_->outcome(to_string(v)).inc();
    spdlog::warn("payments: refused a webhook from {}: {}", request.remote, to_string(v));
    responder.send(http::Response::error(
        v == Verdict::bad_signature ? 401 : 400, "invalid_signature",
        std::string("the webhook's Gateway-Signature is refused: ") + std::string(to_string(v))));
    return;
  }
  json j = json::parse(request.body, nullptr, false);
  auto str = [](const json& o, const char* k) {
    return o.is_object() && o.contains(k) && o[k].is_string() ? o[k].get<std::string>()
                                                                 : std::string();
  };
  if (!j.is_object() || str(j, "type").empty()) {
    metrics_->outcome("malformed").inc();
    responder.send(http::Response::error(400, "invalid_request", "the webhook is not an event"));
    return;
  }
  if (str(j, "type") != "deposit.succeeded") {
    metrics_->outcome("ignored").inc();
    responder.send(http::Response::json(200, R"({"ignored":true})"));
    return;
  }
  const json data = j.contains("data") ? j["data"] : json();
  Deposit d;
  d.event_id = str(j, "id");
  d.payment_id = str(data, "payment_id");
  d.account_id = str(data, "account_id");
  d.currency = str(data, "currency");
  if (data.is_object() && data.contains("amount") && data["amount"].is_number_integer()) {
    d.amount = data["amount"].get<int64_t>();
  }
  if (d.payment_id.empty() || d.account_id.empty() || d.amount <= 0 || d.currency.empty()) {
    metrics_->outcome("malformed").inc();
    responder.send(http::Response::error(
        400, "invalid_request", "a deposit needs payment_id, account_id, amount > 0 and currency"));
    return;
  }
  d.responder = std::move(responder);
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < config_.queue_max) {
      queue_.push_back(std::move(d));
      cv_.notify_one();
      return;
    }
  }
  metrics_->outcome("retry_later").inc();
  d.responder.send(http::Response::error(503, "unavailable", "busy: deliver again later"));
}

void WebhookReceiver::run() {
  tools::HttpClient betcore(config_.betcore);
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Deposit d = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    credit(d, betcore);
    lock.lock();
  }
}

void WebhookReceiver::credit(Deposit& d, tools::HttpClient& betcore) {
  // The account's currency must be the payment's: crediting 1000 JPY as
  // 1000 EUR would create money.
  tools::Response acc = betcore.get("/v1/accounts/" + d.account_id, config_.token);
  if (acc.status == 200) {
    json a = json::parse(acc.body, nullptr, false);
    if (a.is_object() && a.value("currency", "") != d.currency) {
      metrics_->outcome("refused").inc();
      spdlog::error("payments: ALERT deposit {} ({} {} for {}): the account is in {}; not "
                    "credited: refund it at the gateway",
                    d.payment_id, d.amount, d.currency, d.account_id, a.value("currency", "?"));
      d.responder.send(http::Response::json(200, R"({"credited":false})"));
      return;
    }
  }
  tools::Response r =
      acc.status == 200 || acc.status == 404
          ? betcore.post("/v1/deposits",
                         json{{"payment_ref", d.payment_id},
                              {"account_id", d.account_id},
                              {"amount", d.amount}}
                             .dump(),
                         config_.token)
          : acc;
  if (r.status == 200 || r.status == 201) {
    metrics_->outcome("credited").inc();
    d.responder.send(http::Response::json(200, R"({"credited":true})"));
    return;
  }
  if (r.status == 0 || r.status >= 500 || r.status == 429 || r.status == 401 || r.status == 403) {
    metrics_->outcome("retry_later").inc();
    spdlog::warn("payments: deposit {} not credited yet ({}); the gateway will deliver it again",
                 d.payment_id, r.status == 0 ? r.error : "HTTP " + std::to_string(r.status));
    d.responder.send(http::Response::error(503, "unavailable", "betcore is not reachable"));
    return;
  }
  // 409: the payment_ref is credited with other details; 404/422/400: betcore
  // will never take it. Delivering again cannot help: a person must act.
  const bool conflict = r.status == 409;
  metrics_->outcome(conflict ? "conflict" : "refused").inc();
  spdlog::error("payments: ALERT deposit {} ({} {} for {}) not credited: betcore answered {} {}; "
                "{}",
                d.payment_id, d.amount, d.currency, d.account_id, r.status, r.body,
                conflict ? "the payment_ref is already credited with other details: compare them"
                         : "refund it at the gateway or fix the account, then credit it by hand");
  d.responder.send(http::Response::json(200, R"({"credited":false})"));
}

}  // namespace betcore::payments
