// Responder and Stream: the thread-safe handles a handler answers through.
// They only touch shared state (exchange.h); the I/O side is connection.cc.
#include <string>

#include "api/http/exchange.h"
#include "api/http/http_server.h"

namespace betcore::http {

using detail::Exchange;
using detail::StreamState;

namespace detail {

Exchange::~Exchange() {
  if (!answered.exchange(true)) {
    // Habit: a request never hangs because an answer was forgotten.
    deliver_response(*this,
                     Response::error(500, "internal", "the request was dropped without an answer"));
  }
}

}  // namespace detail

bool Responder::send(Response response) const {
  if (!exchange_ || exchange_->answered.exchange(true)) return false;
  detail::deliver_response(*exchange_, std::move(response));
  return true;
}

bool Responder::answered() const { return !exchange_ || exchange_->answered.load(); }

Stream Responder::start_stream(StreamHead head) const {
  if (!exchange_ || exchange_->answered.exchange(true)) return Stream();
  const Exchange& ex = *exchange_;
  auto state = std::make_shared<StreamState>();
  state->hub = ex.hub;
  state->worker = ex.worker;
  state->connection = ex.connection;
  state->buffer_bytes_max = ex.hub->stream_buffer_bytes_max;
  // Chunked framing is HTTP/1.1 (RFC 9112, 7.1); a 1.0 client reads to the close.
  state->chunked = ex.version >= 11;
  state->on_change = std::move(head.on_change);
  detail::append_head(state->pending, head.status, head.content_type, head.headers,
                      state->chunked ? detail::Framing::chunked : detail::Framing::until_close, 0,
                      /*keep_alive=*/false, ex.version);
  if (ex.head_request || !detail::status_has_body(detail::final_status(head.status))) {
    state->finishing = true;  // the head is all there is to send
  }
  state->flush_posted = true;  // deliver_stream_start's post also flushes
  detail::deliver_stream_start(ex, state);
  return Stream(std::move(state));
}

namespace {

size_t hex_digits(size_t n) {
  size_t digits = 1;
  while (n >>= 4) ++digits;
  return digits;
}

void append_hex(std::string& out, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t digits = hex_digits(n);
  const size_t at = out.size();
  out.resize(at + digits);
  for (size_t i = 0; i < digits; ++i) out[at + digits - 1 - i] = kHex[(n >> (4 * i)) & 15];
}

}  // namespace

Stream::Write Stream::write(std::string_view data) const {
  if (!state_) return Write::closed;
  StreamState& s = *state_;
  bool post = false;
  {
    std::lock_guard lock(s.mu);
    if (s.closed || s.finishing) return Write::closed;
    if (data.empty()) return Write::ok;
    // RFC 9112, 7.1: chunk = chunk-size (hex) CRLF chunk-data CRLF.
    const size_t framed = data.size() + (s.chunked ? hex_digits(data.size()) + 4 : 0);
    const size_t buffered = s.pending.size() + s.in_flight_bytes;
    if (buffered > 0 && buffered + framed > s.buffer_bytes_max) {
      s.wake_when_drained = true;
      return Write::full;
    }
    if (s.chunked) {
      append_hex(s.pending, data.size());
      s.pending += "\r\n";
      s.pending += data;
      s.pending += "\r\n";
    } else {
      s.pending += data;
    }
    post = !s.flush_posted;
    s.flush_posted = true;
  }
  if (post) detail::post_stream_flush(s);
  return Write::ok;
}

void Stream::finish() const {
  if (!state_) return;
  StreamState& s = *state_;
  bool post = false;
  {
    std::lock_guard lock(s.mu);
    if (s.closed || s.finishing) return;
    s.finishing = true;
    if (s.chunked) s.pending += "0\r\n\r\n";  // the last chunk, no trailers
    post = !s.flush_posted;
    s.flush_posted = true;
  }
  if (post) detail::post_stream_flush(s);
}

bool Stream::is_open() const {
  if (!state_) return false;
  std::lock_guard lock(state_->mu);
  return !state_->closed && !state_->finishing;
}

size_t Stream::buffered_bytes() const {
  if (!state_) return 0;
  std::lock_guard lock(state_->mu);
  return state_->pending.size() + state_->in_flight_bytes;
}

}  // namespace betcore::http
