// The HTTP API of API.md on one node. api.cc routes a request (one table row
// per route: method, path, who may call, handler) and authorizes it; the
// handlers parse, submit writes, serve reads and the operations endpoints.
#pragma once

#include <array>
#include <memory>

#include "api/auth.h"
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

class Api {
 public:
  Api(node::Node& node, const Tokens& tokens, ops::Registry& metrics);
  ~Api();

  // The http::Handler: routes one request. Runs on an HTTP I/O thread.
  void handle(http::Request&& request, http::Responder responder);

 private:
  const Tokens& tokens_;
  std::array<std::unique_ptr<RouteMetrics>, static_cast<size_t>(Route::count_)> route_metrics_;
  // After route_metrics_: destroying it runs the tasks still queued, which
  // record there.
  std::unique_ptr<Services> services_;
};

}  // namespace betcore::api
