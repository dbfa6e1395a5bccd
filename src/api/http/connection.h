// Internal: the I/O side of the server. Asio and Beast live here and in the
// .cc files, never in http_server.h.
//
// Threading: each Worker owns an io_context run by exactly one thread; each
// Connection belongs to one Worker for its whole life and is only touched on
// that Worker's thread, so its state needs no locks. Other threads reach a
// connection only by posting (deliver_response and friends in exchange.h).
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/http/exchange.h"
#include "api/http/http_server.h"
#include "api/http/request_parser.h"
#include "ops/metrics.h"

namespace betcore::http {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;
// Concrete executor types: no any_io_executor type erasure on the hot path.
using Executor = net::io_context::executor_type;
using Socket = net::basic_stream_socket<net::ip::tcp, Executor>;
using Timer = net::basic_waitable_timer<Clock, net::wait_traits<Clock>, Executor>;
// TLS over the connection's own socket: the socket stays the Connection's
// (options, close, peer address) and the stream borrows it.
using TlsStream = net::ssl::stream<Socket&>;

// After Connection: close, how long to wait for the peer's FIN; the workers'
// sweep runs often enough to honour it.
constexpr int kLingerMs = 1000;

// The server's counters (betcore_http_*), registered once.
struct ServerMetrics {
  explicit ServerMetrics(ops::Registry& r);
  ops::Counter& connections_accepted;
  ops::Counter& connections_refused;
  ops::Counter& connections_refused_address;
  ops::Gauge& connections_open;
  ops::Counter& requests;
  ops::Counter& rejected_malformed;
  ops::Counter& rejected_body_too_large;
  ops::Counter& rejected_header_too_large;
  ops::Counter& timeouts_read;
  ops::Counter& timeouts_response;
  ops::Counter& timeouts_write;
  ops::Counter& handler_exceptions;
  ops::Counter& tls_handshake_failures;
  ops::Counter& plain_http_on_tls;
  ops::Histogram& stage_parse;    // first byte to the whole request (ops::request_stage)
  ops::Histogram& stage_respond;  // the answer handed over to its last byte written
};

// What every worker shares. Immutable after start() except the atomics and
// what the mutexes guard.
struct ServerCore {
  ServerCore(Options options_in, Handler handler_in);

  Options options;
  Handler handler;
  std::shared_ptr<detail::Hub> hub;
  std::unique_ptr<ops::Registry> own_registry;  // when Options::metrics is null
  ServerMetrics metrics;

  // Server::close_connections_after_answers(): every answer then says
  // Connection: close and closes its connection.
  std::atomic<bool> closing{false};

  // Accepted and not yet closed, over every worker. stop() waits for zero.
  std::atomic<size_t> connections_open{0};
  std::mutex drain_mu;
  std::condition_variable drain_cv;
  void connection_closed();

  // Per-address connection counts (Options::connections_per_address_max).
  // False when `address` is at its cap (nothing counted); every true is
  // matched by one release_address.
  bool take_address(const std::string& address);
  void release_address(const std::string& address);

  // The TLS context new connections use; null without TLS. Swapped whole by
  // reload_tls(), so a connection keeps the one it was born with.
  std::shared_ptr<net::ssl::context> tls_context() const;
  std::string load_tls();  // "" or why Options::tls's files cannot be used

 private:
  std::mutex addresses_mu_;
  std::unordered_map<std::string, size_t> addresses_;  // guarded by addresses_mu_
  mutable std::mutex tls_mu_;
  std::shared_ptr<net::ssl::context> tls_;  // guarded by tls_mu_
};

class Connection;

class Worker {
 public:
  explicit Worker(ServerCore& core);
  ~Worker();

  // All on this worker's thread:
  // A new connection, counted in connections_open already (and, when the
  // server caps them, under `address` in the per-address counts).
  void add(Socket socket, std::string address);
  void remove(Connection* connection);
  void start_sweep();
  void begin_stop();  // stop() phase 1: close idle connections, finish streams
  void close_all();   // stop() phase 2

  // The worker whose thread this is, or null on any other thread.
  static const Worker*& current();

