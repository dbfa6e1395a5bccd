// The gateway's HTTP API: routes, JSON, and the faults applied to /v1/*.
#include "payments/gateway_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <limits>
#include <nlohmann/json.hpp>

namespace betcore::payments::gateway {
namespace {

using nlohmann::json;

Now now() {
  using namespace std::chrono;
  return Now{duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count(),
             duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count()};
}

http::Response invalid(std::string_view message) {
  return http::Response::error(400, "invalid_request", message);
}

http::Response refused(Refusal r, std::string_view message) {
  switch (r) {
    case Refusal::invalid_request:
      return invalid(message);
    case Refusal::idempotency_key_reused:
      return http::Response::error(422, to_string(r), message);
    case Refusal::ledger_full:
      return http::Response::error(507, to_string(r), message);
  }
  return http::Response::error(500, "internal", message);
}

json payout_json(const Payout& p) {
  json j = {{"payout_id", payout_id(p.seq)},
            {"status", to_string(p.status)},
            {"amount", p.fields.amount},
            {"currency", p.fields.currency},
            {"destination", p.fields.destination},
            {"reference", p.fields.reference},
            {"idempotency_key", p.idempotency_key},
            {"created_ms", p.created_ms}};
  if (p.status == PayoutStatus::failed) j["failure_reason"] = p.failure_reason;
  return j;
}

json deposit_json(const Deposit& d) {
  return {{"payment_id", payment_id(d.seq)},
          {"account_id", d.account_id},
          {"amount", d.amount},
          {"currency", d.currency},
          {"status", "succeeded"},
          {"created_ms", d.created_ms}};
}

// The webhook event of a deposit (docs/payment-gateway.md, "Deposits arrive
// as webhooks").
std::string deposit_event(const Deposit& d) {
  return json{{"id", event_id(d.seq)},
              {"type", "deposit.succeeded"},
              {"created_ms", d.created_ms},
              {"data",
               {{"payment_id", payment_id(d.seq)},
                {"account_id", d.account_id},
                {"amount", d.amount},
                {"currency", d.currency}}}}
      .dump();
}

// A JSON object with exactly the fields `names`; nullopt (and `error`) if the
// body is not one. Strings must be strings, "amount" an integer.
std::optional<json> strict_object(std::string_view body, std::initializer_list<const char*> names,
                                  std::string* error) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) {
    *error = "the body must be a JSON object";
    return std::nullopt;
  }
  for (const auto& [key, value] : j.items()) {
    if (std::find_if(names.begin(), names.end(), [&](const char* n) { return key == n; }) ==
        names.end()) {
      *error = fmt::format("unknown field {}", key);
      return std::nullopt;
    }
  }
  for (const char* n : names) {
    bool amount = std::string_view(n) == "amount";
    if (!j.contains(n) || (amount ? !j[n].is_number_integer() : !j[n].is_string())) {
      *error = fmt::format("{} is missing or not {}", n, amount ? "an integer" : "a string");
      return std::nullopt;
    }
  }
  return j;
}

// An integer amount; 0 (which no validation accepts) when out of int64.
int64_t amount_of(const json& v) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    return u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? 0
                                                                          : static_cast<int64_t>(u);
  }
  return v.get<int64_t>();
}

// Compares the whole bearer string without stopping at the first difference.
bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

Service::Service(ServiceConfig config, Sender& sender, Delayer& delayer)
    : api_key_(std::move(config.api_key)),
      sender_(sender),
      delayer_(delayer),
      ledger_(config.ledger),
      faults_(config.faults),
      rng_(config.seed) {}

void Service::handle(http::Request&& request, http::Responder responder) {
  std::string_view path = request.path();
  if (path.starts_with("/v1/")) return v1(request, std::move(responder));
  if (path.starts_with("/control/")) {
    responder.send(control(request));
    return;
  }
  responder.send(
      http::Response::error(404, "not_found", "no such route; see /v1/* and /control/*"));
}

