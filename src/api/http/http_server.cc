// The Server: binds, accepts, spreads connections over the workers, stops.
#include "api/http/http_server.h"

#include <algorithm>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/ip/basic_resolver.hpp>
#include <boost/asio/post.hpp>
#include <string>

#include "api/http/connection.h"
#include "domain/assert.h"

namespace betcore::http {

namespace {
using boost::system::error_code;
using Acceptor = net::basic_socket_acceptor<net::ip::tcp, Executor>;
using Resolver = net::ip::basic_resolver<net::ip::tcp, Executor>;
constexpr auto kAcceptRetry = std::chrono::milliseconds(10);
}  // namespace

class Server::Impl {
 public:
  Impl(Options options, Handler handler);
  ~Impl();

  Status start();
  void stop();
  uint16_t bound_port() const { return bound_port_; }
  std::string reload_tls() { return core_.load_tls(); }
  ServerCore& core() { return core_; }

 private:
  void do_accept();
  void on_accept(const error_code& ec, Socket socket, Worker& target);
  void refuse(Socket& socket);

  ServerCore core_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // Below: on workers_[0]'s io_context, so declared after workers_ (destroyed before).
  Acceptor acceptor_;
  Timer accept_retry_timer_;
  bool accepting_ = false;  // workers_[0]'s thread only (after start)
  size_t next_worker_ = 0;  // workers_[0]'s thread only
  std::string refusal_;     // the bytes a refused connection gets

  bool started_ = false;
  bool running_ = false;
  uint16_t bound_port_ = 0;
};

Server::Impl::Impl(Options options, Handler handler)
    : core_(std::move(options), std::move(handler)),
      workers_([this] {
        std::vector<std::unique_ptr<Worker>> workers;
        const int n = std::max(1, core_.options.threads);
        for (int i = 0; i < n; ++i) workers.push_back(std::make_unique<Worker>(core_));
        return workers;
      }()),
      acceptor_(workers_[0]->ioc.get_executor()),
      accept_retry_timer_(workers_[0]->ioc.get_executor()) {
  BETCORE_ASSERT(core_.handler != nullptr);
  Response r = Response::error(503, "unavailable", "too many connections; retry later");
  r.headers.emplace_back("Retry-After", "1");
  detail::append_head(refusal_, r.status, r.content_type, r.headers,
                      detail::Framing::content_length, r.body.size(), false, 11);
  refusal_ += r.body;
}

Server::Impl::~Impl() { stop(); }

Status Server::Impl::start() {
  BETCORE_ASSERT_MSG(!started_, "Server::start called twice");
  started_ = true;
  const Options& o = core_.options;
  if (std::string tls_error = core_.load_tls(); !tls_error.empty()) return {tls_error};
  error_code ec;
  Resolver resolver(workers_[0]->ioc.get_executor());
  const auto results = resolver.resolve(o.host, std::to_string(o.port),
                                        Resolver::passive | Resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return {"cannot resolve listen address " + o.host + ": " + ec.message()};
  }
  const net::ip::tcp::endpoint endpoint = results.begin()->endpoint();
  const auto fail = [&](const char* what) {
    error_code ignored;
    acceptor_.close(ignored);
    return Status{std::string(what) + " " + o.host + ":" + std::to_string(o.port) + ": " +
                  ec.message()};
  };
  if (acceptor_.open(endpoint.protocol(), ec)) return fail("cannot open a socket for");
  if (acceptor_.set_option(Acceptor::reuse_address(true), ec)) return fail("cannot configure");
  if (acceptor_.bind(endpoint, ec)) return fail("cannot bind");
  if (acceptor_.listen(o.listen_backlog, ec)) return fail("cannot listen on");
  bound_port_ = acceptor_.local_endpoint(ec).port();

  accepting_ = true;
  for (auto& w : workers_) {
    w->work.emplace(w->ioc.get_executor());
    w->start_sweep();
    Worker* worker = w.get();
    w->thread = std::thread([worker] {
      Worker::current() = worker;
      worker->ioc.run();
      Worker::current() = nullptr;
    });
  }
  running_ = true;
  net::post(workers_[0]->ioc, [this] { do_accept(); });
  return {};
}

void Server::Impl::do_accept() {
  // Round robin over the workers; the socket is born on its worker's io_context.
  Worker& target = *workers_[next_worker_++ % workers_.size()];
  acceptor_.async_accept(target.ioc, [this, &target](const error_code& ec, Socket socket) {
    on_accept(ec, std::move(socket), target);
  });
}

void Server::Impl::on_accept(const error_code& ec, Socket socket, Worker& target) {
  if (!accepting_ || ec == net::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS): pause instead of
    // spinning on an accept that fails at once; the backlog holds the peers.
    if (ec == net::error::connection_aborted) {
      do_accept();
      return;
    }
    accept_retry_timer_.expires_after(kAcceptRetry);
    accept_retry_timer_.async_wait([this](const error_code& wait_ec) {
      if (!wait_ec && accepting_) do_accept();
    });
    return;
  }
  std::string address;
  if (core_.options.connections_per_address_max > 0) {
    error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    if (!peer_ec) address = peer.address().to_string();
  }
  if (core_.connections_open.load(std::memory_order_relaxed) >= core_.options.connections_max) {
    refuse(socket);
  } else if (!address.empty() && !core_.take_address(address)) {
    core_.metrics.connections_refused_address.inc();
    refuse(socket);
  } else {
    core_.connections_open.fetch_add(1, std::memory_order_relaxed);
    core_.metrics.connections_accepted.inc();
    core_.metrics.connections_open.inc();
    net::post(target.ioc, [&target, s = std::move(socket), a = std::move(address)]() mutable {
      target.add(std::move(s), std::move(a));
    });
  }
  do_accept();
}

