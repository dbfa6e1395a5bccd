// One HTTP/1.1 connection: read a request, hand it to the handler, wait for
// the answer, write it, read the next (RFC 9112). All on one Worker's thread.
#include "api/http/connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <string>
#include <utility>

#include "domain/assert.h"

namespace betcore::http {

namespace {

using he = boost::beast::http::error;
using boost::system::error_code;

constexpr size_t kReadChunkBytes = 16 * 1024;  // one read_some; the buffer holds a header and one chunk
constexpr int kStopLingerMs = 50;  // kLingerMs while the server stops: stop() waits on it
constexpr size_t kDiscardBytesMax = 1024 * 1024;  // read and ignored before we give up and close
constexpr std::string_view k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";
// Every TLS connection opens with a handshake record (RFC 8446, 5.1:
// ContentType handshake(22)); an HTTP request opens with a method's letter.
constexpr unsigned char kTlsHandshakeRecord = 22;

// Marks a stream closed and tells its producer, on this I/O thread, with no lock held.
void mark_closed(detail::StreamState& s) {
  {
    std::lock_guard lock(s.mu);
    if (s.closed) return;
    s.closed = true;
    s.pending.clear();
    s.pending.shrink_to_fit();
    s.in_flight_bytes = 0;
  }
  if (s.on_change) s.on_change();
}

std::string format_remote(const net::ip::tcp::endpoint& ep) {
  std::string out;
  if (ep.address().is_v6()) {
    out = "[" + ep.address().to_string() + "]";
  } else {
    out = ep.address().to_string();
  }
  out += ':';
  out += std::to_string(ep.port());
  return out;
}

}  // namespace

// ---- Entry points from any thread (exchange.h) -------------------------------

namespace detail {

void deliver_response(const Exchange& ex, Response&& response) {
  if (Worker::current() == ex.worker) {
    // The handler answered on the connection's own thread (most reads do):
    // run inline, no post, no Hub lock (this io_context is running).
    if (auto conn = ex.connection.lock()) conn->deliver(ex.seq, std::move(response), Clock::now());
    return;
  }
  std::shared_lock lock(ex.hub->mu);
  if (!ex.hub->running) return;
  auto conn = ex.connection.lock();
  if (!conn) return;
  const Executor executor = conn->executor();
  // The strong reference travels into the handler, so the connection is
  // released on its own thread (or by the io_context's destructor).
  net::post(executor, [conn = std::move(conn), seq = ex.seq, r = std::move(response),
                       handed = Clock::now()]() mutable { conn->deliver(seq, std::move(r), handed); });
}

void deliver_stream_start(const Exchange& ex, std::shared_ptr<StreamState> state) {
  // Always posted, even from the I/O thread, so the producer's callback can
  // never run inside its own start_stream() call.
  {
    std::shared_lock lock(ex.hub->mu);
    if (ex.hub->running) {
      if (auto conn = ex.connection.lock()) {
        const Executor executor = conn->executor();
        net::post(executor, [conn = std::move(conn), seq = ex.seq, state]() mutable {
          conn->begin_stream(seq, std::move(state));
        });
        return;
      }
    }
  }
  std::lock_guard lock(state->mu);
  state->closed = true;  // the caller sees is_open() == false; no callback (http_server.h)
}

void post_stream_flush(const StreamState& state) {
  std::shared_lock lock(state.hub->mu);
  if (!state.hub->running) return;  // close_all() has closed the stream or is about to
  auto conn = state.connection.lock();
  if (!conn) return;  // closed already: its close() marked the stream closed
  const Executor executor = conn->executor();
  net::post(executor, [conn = std::move(conn)] { conn->flush_stream(); });
}

}  // namespace detail

// ---- Connection --------------------------------------------------------------

Connection::Connection(Worker& worker, Socket socket, std::string address)
    : worker_(worker),
      core_(worker.core),
      socket_(std::move(socket)),
      buffer_(worker.core.options.header_bytes_max + kReadChunkBytes),
      address_(std::move(address)) {}

void Connection::start() {
  error_code ec;
  // Small answers go out at once rather than waiting on Nagle.
  socket_.set_option(net::ip::tcp::no_delay(true), ec);
  const auto peer = socket_.remote_endpoint(ec);
  if (!ec) remote_ = format_remote(peer);
  tls_context_ = core_.tls_context();
  if (tls_context_) {
    begin_tls();
  } else {
    begin_request();
  }
}

template <class Buffers, class Handler>
void Connection::async_read_some(const Buffers& buffers, Handler&& handler) {
  if (tls_) {
    tls_->async_read_some(buffers, std::forward<Handler>(handler));
  } else {
    socket_.async_read_some(buffers, std::forward<Handler>(handler));
  }
}

template <class Buffers, class Handler>
void Connection::async_write_all(const Buffers& buffers, Handler&& handler) {
  if (tls_) {
    net::async_write(*tls_, buffers, std::forward<Handler>(handler));
  } else {
    net::async_write(socket_, buffers, std::forward<Handler>(handler));
  }
}

void Connection::begin_tls() {
  // The handshake is part of the request: a client that opens a connection
  // and says nothing is cut at request_timeout_ms (slowloris).
  phase_ = Phase::reading;
  set_deadline_ms(core_.options.request_timeout_ms);
  socket_.async_wait(Socket::wait_read, [self = shared_from_this()](const error_code& ec) {
    self->on_first_bytes(ec);
  });
}

void Connection::on_first_bytes(const error_code& ec) {
  if (phase_ == Phase::closed) return;
  unsigned char first = 0;
  error_code peek_ec;
  const size_t n = ec ? 0 : socket_.receive(net::buffer(&first, 1), Socket::message_peek, peek_ec);
  if (ec || peek_ec || n == 0) {
    close();
    return;
  }
  if (first != kTlsHandshakeRecord) {
    // Plain HTTP to the HTTPS port: say so in plain HTTP rather than leave
    // the client with a reset it cannot explain.
    core_.metrics.plain_http_on_tls.inc();
    reject(400, "invalid_request",
           "this port serves HTTPS only: use https:// (plain HTTP is refused)");
    return;
  }
  tls_.emplace(socket_, *tls_context_);
  tls_->async_handshake(net::ssl::stream_base::server,
                        [self = shared_from_this()](const error_code& hs_ec) {
                          if (self->phase_ == Phase::closed) return;
                          if (hs_ec) {
                            self->core_.metrics.tls_handshake_failures.inc();
                            self->close();
                            return;
                          }
                          self->tls_open_ = true;
                          self->begin_request();
                        });
}

void Connection::begin_request() {
  phase_ = Phase::reading;
  request_.method = Method::other;
  request_.version = 11;
  request_.target.clear();
  request_.body.clear();
  request_.authorization.clear();
  request_.content_type.clear();
  request_.headers.clear();
  parser_.emplace(request_, core_.options.body_bytes_max, core_.options.header_bytes_max,
                  core_.options.capture_headers);
  continue_sent_ = false;
  version_checked_ = false;
  // A pipelined request may already be buffered: then it has begun.
  request_started_ = buffer_.size() > 0;
  if (request_started_) request_began_ = Clock::now();
  set_deadline_ms(request_started_ ? core_.options.request_timeout_ms
                                   : core_.options.idle_timeout_ms);
  parse();
}

void Connection::parse() {
  while (buffer_.size() > 0) {
    error_code ec;
    const size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == he::need_more) break;
    if (ec) {
      reject_malformed(ec);
      return;
    }
    if (parser_->is_header_done() && !version_checked_) {
      version_checked_ = true;
      if (request_.version / 10 != 1) {
        reject(505, "invalid_request", "only HTTP/1.0 and HTTP/1.1 are served");
        return;
      }
    }
    if (parser_->is_done()) {
      dispatch();
      return;
    }
    if (used == 0) break;  // no progress without more input
  }
  // RFC 9110, 10.1.1: a client that sent "Expect: 100-continue" may wait
  // for this before sending the body.
  if (parser_->is_header_done() && parser_->expect_continue() && !continue_sent_) {
    send_continue();
    return;
  }
  read_more();
}