// The faults apply here, to /v1/* only (docs/payment-gateway.md, "Failing on
// purpose"); /control/* is never slowed or failed.
void Service::v1(const http::Request& request, http::Responder responder) {
  Decision d;
  {
    std::lock_guard lock(mu_);
    ++counts_.requests;
    d = decide(faults_, now().mono_ms, rng_);
    switch (d.fate) {
      case Fate::normal:
        break;
      case Fate::outage:
        ++counts_.requests_in_outage;
        break;
      case Fate::error_before:
      case Fate::error_after:
        ++counts_.errors_injected;
        break;
      case Fate::timeout:
        ++counts_.timeouts_injected;
        break;
      case Fate::reset:
        ++counts_.resets_injected;
        break;
    }
  }
  http::Response response;
  switch (d.fate) {
    case Fate::outage:
      response = http::Response::error(503, "unavailable", "the gateway is in an outage");
      response.headers.emplace_back("Retry-After", "1");
      break;
    case Fate::error_before:
      response = http::Response::error(500, "internal", "injected error (nothing was done)");
      break;
    case Fate::error_after:
      (void)v1_route(request);
      response = http::Response::error(500, "internal", "injected error");
      break;
    case Fate::reset:
      (void)v1_route(request);
      response.reset_connection = true;
      break;
    case Fate::normal:
    case Fate::timeout:
      response = v1_route(request);
      break;
  }
  delayer_.hold(std::move(responder), std::move(response), d.answer_delay_ms);
}

http::Response Service::v1_route(const http::Request& request) {
  if (!authorized(request)) {
    return http::Response::error(401, "unauthorized", "send Authorization: Bearer <api_key>");
  }
  std::string_view path = request.path();
  const bool get = request.method == http::Method::get;
  if (path == "/v1/payouts") {
    if (request.method == http::Method::post) return create_payout(request);
    if (get) return list(request, true);
  } else if (path.starts_with("/v1/payouts/")) {
    if (get) return get_payout(path.substr(12));
  } else if (path == "/v1/deposits") {
    if (get) return list(request, false);
  } else {
    return http::Response::error(404, "not_found", "no such route");
  }
  return http::Response::error(405, "method_not_allowed", "no such method on this route");
}

bool Service::authorized(const http::Request& request) const {
  std::string_view auth = request.authorization;
  return auth.starts_with("Bearer ") && equal_constant_time(auth.substr(7), api_key_);
}

http::Response Service::create_payout(const http::Request& request) {
  std::string key(request.header("idempotency-key"));
  if (key.empty()) return invalid("the Idempotency-Key header is required");
  std::string error;
  std::optional<json> j =
      strict_object(request.body, {"amount", "currency", "destination", "reference"}, &error);
  if (!j) return invalid(error);
  PayoutFields fields{amount_of((*j)["amount"]), (*j)["currency"].get<std::string>(),
                      (*j)["destination"].get<std::string>(), (*j)["reference"].get<std::string>()};
  std::lock_guard lock(mu_);
  CreateResult r = ledger_.create_payout(key, fields, now());
  if (r.refusal) return refused(*r.refusal, r.message);
  if (!r.replay) {
    spdlog::info("payment-gateway: payout {} of {} {} to {} (key {})", payout_id(r.payout->seq),
                 fields.amount, fields.currency, fields.destination, key);
  }
  return http::Response::json(201, payout_json(*r.payout).dump());
}

http::Response Service::get_payout(std::string_view id) {
  std::optional<uint64_t> seq = payout_seq(id);
  std::lock_guard lock(mu_);
  const Payout* p = seq ? ledger_.payout(*seq, now()) : nullptr;
  if (p == nullptr) return http::Response::error(404, "not_found", "no such payout");
  return http::Response::json(200, payout_json(*p).dump());
}