void Server::Impl::refuse(Socket& socket) {
  // Best effort and never blocking: a short 503 for a load balancer to see,
  // then close. The socket has no pending operation, so any thread may do this.
  core_.metrics.connections_refused.inc();
  error_code ec;
  // A TLS client would read plaintext bytes as a corrupt record ("wrong
  // version number"); a TLS handshake to refuse with costs CPU the node is
  // short of. So on HTTPS the refusal is the close alone.
  if (!core_.options.tls.enabled()) {
    socket.non_blocking(true, ec);
    socket.write_some(net::buffer(refusal_), ec);
  }
  socket.shutdown(net::ip::tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

void Server::Impl::stop() {
  if (!running_) return;
  running_ = false;
  BETCORE_ASSERT_MSG(Worker::current() == nullptr, "Server::stop called on an I/O thread");

  // 1. No new connections.
  net::post(workers_[0]->ioc, [this] {
    accepting_ = false;
    error_code ec;
    acceptor_.close(ec);
    accept_retry_timer_.cancel();
  });
  // 2. Close idle connections, finish streams, let answers in flight go out.
  for (auto& w : workers_) {
    Worker* worker = w.get();
    net::post(worker->ioc, [worker] { worker->begin_stop(); });
  }
  {
    std::unique_lock lock(core_.drain_mu);
    core_.drain_cv.wait_for(lock, std::chrono::milliseconds(core_.options.stop_timeout_ms),
                            [this] { return core_.connections_open.load() == 0; });
  }
  // 3. From here on Responders and Streams post nothing (exchange.h, Hub).
  {
    std::unique_lock lock(core_.hub->mu);
    core_.hub->running = false;
  }
  // 4. Close what is left and end the threads. Handlers still queued are
  // destroyed with the io_contexts, in ~Worker.
  for (auto& w : workers_) {
    Worker* worker = w.get();
    net::post(worker->ioc, [worker] {
      worker->close_all();
      worker->work.reset();
      worker->ioc.stop();
    });
  }
  for (auto& w : workers_) w->thread.join();
}

// ---- Server ------------------------------------------------------------------

Server::Server(Options options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Server::~Server() = default;

Status Server::start() { return impl_->start(); }

uint16_t Server::bound_port() const { return impl_->bound_port(); }

Status Server::reload_tls() { return {impl_->reload_tls()}; }

void Server::close_connections_after_answers() { impl_->core().closing.store(true); }

void Server::stop() { impl_->stop(); }

}  // namespace betcore::http
