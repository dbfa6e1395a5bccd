// The HTTP API of API.md on one node. api.cc routes a request (one table row
// per route: method, path, who may call, handler) and authorizes it; the
// handlers parse, submit writes, serve reads and the operations endpoints.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "api/auth.h"
#include "api/rate_limit.h"
#include "api/http/http_server.h"
#include "node/node.h"
#include "ops/metrics.h"

namespace betcore::api {

// Every route; each has one row in the route table (api.cc).
enum class Route : uint8_t {
  create_account, get_account, self_exclusion, account_bets,
  deposit, get_deposit, list_deposits,
  request_withdrawal, complete_withdrawal, fail_withdrawal, get_withdrawal, list_withdrawals,
  ledger_balance,
  create_event, create_market, get_market, prices, suspend, resume, close, settle, resettle,
  place_bet, get_bet, stream,
  feed_prices, feed_prices_batch, feed_alive, producers,
  cluster, snapshot, log_read, alerts, incidents, health_live, health_ready, metrics, dashboard,
  not_found,
  count_,
};

struct RouteMetrics;
struct Services;
struct Call;

// Per-client budgets (docs/security.md, "Limits"): requests a second and the
// burst, per token and per client address; 0 means no limit. Over budget:
// 429 rate_limited with Retry-After.
struct RateLimits {
  double punter_rps = 200, punter_burst = 400;  // a person never needs more
  // admin, trader, feed, payments, backup: betcore's own services, whose
  // rate is the platform's (the bench's trader token places 30,000 bets/s).
  double service_rps = 0, service_burst = 0;
  // Per client address (behind HAProxy: X-Forwarded-For from trusted_proxies).
  double address_rps = 0, address_burst = 0;
  std::vector<std::string> trusted_proxies;  // IP addresses whose X-Forwarded-For is believed
};

class Api {
 public:
  Api(node::Node& node, const Tokens& tokens, ops::Registry& metrics, RateLimits limits = {});
  ~Api();

  // The http::Handler: routes one request. Runs on an HTTP I/O thread.
  void handle(http::Request&& request, http::Responder responder);

 private:
  // The client's address: the peer's, or the last X-Forwarded-For hop when
  // the peer is a trusted proxy.
  std::string_view client_address(const http::Request& request) const;
  bool over_budget(RateLimiter& limiter, std::string_view key, Call& call);
  // The request's X-Request-Id if it is a sane one, else a new one.
  std::string request_id(const http::Request& request);

  const Tokens& tokens_;
  RateLimits limits_;
  std::string id_prefix_;  // this process's, random: ids differ across nodes and restarts
  std::atomic<uint64_t> ids_{0};
  RateLimiter punters_, services_limiter_, addresses_;
  ops::Counter* rate_limited_[3] = {};  // punter, service, address
  std::array<std::unique_ptr<RouteMetrics>, static_cast<size_t>(Route::count_)> route_metrics_;
  // After route_metrics_: destroying it runs the tasks still queued, which
  // record there.
  std::unique_ptr<Services> services_;
};

}  // namespace betcore::api
