// Internal: the state a Responder or a Stream shares with its connection.
//
// These objects may be held by any thread and may outlive the Server (a
// producer thread keeps its Stream after stop()). So they never own a socket:
// they name their connection by weak_ptr, and reach it only through the
// deliver_*/post_* functions below (connection.cc), which check the Hub first.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/http/http_server.h"

namespace betcore::http {

class Connection;
class Worker;

namespace detail {

// Server-wide; outlives the Server while any Exchange or StreamState lives.
struct Hub {
  // Held shared by threads posting into the I/O threads, exclusively by stop()
  // when it turns `running` off: after that nothing posts into an io_context
  // that is about to be destroyed.
  std::shared_mutex mu;
  bool running = true;  // guarded by mu

  size_t stream_buffer_bytes_max = 0;  // Options; set before the first request
};

// One request's answer slot. Immutable after construction except `answered`.
struct Exchange {
  Exchange(std::shared_ptr<Hub> hub_in, const Worker* worker_in,
           std::weak_ptr<Connection> connection_in, uint64_t seq_in, int version_in,
           bool head_request_in)
      : hub(std::move(hub_in)),
        worker(worker_in),
        connection(std::move(connection_in)),
        seq(seq_in),
        version(version_in),
        head_request(head_request_in) {}
  ~Exchange();  // answers 500 when nobody answered

  std::shared_ptr<Hub> hub;
  const Worker* worker;  // identity only (which I/O thread owns the connection); never dereferenced
  std::weak_ptr<Connection> connection;
  uint64_t seq;  // the connection's request number: a late answer to an older request is dropped
  int version;
  bool head_request;
  std::atomic<bool> answered{false};
};

// One streamed response. The producer appends framed chunks to `pending`; the
// connection's I/O thread moves them to the socket.
struct StreamState {
  std::shared_ptr<Hub> hub;
  const Worker* worker = nullptr;
  std::weak_ptr<Connection> connection;
  size_t buffer_bytes_max = 0;
  bool chunked = true;              // false for HTTP/1.0: raw bytes, ended by the close
  std::function<void()> on_change;  // set before the state is shared; called on the I/O thread

  mutable std::mutex mu;
  // Guarded by mu:
  std::string pending;             // framed bytes not yet handed to the socket
  size_t in_flight_bytes = 0;      // handed to the socket, write not completed
  bool flush_posted = false;       // a flush is queued for the I/O thread
  bool finishing = false;          // finish() called: no more writes, close when drained
  bool closed = false;             // the connection is gone: everything is dropped
  bool wake_when_drained = false;  // a write() said `full`
};

// Thread-safe; from any thread. Drop silently when the connection is gone or
// the server stopped.
void deliver_response(const Exchange& exchange, Response&& response);
// REQUIRES: `state` was just created for this exchange, with flush_posted set.
void deliver_stream_start(const Exchange& exchange, std::shared_ptr<StreamState> state);
void post_stream_flush(const StreamState& state);

// The status line and headers through the blank line.
enum class Framing {
  content_length,  // Content-Length: body_bytes
  chunked,         // Transfer-Encoding: chunked
  until_close,     // neither: the body ends when the connection closes (HTTP/1.0 streams)
};
void append_head(std::string& out, int status, std::string_view content_type,
                 const std::vector<std::pair<std::string, std::string>>& headers, Framing framing,
                 size_t body_bytes, bool keep_alive, int version);
// A final status: 200..999, anything else (a handler's bug) becomes 500.
inline int final_status(int status) { return status >= 200 && status <= 999 ? status : 500; }
// 204, 304 and 1xx carry neither a body nor Content-Length (RFC 9110, 8.6).
bool status_has_body(int status);

// Inside a catch: what the exception in flight says, for the log.
inline std::string current_exception_text() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

}  // namespace detail
}  // namespace betcore::http
