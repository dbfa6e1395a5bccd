// The adapter's side of the payment gateway's API (docs/payment-gateway.md):
// every call goes through its endpoint's circuit breaker, and a retry must
// also be allowed by the shared retry budget. Calls classify their result so
// the caller knows whether to retry, wait for the breaker or give up.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "payments/breaker.h"
#include "payments/retry_budget.h"
#include "tools/http_client.h"

namespace betcore::ops {
class Registry;
class Counter;
class Histogram;
}  // namespace betcore::ops

namespace betcore::payments {

struct Payout {
  std::string payout_id;
  std::string status;          // processing, paid, failed
  std::string failure_reason;  // when failed
  std::string reference;       // our withdrawal id
  std::string destination;     // our account id
  std::string currency;
  int64_t amount = 0;
  int64_t created_ms = 0;  // the gateway's clock, Unix ms
};

enum class CallResult {
  ok,             // a 2xx; the payout is filled in
  rejected,       // a 4xx other than 429: retrying cannot help; `error` says what
  failed,         // transport error, timeout, 5xx or 429: safe to retry later
  not_permitted,  // the breaker is open (or its half-open trials are taken): not sent
  no_budget,      // a retry the retry budget refused: not sent
};
std::string_view to_string(CallResult r);

struct Call {
  CallResult result = CallResult::failed;
  int status = 0;
  std::string code;   // the gateway's error code, when it sent one
  std::string error;  // for a person
  Payout payout;
};

struct GatewayConfig {
  tools::Url url;
  std::string api_key;
  int timeout_ms = 5000;  // one call, connect to last byte
  BreakerConfig breaker;
  RetryBudgetConfig budget;
};

// What the callers share: one breaker per endpoint, one retry budget, metrics.
// Thread-safe.
class GatewayEndpoints {
 public:
  GatewayEndpoints(const GatewayConfig& config, ops::Registry& metrics);
  ~GatewayEndpoints();

  const GatewayConfig& config() const { return config_; }
  Breaker& create_payout() { return create_; }
  Breaker& get_payout() { return get_; }
  Breaker& list() { return list_; }
  RetryBudget& budget() { return budget_; }

  struct Metrics;
  Metrics& metrics() { return *metrics_; }

 private:
  GatewayConfig config_;
  Breaker create_;
  Breaker get_;
  Breaker list_;
  RetryBudget budget_;
  std::unique_ptr<Metrics> metrics_;
};

struct PayoutRequest {
  std::string idempotency_key;  // the withdrawal id
  int64_t amount = 0;
  std::string currency;
  std::string destination;
  std::string reference;
};

// One connection's worth of calls. Not thread-safe: one per thread.
class GatewayClient {
 public:
  explicit GatewayClient(GatewayEndpoints& shared);

  // `retry`: this repeats an earlier attempt (it then needs the budget).
  Call create_payout(const PayoutRequest& request, bool retry);
  Call get_payout(const std::string& payout_id, bool retry);
  // A page of the gateway's ledger: GET /v1/payouts or /v1/deposits.
  Call list(const std::string& what, const std::string& after, int limit, std::string* body);

 private:
  Call send(Breaker& breaker, const char* endpoint, const tools::Request& request, bool retry,
            std::string* body);

  GatewayEndpoints& shared_;
  tools::HttpClient http_;
};

std::optional<Payout> parse_payout(const std::string& json_text);

}  // namespace betcore::payments
