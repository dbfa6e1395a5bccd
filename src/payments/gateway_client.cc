// Gateway calls through breakers and the retry budget (gateway_client.h).
#include "payments/gateway_client.h"

#include <nlohmann/json.hpp>

#include "ops/metrics.h"

namespace betcore::payments {

using json = nlohmann::json;

std::string_view to_string(CallResult r) {
  switch (r) {
    case CallResult::ok: return "ok";
    case CallResult::rejected: return "rejected";
    case CallResult::failed: return "failed";
    case CallResult::not_permitted: return "not_permitted";
    case CallResult::no_budget: return "no_budget";
  }
  return "unknown";
}

namespace {
constexpr const char* kEndpoints[] = {"create_payout", "get_payout", "list"};
constexpr CallResult kResults[] = {CallResult::ok, CallResult::rejected, CallResult::failed,
                                   CallResult::not_permitted, CallResult::no_budget};
}  // namespace

struct GatewayEndpoints::Metrics {
  // calls[endpoint][result]
  ops::Counter* calls[3][5] = {};
  ops::Histogram* latency[3] = {};
  ops::Counter* retries = nullptr;
  std::vector<ops::Registration> callbacks;

  static int endpoint_index(const char* e) {
    for (int i = 0; i < 3; ++i) {
      if (std::string_view(e) == kEndpoints[i]) return i;
    }
    return 2;
  }
};

GatewayEndpoints::GatewayEndpoints(const GatewayConfig& config, ops::Registry& r)
    : config_(config),
      create_(config.breaker),
      get_(config.breaker),
      list_(config.breaker),
      budget_(config.budget),
      metrics_(std::make_unique<Metrics>()) {
  Metrics& m = *metrics_;
  Breaker* breakers[3] = {&create_, &get_, &list_};
  for (int e = 0; e < 3; ++e) {
    for (int k = 0; k < 5; ++k) {
      m.calls[e][k] = &r.counter("betcore_payments_gateway_calls_total",
                                 "Calls to the payment gateway by endpoint and result "
                                 "(not_permitted and no_budget were not sent)",
                                 {{"endpoint", kEndpoints[e]}, {"result", std::string(to_string(kResults[k]))}});
    }
    m.latency[e] = &r.histogram("betcore_payments_gateway_latency_seconds",
                                "Time of each call sent to the payment gateway",
                                {{"endpoint", kEndpoints[e]}});
    Breaker* b = breakers[e];
    m.callbacks.push_back(r.gauge_callback(
        "betcore_payments_breaker_state",
        "Circuit breaker of each gateway endpoint: 0 closed, 1 open, 2 half-open",
        {{"endpoint", kEndpoints[e]}}, [b] { return static_cast<double>(b->state()); }));
    m.callbacks.push_back(r.counter_callback(
        "betcore_payments_breaker_transitions_total", "Circuit breaker transitions, by new state",
        {{"endpoint", kEndpoints[e]}, {"to", "open"}},
        [b] { return static_cast<double>(b->counts().opened); }));
    m.callbacks.push_back(r.gauge_callback(
        "betcore_payments_breaker_last_opened_timestamp_seconds",
        "Unix time the breaker of each gateway endpoint last opened (0: never): when the adapter "
        "noticed the gateway failing",
        {{"endpoint", kEndpoints[e]}}, [b] {
          const Breaker::Clock::time_point at = b->counts().last_opened;
          if (at == Breaker::Clock::time_point{}) return 0.0;
          const auto ago = std::chrono::duration<double>(Breaker::Clock::now() - at).count();
          return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() - ago;
        }));
    m.callbacks.push_back(r.counter_callback(
        "betcore_payments_breaker_transitions_total", "Circuit breaker transitions, by new state",
        {{"endpoint", kEndpoints[e]}, {"to", "half_open"}},
        [b] { return static_cast<double>(b->counts().half_opened); }));
    m.callbacks.push_back(r.counter_callback(
        "betcore_payments_breaker_transitions_total", "Circuit breaker transitions, by new state",
        {{"endpoint", kEndpoints[e]}, {"to", "closed"}},
        [b] { return static_cast<double>(b->counts().closed); }));
    m.callbacks.push_back(r.counter_callback(
        "betcore_payments_breaker_calls_permitted_total",
        "Calls the breaker let through, by the state it was in",
        {{"endpoint", kEndpoints[e]}, {"state", "closed"}},
        [b] { return static_cast<double>(b->counts().granted_closed); }));
    m.callbacks.push_back(r.counter_callback(
        "betcore_payments_breaker_calls_permitted_total",
        "Calls the breaker let through, by the state it was in",
        {{"endpoint", kEndpoints[e]}, {"state", "half_open"}},
        [b] { return static_cast<double>(b->counts().granted_half_open); }));
  }
  m.retries = &r.counter("betcore_payments_gateway_retries_total",
                         "Gateway calls sent again after a failure (within the retry budget)");
  m.callbacks.push_back(r.counter_callback(
      "betcore_payments_retry_budget_refused_total",
      "Retries the retry budget refused (the work waits instead)", {},
      [this] { return static_cast<double>(budget_.refused()); }));
}

GatewayEndpoints::~GatewayEndpoints() = default;

GatewayClient::GatewayClient(GatewayEndpoints& shared)
    : shared_(shared),
      http_(shared.config().url, [&] {
        tools::HttpClientOptions o;
        o.connect_timeout_ms = std::min(1000, shared.config().timeout_ms);
        o.request_timeout_ms = shared.config().timeout_ms;
        // Payout creation carries an idempotency key and reads are reads:
        // resending on a stale kept-alive connection is safe.
        o.retry_on_stale_connection = true;
        return o;
      }()) {}

std::optional<Payout> parse_payout(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("payout_id") || !j["payout_id"].is_string() ||
      !j.contains("status") || !j["status"].is_string()) {
    return std::nullopt;
  }
  Payout p;
  p.payout_id = j["payout_id"].get<std::string>();
  p.status = j["status"].get<std::string>();
  p.failure_reason = j.value("failure_reason", "");
  p.reference = j.value("reference", "");
  p.destination = j.value("destination", "");
  p.currency = j.value("currency", "");
  if (j.contains("amount") && j["amount"].is_number_integer()) p.amount = j["amount"].get<int64_t>();
  if (j.contains("created_ms") && j["created_ms"].is_number_integer()) {
    p.created_ms = j["created_ms"].get<int64_t>();
  }
  if (p.status != "processing" && p.status != "paid" && p.status != "failed") return std::nullopt;
  return p;
}

