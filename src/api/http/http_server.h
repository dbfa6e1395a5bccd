// A small HTTP/1.1 server: keep-alive, one request at a time per connection,
// answers that may come later from any thread, and chunked streaming.
//
// The routes (src/api) see only this header: no Beast or Asio here, so the
// code above compiles fast. Inside (connection.cc), Beast parses requests and
// Asio runs one io_context per thread; each connection belongs to one of them
// for its whole life, so its state needs no locks.
//
// The life of a request:
//   1. The server reads and parses it, enforcing Options' limits. A request it
//      cannot take is answered by the server itself and never reaches the
//      handler: malformed (400 invalid_request, then close), body over
//      body_bytes_max (413 too_large, then close), header over
//      header_bytes_max (431 too_large, then close), not HTTP/1.x (505).
//   2. The handler is called once, on the connection's I/O thread, with the
//      request and a Responder.
//   3. Someone answers through the Responder, once: at once, or later from any
//      thread (a write answers after its batch is committed and applied).
//   4. The server writes the answer and reads the next request on the same
//      connection (keep-alive), or closes it.
// Nothing waits forever: a Responder dropped without an answer answers 500; no
// answer within response_timeout_ms answers 504 outcome_unknown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tls/tls.h"

namespace betcore::ops {
class Registry;
}

namespace betcore::http {

enum class Method : uint8_t { get, head, post, put, patch, delete_, options, other };
std::string_view to_string(Method method);

struct Request {
  Method method = Method::other;
  int version = 11;           // 10 for HTTP/1.0, 11 for HTTP/1.1
  std::string target;         // path and query exactly as sent: "/v1/bets/b-1?account_id=a"
  std::string body;           // complete (chunked request bodies are joined)
  std::string authorization;  // the raw Authorization header, "" when absent
  std::string content_type;   // the raw Content-Type header, "" when absent
  std::string remote;         // peer address, "127.0.0.1:54321" or "[::1]:54321"
  // The headers named in Options::capture_headers, as (lower-case name, value),
  // in the order sent. Empty unless the server was asked to keep some.
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of the first captured header `name` (lower-case), or "".
  std::string_view header(std::string_view name) const;

  // The target up to '?', and what follows it ("" when none). Not decoded.
  std::string_view path() const;
  std::string_view query() const;
  // The first `key=value` of the query with this key, percent-decoded ('+' is
  // a space). nullopt when absent or not valid percent-encoding.
  std::optional<std::string> query_param(std::string_view key) const;
};

// "%41b+c" -> "Ab c". nullopt on a bad escape. `plus_is_space` for queries.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

struct Response {
  int status = 200;
  std::string body;
  // Empty means "application/json" (the API's type; empty costs no allocation).
  std::string content_type;
  // Extra headers, e.g. {"Retry-After", "1"}. The server owns Content-Length,
  // Transfer-Encoding and Connection and drops those names here, as it drops
  // any header whose name or value holds CR, LF or NUL (header injection).
  std::vector<std::pair<std::string, std::string>> headers;
  // Instead of answering, reset the connection (TCP RST, nothing written).
  // For servers that play a failing third party in tests.
  bool reset_connection = false;

  // A JSON answer: Response::json(201, R"({"index":812})").
  static Response json(int status, std::string body);
  // {"error":{"code":"<code>","message":"<message>"}} (API.md, "Errors"),
  // with `message` escaped for JSON.
  static Response error(int status, std::string_view code, std::string_view message);
};

namespace detail {
struct Exchange;
struct StreamState;
}  // namespace detail

// A chunked response fed over time (GET /v1/stream): each write() is one
// chunk, sent in order. Handles are cheap to copy and share one stream.
//
// Thread-safe: write() and finish() may be called from any thread, even
// concurrently. Backpressure: the bytes accepted but not yet taken by the
// socket are bounded by Options::stream_buffer_bytes_max; past it write()
// refuses with `full` and the producer waits for `on_change` (then resumes
// from where it stopped, e.g. the next log index to send).
// The stream always ends its connection (the response says Connection: close).
class Stream {
 public:
  enum class Write {
    ok,      // queued; will be sent after every earlier chunk
    full,    // not queued: the client is too far behind; wait for on_change
    closed,  // not queued: the client is gone, finish() was called, or the server stopped
  };

  Stream() = default;  // a closed stream

  // An empty `data` is accepted and sends nothing (an empty chunk would end
  // the response). A chunk larger than the whole buffer is accepted when the
  // buffer is empty, so no chunk is too large to send.
  Write write(std::string_view data) const;
  // Ends the response (the terminating chunk) once everything queued is
  // sent, then closes the connection. Idempotent.
  void finish() const;
  // False once the stream is finished or closed; write() then says `closed`.
  bool is_open() const;
  // Bytes queued and not yet written to the socket.
  size_t buffered_bytes() const;