void Connection::read_more() {
  const size_t free_bytes = buffer_.max_size() - buffer_.size();
  if (free_bytes == 0) {
    // Beast's header_limit fires first; this is the backstop.
    reject(431, "too_large", "request header too large");
    return;
  }
  const auto buffers = buffer_.prepare(std::min(free_bytes, kReadChunkBytes));
  async_read_some(buffers, [self = shared_from_this()](const error_code& ec, size_t n) {
    self->on_read(ec, n);
  });
}

void Connection::on_read(const error_code& ec, size_t bytes) {
  if (phase_ == Phase::closed || tls_shutdown_) return;  // cancelled by shutdown_tls()
  if (ec == net::error::eof && tls_open_) {
    // The client's close_notify: answer with ours (RFC 8446, 6.1).
    linger_close();
    return;
  }
  if (ec) {
    // EOF or reset, between requests or inside one: nobody to answer.
    close();
    return;
  }
  buffer_.commit(bytes);
  if (!request_started_) {
    request_started_ = true;
    request_began_ = Clock::now();
    set_deadline_ms(core_.options.request_timeout_ms);
  }
  parse();
}

void Connection::send_continue() {
  continue_sent_ = true;
  async_write_all(net::buffer(k100Continue.data(), k100Continue.size()),
                  [self = shared_from_this()](const error_code& ec, size_t) {
                    if (self->phase_ == Phase::closed) return;
                    if (ec) {
                      self->close();
                      return;
                    }
                    self->read_more();
                  });
}

