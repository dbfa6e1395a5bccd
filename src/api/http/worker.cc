// The workers: each I/O thread's connections and their timeout sweep, and the shared core.
#include <algorithm>

#include "api/http/connection.h"
#include "domain/assert.h"
#include "tls/asio_context.h"
#include "ops/request_stage.h"

namespace betcore::http {

using boost::system::error_code;

// ---- Worker ------------------------------------------------------------------

const Worker*& Worker::current() {
  thread_local const Worker* worker = nullptr;
  return worker;
}

Worker::Worker(ServerCore& core_in) : core(core_in), sweep_timer_(ioc.get_executor()) {
  // Deadlines are checked by one sweep per worker rather than a timer per
  // connection: setting a deadline is then a store, not a timer syscall. The
  // sweep runs often enough to be within a quarter of the shortest timeout.
  const Options& o = core.options;
  int shortest_ms = kLingerMs;
  for (const int ms :
       {o.idle_timeout_ms, o.request_timeout_ms, o.write_timeout_ms, o.response_timeout_ms}) {
    if (ms > 0) shortest_ms = std::min(shortest_ms, ms);
  }
  sweep_interval_ = std::chrono::milliseconds(std::clamp(shortest_ms / 4, 5, 250));
}

Worker::~Worker() = default;

void Worker::add(Socket socket, std::string address) {
  if (stopping) {
    error_code ec;
    socket.close(ec);
    if (!address.empty()) core.release_address(address);
    core.connection_closed();
    return;
  }
  auto connection = std::make_shared<Connection>(*this, std::move(socket), std::move(address));
  connections_.emplace(connection.get(), connection);
  connection->start();
}

void Worker::remove(Connection* connection) {
  if (connections_.erase(connection) > 0) core.connection_closed();
}

void Worker::start_sweep() {
  sweep_timer_.expires_after(sweep_interval_);
  sweep_timer_.async_wait([this](const error_code& ec) {
    if (ec || stopping_sweep_) return;
    sweep();
    start_sweep();
  });
}

void Worker::sweep() {
  const auto now = Clock::now();
  scratch_.clear();
  for (const auto& [ptr, connection] : connections_) {
    if (connection->deadline() <= now) scratch_.push_back(connection);
  }
  for (const auto& connection : scratch_) connection->on_timeout();
  scratch_.clear();
}

void Worker::begin_stop() {
  stopping = true;
  scratch_.clear();
  for (const auto& [ptr, connection] : connections_) scratch_.push_back(connection);
  for (const auto& connection : scratch_) connection->on_server_stop();
  scratch_.clear();
}

void Worker::close_all() {
  stopping = true;
  stopping_sweep_ = true;
  sweep_timer_.cancel();
  scratch_.clear();
  for (const auto& [ptr, connection] : connections_) scratch_.push_back(connection);
  for (const auto& connection : scratch_) connection->close();
  scratch_.clear();
  BETCORE_ASSERT(connections_.empty());
}

// ---- ServerCore ----------------------------------------------------------------

namespace {

ops::Registry& registry_for(const Options& options, std::unique_ptr<ops::Registry>& own) {
  if (options.metrics != nullptr) return *options.metrics;
  own = std::make_unique<ops::Registry>();
  return *own;
}

}  // namespace

ServerMetrics::ServerMetrics(ops::Registry& r)
    : connections_accepted(
          r.counter("betcore_http_connections_accepted_total", "HTTP connections accepted.")),
      connections_refused(r.counter("betcore_http_connections_refused_total",
                                    "HTTP connections refused: over connections_max (or over the "
                                    "per-address cap, counted in both).")),
      connections_refused_address(
          r.counter("betcore_http_connections_refused_address_total",
                    "HTTP connections refused: over connections_per_address_max from one address.")),
      connections_open(r.gauge("betcore_http_connections_open", "HTTP connections open.")),
      requests(r.counter("betcore_http_requests_total", "HTTP requests passed to the handler.")),
      rejected_malformed(r.counter("betcore_http_rejected_requests_total",
                                   "HTTP requests the server refused without calling the handler.",
                                   {{"reason", "malformed"}})),
      rejected_body_too_large(
          r.counter("betcore_http_rejected_requests_total",
                    "HTTP requests the server refused without calling the handler.",
                    {{"reason", "body_too_large"}})),
      rejected_header_too_large(
          r.counter("betcore_http_rejected_requests_total",
                    "HTTP requests the server refused without calling the handler.",
                    {{"reason", "header_too_large"}})),
      timeouts_read(r.counter("betcore_http_timeouts_total",
                              "HTTP connections closed or answered 504 on a timeout.",
                              {{"phase", "read"}})),
      timeouts_response(r.counter("betcore_http_timeouts_total",
                                  "HTTP connections closed or answered 504 on a timeout.",
                                  {{"phase", "response"}})),
      timeouts_write(r.counter("betcore_http_timeouts_total",
                               "HTTP connections closed or answered 504 on a timeout.",
                               {{"phase", "write"}})),
      handler_exceptions(r.counter("betcore_http_handler_exceptions_total",
                                   "Exceptions that escaped the HTTP handler (answered 500).")),
      tls_handshake_failures(
          r.counter("betcore_http_tls_handshake_failures_total",
                    "TLS handshakes that failed: a client without our CA, an expired or foreign "
                    "client certificate, or a protocol the server refuses.")),
      plain_http_on_tls(r.counter("betcore_http_plain_requests_on_tls_total",
                                  "Plain-HTTP requests sent to the HTTPS listener (answered 400).")),
      stage_parse(ops::request_stage(r, "parse")),
      stage_respond(ops::request_stage(r, "respond")) {}

ServerCore::ServerCore(Options options_in, Handler handler_in)
    : options(std::move(options_in)),
      handler(std::move(handler_in)),
      hub(std::make_shared<detail::Hub>()),
      metrics(registry_for(options, own_registry)) {
  hub->stream_buffer_bytes_max = options.stream_buffer_bytes_max;
}

std::shared_ptr<net::ssl::context> ServerCore::tls_context() const {
  std::lock_guard lock(tls_mu_);
  return tls_;
}

std::string ServerCore::load_tls() {
  if (!options.tls.enabled()) return "";
  std::string error;
  auto ctx = tls::server_context(options.tls, &error);
  if (!ctx) return error;
  std::lock_guard lock(tls_mu_);
  tls_ = std::move(ctx);
  return "";
}

bool ServerCore::take_address(const std::string& address) {
  std::lock_guard lock(addresses_mu_);
  size_t& n = addresses_[address];
  if (n >= options.connections_per_address_max) {
    if (n == 0) addresses_.erase(address);
    return false;
  }
  ++n;
  return true;
}

void ServerCore::release_address(const std::string& address) {
  std::lock_guard lock(addresses_mu_);
  auto it = addresses_.find(address);
  if (it != addresses_.end() && --it->second == 0) addresses_.erase(it);
}

void ServerCore::connection_closed() {
  metrics.connections_open.dec();
  if (connections_open.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard lock(drain_mu);
    drain_cv.notify_all();
  }
}

}  // namespace betcore::http