http::Response Service::list(const http::Request& request, bool payouts) {
  uint64_t after = 0;
  if (std::optional<std::string> a = request.query_param("after")) {
    std::optional<uint64_t> seq = payouts ? payout_seq(*a) : payment_seq(*a);
    if (!seq)
      return invalid(fmt::format("after={} is not a {} id", *a, payouts ? "payout" : "payment"));
    after = *seq;
  }
  int limit = kPageLimitDefault;
  if (std::optional<std::string> l = request.query_param("limit")) {
    auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (ec != std::errc() || end != l->data() + l->size() || limit < 1 || limit > kPageLimitMax) {
      return invalid(fmt::format("limit must be an integer in 1..{}", kPageLimitMax));
    }
  }
  json items = json::array();
  json next = nullptr;
  std::lock_guard lock(mu_);
  if (payouts) {
    Page<Payout> page = ledger_.payouts(after, limit, now());
    for (const Payout* p : page.items) items.push_back(payout_json(*p));
    if (page.next_after) next = payout_id(*page.next_after);
  } else {
    Page<Deposit> page = ledger_.deposits(after, limit, now());
    for (const Deposit* d : page.items) items.push_back(deposit_json(*d));
    if (page.next_after) next = payment_id(*page.next_after);
  }
  return http::Response::json(
      200, json{{payouts ? "payouts" : "deposits", items}, {"next", next}}.dump());
}

http::Response Service::control(const http::Request& request) {
  std::string_view path = request.path();
  const bool post = request.method == http::Method::post;
  if (path == "/control/deposits" && post) return create_deposit(request);
  if (path == "/control/faults" && post) return post_faults(request);
  if (path == "/control/faults" && request.method == http::Method::get) {
    std::lock_guard lock(mu_);
    return http::Response::json(200, faults_json(faults_, now().mono_ms));
  }
  if (path == "/control/stats" && request.method == http::Method::get) return stats();
  return http::Response::error(404, "not_found",
                               "use POST /control/deposits, POST|GET /control/faults or GET "
                               "/control/stats");
}

http::Response Service::create_deposit(const http::Request& request) {
  std::string error;
  std::optional<json> j = strict_object(request.body, {"account_id", "amount", "currency"}, &error);
  if (!j) return invalid(error);
  std::lock_guard lock(mu_);
  DepositResult r =
      ledger_.record_deposit((*j)["account_id"].get<std::string>(), amount_of((*j)["amount"]),
                             (*j)["currency"].get<std::string>(), now());
  if (r.refusal) return refused(*r.refusal, r.message);
  // Under mu_, so events reach the outbox in the order of their numbers.
  sender_.add(r.deposit->seq, deposit_event(*r.deposit),
              WebhookFaults{faults_.duplicate_share, faults_.webhook_delay_ms_max});
  return http::Response::json(
      201, json{{"payment_id", payment_id(r.deposit->seq)}, {"event_id", event_id(r.deposit->seq)}}
               .dump());
}

http::Response Service::post_faults(const http::Request& request) {
  std::string error;
  std::lock_guard lock(mu_);
  int64_t mono = now().mono_ms;
  std::optional<FaultsChange> c = apply_faults_json(request.body, faults_, mono, &error);
  if (!c) return invalid(error);
  faults_ = c->faults;
  size_t storm = c->webhook_storm > 0 ? sender_.storm(c->webhook_storm) : 0;
  std::string faults = faults_json(faults_, mono);
  spdlog::info("payment-gateway: faults now {}{}", faults,
               storm > 0 ? fmt::format(", {} storm deliveries queued", storm) : "");
  return http::Response::json(
      200, fmt::format(R"({{"faults":{},"webhook_storm_queued":{}}})", faults, storm));
}

http::Response Service::stats() {
  OutboxCounts o = sender_.counts();
  std::lock_guard lock(mu_);
  LedgerCounts l = ledger_.counts(now());
  return http::Response::json(200, json{{"requests", counts_.requests},
                                        {"requests_in_outage", counts_.requests_in_outage},
                                        {"errors_injected", counts_.errors_injected},
                                        {"timeouts_injected", counts_.timeouts_injected},
                                        {"resets_injected", counts_.resets_injected},
                                        {"payouts_created", l.payouts_created},
                                        {"payouts_paid", l.payouts_paid},
                                        {"payouts_failed", l.payouts_failed},
                                        {"idempotent_replays", l.idempotent_replays},
                                        {"deposits", l.deposits},
                                        {"webhook_attempts", o.attempts},
                                        {"webhooks_acknowledged", o.acknowledged},
                                        {"webhooks_pending", o.pending()},
                                        {"webhooks_refused_4xx", o.refused_4xx},
                                        {"webhook_extra_deliveries", o.extra_deliveries}}
                                       .dump());
}

}  // namespace betcore::payments::gateway