void Connection::reject_malformed(const error_code& ec) {
  const Options& o = core_.options;
  if (ec == he::body_limit) {
    core_.metrics.rejected_body_too_large.inc();
    reject(413, "too_large", "request body is over " + std::to_string(o.body_bytes_max) + " bytes");
  } else if (ec == he::header_limit || ec == he::buffer_overflow) {
    core_.metrics.rejected_header_too_large.inc();
    reject(431, "too_large",
           "request header is over " + std::to_string(o.header_bytes_max) + " bytes");
  } else {
    core_.metrics.rejected_malformed.inc();
    reject(400, "invalid_request", "malformed HTTP request: " + ec.message());
  }
}

void Connection::reject(int status, std::string_view code, std::string_view message) {
  // Answered by the server, never the handler; the rest of the stream cannot
  // be trusted to be framed right, so the connection ends.
  version_ = request_.version / 10 == 1 ? request_.version : 11;
  head_request_ = false;
  keep_alive_ = false;
  write_response(Response::error(status, code, message), /*close_after=*/true);
}

void Connection::dispatch() {
  phase_ = Phase::handling;
  ++seq_;
  version_ = request_.version;
  keep_alive_ = parser_->keep_alive();
  head_request_ = request_.method == Method::head;
  request_started_ = false;
  set_deadline_ms(core_.options.response_timeout_ms);
  request_.remote = remote_;
  core_.metrics.requests.inc();
  core_.metrics.stage_parse.observe(Clock::now() - request_began_);
  auto exchange = std::make_shared<detail::Exchange>(core_.hub, &worker_, weak_from_this(), seq_,
                                                     version_, head_request_);
  // Kept for the log should the handler throw (the request moves into it).
  const Method method = request_.method;
  handling_target_.assign(request_.target);
  try {
    core_.handler(std::move(request_), Responder(std::move(exchange)));
  } catch (...) {
    // The Responder died in the unwinding, so the request got its 500.
    core_.metrics.handler_exceptions.inc();
    spdlog::error("{} {} from {}: the handler threw ({}); answered 500 internal", to_string(method),
                  handling_target_, remote_, detail::current_exception_text());
  }
  // Nothing after the handler: it may already have answered, inline.
}

void Connection::deliver(uint64_t seq, Response&& response, Clock::time_point handed_at) {
  // A late answer (the request timed out, or the connection closed) is dropped.
  if (phase_ != Phase::handling || seq != seq_) return;
  respond_from_ = handed_at;
  write_response(std::move(response), /*close_after=*/false);
}