 private:
  friend class Responder;
  explicit Stream(std::shared_ptr<detail::StreamState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::StreamState> state_;
};

struct StreamHead {
  int status = 200;
  std::string content_type = "application/x-ndjson";
  std::vector<std::pair<std::string, std::string>> headers;  // same rules as Response::headers
  // Called on an I/O thread, with no lock of the server's held (so it may call
  // write()), when the stream becomes writable again after a write() said
  // `full`, and when it closes for any reason (finished and sent, client
  // gone, server stopping). A wake-up, not a message: check write() or
  // is_open(). Quick and non-blocking. It may never be called for a stream
  // that is already closed when start_stream() returns: check is_open() then.
  std::function<void()> on_change;
};

// Answers one request. Copies share the answer: the first send() or
// start_stream() of any copy wins; later calls do nothing (send returns
// false). When the last copy is destroyed without an answer, the server
// answers 500 internal. Thread-safe; every call may come from any thread. The
// connection may have closed in the meantime: the answer is then dropped.
class Responder {
 public:
  Responder() = default;  // answers nothing; for tests and placeholders

  // Queues the response for writing. Returns false if this request was
  // answered already. True does not mean delivered (the client may be gone).
  bool send(Response response) const;
  // Starts a chunked response (HTTP/1.0 clients get the raw bytes, ended by
  // the close). Returns a closed Stream if the request was answered already
  // or the connection is gone.
  Stream start_stream(StreamHead head) const;
  bool answered() const;

 private:
  friend class Connection;
  explicit Responder(std::shared_ptr<detail::Exchange> exchange) : exchange_(std::move(exchange)) {}
  std::shared_ptr<detail::Exchange> exchange_;
};

// Called on the connection's I/O thread; with Options::threads > 1, on
// several threads at once. It must not block: anything slow goes to another
// thread with the Responder. The Request reference is valid only during the
// call: move out what you keep (moving is free).
using Handler = std::function<void(Request&& request, Responder responder)>;

struct Options {
  std::string host = "127.0.0.1";  // numeric address or name; "0.0.0.0" for every interface
  uint16_t port = 0;               // 0: an ephemeral port, see Server::bound_port()
  int threads = 1;                 // I/O threads, each running its own connections
  int listen_backlog = 1024;

  size_t body_bytes_max = 64 * 1024;             // larger bodies: 413 too_large
  size_t header_bytes_max = 16 * 1024;           // request line and headers; larger: 431
  // More: a best-effort plain 503, then close; on HTTPS the close alone (a
  // TLS client cannot read plaintext), counted all the same.
  size_t connections_max = 10000;
  // From one client address (IP) at once; more: the same refusal. 0: no cap.
  // One address cannot then take every connection slot (or file descriptor).
  size_t connections_per_address_max = 0;
  size_t stream_buffer_bytes_max = 1024 * 1024;  // per stream, see Stream
  // Other headers the handler reads (Request::headers), lower-case, e.g.
  // {"idempotency-key"}. Authorization and Content-Type are always kept.
  std::vector<std::string> capture_headers;

  int idle_timeout_ms = 60000;      // keep-alive: wait this long for a request to begin
  int request_timeout_ms = 10000;   // first byte to complete request (stops slowloris)
  int write_timeout_ms = 10000;     // one response or stream write to the socket
  int response_timeout_ms = 60000;  // handler's answer; then 504 outcome_unknown; 0 = unbounded
  int stop_timeout_ms = 5000;       // stop(): how long answers in flight may finish

  // Server metrics (betcore_http_*) go here when set; owned by the caller and
  // must outlive the Server.
  ops::Registry* metrics = nullptr;

  // HTTPS when tls.enabled(): TLS 1.2/1.3 on every connection (the handshake
  // counts against request_timeout_ms). A client speaking plain HTTP to it
  // gets a plain 400 naming https, then the connection closes. The server
  // ends every session it closes (idle, stopping, Connection: close, a
  // finished stream) with close_notify, waiting up to 1 s for the client's.
  tls::ServerFiles tls;
};

// An error as a value (STYLE.md, habit 2).
struct [[nodiscard]] Status {
  std::string error;  // empty on success; otherwise what failed, for a person
  bool ok() const { return error.empty(); }
};

// Thread: construct, start, stop and destroy from one thread that is not one
// of the server's I/O threads (so never from inside a handler).
class Server {
 public:
  Server(Options options, Handler handler);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the I/O threads. REQUIRES: called once.
  Status start();
  // The port bound by start() (useful with Options::port = 0); 0 before.
  uint16_t bound_port() const;
  // Reads Options::tls's files again (certificate rotation): new connections
  // get the new certificate, open ones keep theirs. On failure the old
  // certificate stays in use and the error says which file and why.
  // Thread-safe; a no-op without TLS.
  Status reload_tls();
  // Draining: from now on every answer says "Connection: close" and closes
  // its connection, so clients (HAProxy) open their next one elsewhere,
  // while the server still accepts and answers. Thread-safe.
  void close_connections_after_answers();
  // Graceful: stops accepting, closes idle connections, finishes streams,
  // lets answers in flight be written for up to stop_timeout_ms, then closes
  // everything and joins the I/O threads. Later answers are dropped.
  // Idempotent.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// GET /metrics: `registry` in the Prometheus text format (metrics_endpoint.cc).
Response metrics_response(const ops::Registry& registry);
// The whole HTTP surface of a process that only reports (the feed adapter,
// the archiver): GET /metrics, and 404 to anything else. `registry` must
// outlive the server.
Handler metrics_only(const ops::Registry& registry);

}  // namespace betcore::http