  // Declared first: destroyed last, after everything that uses it.
  net::io_context ioc{1};
  ServerCore& core;
  std::thread thread;
  std::optional<net::executor_work_guard<Executor>> work;
  bool stopping = false;  // this thread only

 private:
  void sweep();

  Timer sweep_timer_;
  Clock::duration sweep_interval_;
  bool stopping_sweep_ = false;
  // The owning references; pending handlers hold more. This thread only.
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections_;
  std::vector<std::shared_ptr<Connection>> scratch_;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Worker& worker, Socket socket, std::string address);

  // All on the worker's thread. Callers hold a shared_ptr to this connection.
  void start();
  void on_timeout();
  void on_server_stop();
  void close();
  Clock::time_point deadline() const { return deadline_; }

  // `handed_at`: when the handler handed the answer over (the respond stage).
  void deliver(uint64_t seq, Response&& response, Clock::time_point handed_at);
  void begin_stream(uint64_t seq, std::shared_ptr<detail::StreamState> state);
  void flush_stream();

  Executor executor() { return socket_.get_executor(); }

 private:
  enum class Phase : uint8_t {
    reading,    // waiting for or reading a request
    handling,   // the handler has it; waiting for the Responder
    writing,    // writing a response
    streaming,  // a Stream owns the write side until it ends
    closing,    // response sent with Connection: close; draining the peer's leftovers
    closed,
  };

  void begin_tls();
  void on_first_bytes(const boost::system::error_code& ec);
  void begin_request();
  void parse();
  void read_more();
  void on_read(const boost::system::error_code& ec, size_t bytes);
  void reject_malformed(const boost::system::error_code& ec);
  void reject(int status, std::string_view code, std::string_view message);
  void send_continue();
  void dispatch();
  void write_response(Response&& response, bool close_after);
  void on_written(const boost::system::error_code& ec);
  void linger_close();
  void shutdown_tls();
  void close_idle();
  void read_discard();
  void on_stream_written(const boost::system::error_code& ec);
  void close_stream_state();
  void set_deadline_ms(int ms) {
    deadline_ = ms > 0 ? Clock::now() + std::chrono::milliseconds(ms) : Clock::time_point::max();
  }
  // Reads and writes go through TLS when the connection has it.
  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler);
  template <class Buffers, class Handler>
  void async_write_all(const Buffers& buffers, Handler&& handler);

  Worker& worker_;
  ServerCore& core_;
  Socket socket_;
  std::shared_ptr<net::ssl::context> tls_context_;  // keeps tls_'s context alive
  std::optional<TlsStream> tls_;
  bool tls_open_ = false;      // handshake done, close_notify not yet sent
  bool tls_shutdown_ = false;  // close_notify sent or on its way: reads end cancelled
  Phase phase_ = Phase::reading;
  Clock::time_point deadline_ = Clock::time_point::max();

  // Reading. The buffer and the Request's strings keep their capacity from
  // one request to the next, so a keep-alive request allocates little.
  boost::beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  Request request_;
  // The request's target, for the log should its handler throw (the
  // request itself moves into the handler). Assigned, not made, each time:
  // after the first request it reuses its capacity, with no allocation.
  std::string handling_target_;
  std::string remote_;
  std::string address_;  // counted in ServerCore's per-address counts; "" when not
  bool request_started_ = false;  // a byte of the current request has arrived
  Clock::time_point request_began_{};  // ... when (the parse stage)
  Clock::time_point respond_from_{};   // the answer in writing was handed over then
  bool continue_sent_ = false;
  bool version_checked_ = false;

  // The current exchange.
  uint64_t seq_ = 0;
  int version_ = 11;
  bool keep_alive_ = true;
  bool head_request_ = false;

  // Writing.
  std::string head_;
  std::string body_;

  // Streaming and lingering.
  std::shared_ptr<detail::StreamState> stream_;
  std::string stream_writing_;
  bool stream_write_in_flight_ = false;
  bool discard_in_flight_ = false;  // at most one read at a time
  size_t discarded_bytes_ = 0;
  std::array<char, 2048> discard_;
};

}  // namespace betcore::http