void Connection::write_response(Response&& response, bool close_after) {
  if (response.reset_connection) {
    // SO_LINGER with a zero timeout: close() sends RST and drops the queue.
    error_code ec;
    socket_.set_option(net::socket_base::linger(true, 0), ec);
    close();
    return;
  }
  phase_ = Phase::writing;
  keep_alive_ = keep_alive_ && !close_after && !worker_.stopping &&
                !core_.closing.load(std::memory_order_relaxed);
  const int status = detail::final_status(response.status);
  head_.clear();
  detail::append_head(head_, status, response.content_type, response.headers,
                      detail::Framing::content_length, response.body.size(), keep_alive_, version_);
  body_ = std::move(response.body);
  // HEAD gets GET's Content-Length without the body (RFC 9110, 9.3.2).
  if (head_request_ || !detail::status_has_body(status)) body_.clear();
  set_deadline_ms(core_.options.write_timeout_ms);
  const std::array<net::const_buffer, 2> buffers{net::buffer(head_), net::buffer(body_)};
  async_write_all(buffers, [self = shared_from_this()](const error_code& ec, size_t) {
    self->on_written(ec);
  });
}

void Connection::on_written(const error_code& ec) {
  if (phase_ == Phase::closed) return;
  if (ec) {
    close();
    return;
  }
  // A handler's answer, not the server's refusal: the respond stage.
  if (respond_from_ != Clock::time_point{}) core_.metrics.stage_respond.observe(Clock::now() - std::exchange(respond_from_, {}));
  if (!keep_alive_ || worker_.stopping) {
    linger_close();
    return;
  }
  begin_request();
}

void Connection::linger_close() {
  // Closing with unread input makes the kernel send RST, which can destroy
  // the answer still in flight to the peer (RFC 9112, 9.6). So: half-close,
  // then read and drop what the peer still sends, until its FIN or a bound.
  phase_ = Phase::closing;
  set_deadline_ms(worker_.stopping ? kStopLingerMs : kLingerMs);
  if (tls_open_) {
    shutdown_tls();
    return;
  }
  error_code ec;
  socket_.shutdown(net::ip::tcp::socket::shutdown_send, ec);
  if (ec) {
    close();
    return;
  }
  discarded_bytes_ = 0;
  read_discard();
}

void Connection::shutdown_tls() {
  // TLS ends with close_notify (RFC 8446, 6.1) so the client can tell a
  // complete answer, or our deliberate close, from a cut connection. A read
  // may be pending (the wait for the next request, a stream's watch for the
  // client leaving): it is cancelled, and its handler, seeing tls_shutdown_,
  // does nothing; Asio's ssl::stream runs the shutdown's own read after it.
  // async_shutdown sends ours and waits for the peer's (or its FIN); the
  // closing deadline, set by linger_close, bounds the wait.
  tls_open_ = false;
  tls_shutdown_ = true;
  error_code ec;
  socket_.cancel(ec);
  tls_->async_shutdown([self = shared_from_this()](const error_code&) { self->close(); });
}

void Connection::close_idle() {
  // Plain HTTP owes a client between requests nothing but the FIN; TLS owes
  // it close_notify, or the client sees a truncation (an SSL error) where
  // the server meant an orderly end.
  if (tls_open_) {
    linger_close();
  } else {
    close();
  }
}

void Connection::read_discard() {
  if (discard_in_flight_) return;  // a stream's read carries on into lingering
  discard_in_flight_ = true;
  async_read_some(
      net::buffer(discard_), [self = shared_from_this()](const error_code& ec, size_t n) {
        self->discard_in_flight_ = false;
        if (self->phase_ == Phase::closed || self->tls_shutdown_) return;
        self->discarded_bytes_ += n;
        if (ec || self->discarded_bytes_ > kDiscardBytesMax) {
          self->close();  // EOF: the peer is done (or is gone, or will not stop talking)
          return;
        }
        self->read_discard();
      });
}