Call GatewayClient::send(Breaker& breaker, const char* endpoint, const tools::Request& request,
                         bool retry, std::string* body) {
  GatewayEndpoints::Metrics& m = shared_.metrics();
  const int e = GatewayEndpoints::Metrics::endpoint_index(endpoint);
  Call call;
  auto count = [&](CallResult r) {
    call.result = r;
    m.calls[e][static_cast<int>(r)]->inc();
    return call;
  };
  // The budget is asked first: a retry it refuses takes no breaker permit
  // (a half-open trial slot must go to a call that is really sent).
  if (retry && !shared_.budget().try_withdraw()) {
    call.error = "the retry budget is spent";
    return count(CallResult::no_budget);
  }
  Permit permit = breaker.try_acquire();
  if (!permit.granted) {
    call.error = std::string("the ") + endpoint + " circuit breaker is open";
    return count(CallResult::not_permitted);
  }
  if (retry) {
    m.retries->inc();
  } else {
    shared_.budget().deposit();
  }
  const auto start = std::chrono::steady_clock::now();
  tools::Response r = http_.request(request);
  m.latency[e]->observe(std::chrono::steady_clock::now() - start);
  call.status = r.status;
  if (r.status == 0 || r.status >= 500 || r.status == 429) {
    breaker.record(permit, true);
    call.error = r.status == 0 ? r.error : "gateway answered " + std::to_string(r.status);
    http_.close();  // after a timeout or reset the connection's state is unknown
    return count(CallResult::failed);
  }
  breaker.record(permit, false);
  if (!r.ok()) {
    json j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
      call.code = j["error"].value("code", "");
      call.error = j["error"].value("message", "");
    }
    if (call.error.empty()) call.error = "gateway answered " + std::to_string(r.status);
    return count(CallResult::rejected);
  }
  if (body != nullptr) {
    *body = std::move(r.body);
    return count(CallResult::ok);
  }
  std::optional<Payout> p = parse_payout(r.body);
  if (!p) {
    call.error = "the gateway's payout is not understood: " + r.body.substr(0, 200);
    return count(CallResult::failed);
  }
  call.payout = std::move(*p);
  return count(CallResult::ok);
}

Call GatewayClient::create_payout(const PayoutRequest& request, bool retry) {
  tools::Request r;
  r.method = "POST";
  r.target = "/v1/payouts";
  r.bearer_token = shared_.config().api_key;
  r.headers.emplace_back("Idempotency-Key", request.idempotency_key);
  r.body = json{{"amount", request.amount},
                {"currency", request.currency},
                {"destination", request.destination},
                {"reference", request.reference}}
               .dump();
  return send(shared_.create_payout(), "create_payout", r, retry, nullptr);
}

Call GatewayClient::get_payout(const std::string& payout_id, bool retry) {
  tools::Request r;
  r.target = "/v1/payouts/" + payout_id;
  r.bearer_token = shared_.config().api_key;
  return send(shared_.get_payout(), "get_payout", r, retry, nullptr);
}

Call GatewayClient::list(const std::string& what, const std::string& after, int limit,
                         std::string* body) {
  tools::Request r;
  r.target = "/v1/" + what + "?limit=" + std::to_string(limit);
  if (!after.empty()) r.target += "&after=" + after;
  r.bearer_token = shared_.config().api_key;
  return send(shared_.list(), "list", r, false, body);
}

}  // namespace betcore::payments
