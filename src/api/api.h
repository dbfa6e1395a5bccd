// The HTTP API of API.md on one node: routing, auth, parsing into commands,
// submitting writes, serving reads, and per-route metrics.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>

#include "api/auth.h"
#include "api/http/http_server.h"
#include "node/node.h"
#include "ops/metrics.h"

namespace betcore::api {

// Every route, for metrics labels and dispatch.
enum class Route : uint8_t {
  create_account, get_account, self_exclusion, account_bets,
  deposit, request_withdrawal, complete_withdrawal, fail_withdrawal, get_withdrawal,
  ledger_balance,
  create_event, create_market, get_market, prices, suspend, resume, close, settle, resettle,
  place_bet, get_bet, stream,
  cluster, snapshot, alerts, health_live, health_ready, metrics, dashboard,
  not_found,
  count_,
};

struct RouteMetrics;

class Api {
 public:
  Api(node::Node& node, const Tokens& tokens, ops::Registry& metrics);
  ~Api();

  // The http::Handler: routes one request. Runs on an HTTP I/O thread.
  void handle(http::Request&& request, http::Responder responder);

 private:
  struct Call;

  void write(Call& call, Route route, std::string_view path_id);
  void read(Call& call, Route route, std::string_view path_id);
  void operations(Call& call, Route route);
  void stream(Call& call);
  void cluster(Call& call);
  void snapshot(Call& call);
  struct Worker;
  // Runs fn on a worker thread: for handlers that wait on etcd or the disk,
  // which must never block an HTTP I/O thread. False (fn not run) when too
  // many tasks wait already.
  static bool off_io_thread(Worker& worker, std::function<void()> fn);

  node::Node& node_;
  const Tokens& tokens_;
  ops::Registry& metrics_;
  std::array<std::unique_ptr<RouteMetrics>, static_cast<size_t>(Route::count_)> route_metrics_;
  std::unique_ptr<Worker> cluster_worker_;
  std::unique_ptr<Worker> snapshot_worker_;
};

}  // namespace betcore::api