void Connection::on_timeout() {
  switch (phase_) {
    case Phase::reading:
      core_.metrics.timeouts_read.inc();
      close_idle();
      break;
    case Phase::handling:
      core_.metrics.timeouts_response.inc();
      // The handler may still be committing a write: its fate is unknown to
      // the client, who must retry with the same id (API.md, 504).
      write_response(
          Response::error(504, "outcome_unknown",
                          "no answer within " + std::to_string(core_.options.response_timeout_ms) +
                              " ms; retry with the same id"),
          /*close_after=*/true);
      break;
    case Phase::writing:
    case Phase::streaming:
      core_.metrics.timeouts_write.inc();
      close();
      break;
    case Phase::closing:
      close();
      break;
    case Phase::closed:
      break;
  }
}

void Connection::on_server_stop() {
  switch (phase_) {
    case Phase::reading:  // idle, or a request we will not finish
      close_idle();
      break;
    case Phase::closing:
      close();
      break;
    case Phase::handling:
    case Phase::writing:
      break;  // on_written closes once the answer is out (worker_.stopping)
    case Phase::streaming: {
      auto& s = *stream_;
      {
        std::lock_guard lock(s.mu);
        if (!s.finishing && !s.closed) {
          s.finishing = true;
          if (s.chunked) s.pending += "0\r\n\r\n";
        }
      }
      flush_stream();
      break;
    }
    case Phase::closed:
      break;
  }
}

void Connection::close() {
  if (phase_ == Phase::closed) return;
  phase_ = Phase::closed;
  deadline_ = Clock::time_point::max();
  error_code ec;
  socket_.close(ec);  // pending operations complete with operation_aborted
  if (stream_) {
    const auto stream = std::move(stream_);
    mark_closed(*stream);
  }
  if (!address_.empty()) core_.release_address(std::exchange(address_, {}));
  worker_.remove(this);  // drops the owning reference; the caller holds another
}

// ---- Streaming ---------------------------------------------------------------

void Connection::begin_stream(uint64_t seq, std::shared_ptr<detail::StreamState> state) {
  if (phase_ != Phase::handling || seq != seq_) {
    mark_closed(*state);  // timed out or closed meanwhile
    return;
  }
  phase_ = Phase::streaming;
  stream_ = std::move(state);
  deadline_ = Clock::time_point::max();  // an idle stream may stay open; writes have a deadline
  // Keep a read going: it is how we learn that the client went away.
  discarded_bytes_ = 0;
  read_discard();
  flush_stream();
}

void Connection::flush_stream() {
  if (phase_ != Phase::streaming || !stream_ || stream_write_in_flight_) return;
  auto& s = *stream_;
  bool finished = false;
  {
    std::lock_guard lock(s.mu);
    if (s.pending.empty()) {
      s.flush_posted = false;  // the next write() posts again
      finished = s.finishing;
    } else {
      // Double buffering: the producer appends to one string while the
      // socket writes the other; both keep their capacity.
      std::swap(s.pending, stream_writing_);
      s.in_flight_bytes = stream_writing_.size();
    }
  }
  if (!stream_writing_.empty()) {
    stream_write_in_flight_ = true;
    set_deadline_ms(core_.options.write_timeout_ms);
    async_write_all(net::buffer(stream_writing_), [self = shared_from_this()](
                                                      const error_code& ec, size_t) {
      self->on_stream_written(ec);
    });
  } else if (finished) {
    // The response is complete: the producer hears so now, not after the
    // lingering close, and the connection ends.
    const auto stream = std::move(stream_);
    mark_closed(*stream);
    linger_close();
  }
}

void Connection::on_stream_written(const error_code& ec) {
  stream_write_in_flight_ = false;
  if (phase_ != Phase::streaming) return;
  if (ec) {
    close();
    return;
  }
  deadline_ = Clock::time_point::max();
  stream_writing_.clear();
  auto& s = *stream_;
  bool wake = false;
  {
    std::lock_guard lock(s.mu);
    s.in_flight_bytes = 0;
    // Wake the producer once the client has caught up halfway, not at the
    // first free byte, so it writes in batches.
    if (s.wake_when_drained && s.pending.size() <= s.buffer_bytes_max / 2) {
      s.wake_when_drained = false;
      wake = true;
    }
  }
  const auto keep = stream_;  // on_change may end the stream
  if (wake && keep->on_change) keep->on_change();
  flush_stream();
}

}  // namespace betcore::http
