// Internal: what a route handler is given (the call, the services), and the handlers.
//
// The route table in api.cc names one handler per route.
#pragma once

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/api.h"
#include "api/auth.h"
#include "api/http/http_server.h"
#include "api/off_io_thread.h"
#include "node/node.h"
#include "ops/metrics.h"

namespace betcore::api {

using Clock = std::chrono::steady_clock;

// The statuses with a "code" label of their own; any other counts as "other".
inline constexpr std::array<int, 14> kStatuses = {200, 201, 400, 401, 403, 404, 405,
                                                  409, 413, 422, 429, 500, 503, 504};

// One route's series of betcore_api_requests_total and betcore_api_request_seconds.
struct RouteMetrics {
  ops::Histogram* latency = nullptr;
  std::array<ops::Counter*, kStatuses.size() + 1> by_status{};

  void record(int status, Clock::time_point start) {
    size_t i = 0;
    while (i < kStatuses.size() && kStatuses[i] != status) ++i;
    by_status[i]->inc();
    latency->observe(Clock::now() - start);
  }
};

// What is needed to answer a request, from any thread. Copyable.
struct Answer {
  http::Responder responder;
  RouteMetrics* metrics = nullptr;
  Clock::time_point start;
  // X-Request-Id: the client's (or HAProxy's), else one this node made;
  // echoed on every answer and logged with every 5xx, so one request can be
  // followed from the load balancer to the node (docs/operations.md).
  std::string request_id;
  std::string_view route;  // the route's name, for that log line

  void send(http::Response r) const {
    metrics->record(r.status, start);
    if (!request_id.empty()) {
      if (r.status >= 500) log_server_error(r);
      r.headers.emplace_back("X-Request-Id", request_id);
    }
    responder.send(std::move(r));
  }
  void log_server_error(const http::Response& r) const;
};

// One request, as the router hands it to a handler.
struct Call {
  http::Request req;
  Answer answer;
  Route route = Route::not_found;
  // The path's {id} segment, empty where the route has none. Points into req:
  // copy it before moving the Call.
  std::string_view path_id;
  // Null on a route that needs no token. Shared: a tokens reload (SIGHUP)
  // cannot free it under a request.
  std::shared_ptr<const Principal> principal;
};

// Who sent the call, as the audit trail records it (docs/audit.md).
inline codec::Actor actor_of(const Call& call) {
  if (call.principal == nullptr) return {};
  return codec::Actor{std::string(role_name(call.principal->role)), call.principal->token_id};
}

// What handlers reach beyond the call. Owned by the Api.
struct Services {
  Services(node::Node& node_in, ops::Registry& metrics_in) : node(node_in), metrics(metrics_in) {}

  node::Node& node;
  ops::Registry& metrics;
  OffIoThread cluster_worker;   // GET /v1/cluster waits on etcd
  OffIoThread snapshot_worker;  // GET /v1/snapshot reads the disk
  OffIoThread log_worker;       // GET /v1/log waits for batches
};

using Handler = void (*)(Services& services, Call& call);

namespace routes {

// write_routes.cc: every POST; parses the body into a command and submits it.
void write(Services& services, Call& call);
// feed_batch_route.cc: POST /v1/feed-prices, many feed price changes submitted together.
void feed_prices_batch(Services& services, Call& call);
// read_routes.cc: the GETs of accounts, bets, withdrawals, markets, the ledger.
void read(Services& services, Call& call);
// stream.cc: GET /v1/stream.
void stream(Services& services, Call& call);
// ops_routes.cc: health, metrics, alerts, the status page, cluster, snapshot.
void health_live(Services& services, Call& call);
void health_ready(Services& services, Call& call);
void metrics(Services& services, Call& call);
void alerts(Services& services, Call& call);
void incidents(Services& services, Call& call);
void dashboard(Services& services, Call& call);
void cluster(Services& services, Call& call);
void snapshot(Services& services, Call& call);
// log_route.cc: GET /v1/log, the embedded log for the archiver.
void log_read(Services& services, Call& call);

}  // namespace routes

// write_routes.cc: the answer to a write the node took but did not apply
// (504 outcome_unknown, 503 unavailable), and to one it refused to queue
// (429 overloaded, 503 unavailable), with Retry-After where it applies.
http::Response write_failed(const node::WriteResult& r);
http::Response submit_refused(Services& services, node::SubmitStatus st);

// A query parameter that must be a whole non-negative number.
inline std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace betcore::api
