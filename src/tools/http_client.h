// A small blocking HTTP/1.1 keep-alive client for tests and tools.
//
// Speaks the contract in design/API.md: JSON bodies, `Authorization: Bearer`.
// Beast stays in http_client.cc (pimpl), so including this header is cheap.
// Transport failures are values (Response::status == 0 with Response::error),
// never exceptions: a test can always `EXPECT_EQ(r.status, 201) << r.error`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tls/tls.h"

namespace betcore::tools {

// "http://HOST:PORT[/PATH]" or "https://HOST:PORT[/PATH]". The scheme may be
// omitted ("127.0.0.1:8080": http); the port defaults to 80 (443 for https);
// an IPv6 host is written in brackets ("http://[::1]:8080") and stored
// without them.
struct Url {
  std::string host;
  uint16_t port = 80;
  std::string path;  // "" or starts with '/', without a trailing '/'
  bool tls = false;  // https

  std::string host_port() const;  // "127.0.0.1:8080", "[::1]:8080"
  std::string origin() const;     // "https://127.0.0.1:8443"
};

// nullopt if `text` is not an http(s) URL as described above.
std::optional<Url> parse_url(std::string_view text);

// Clients share one TLS context per set of files (the parsed CA store and
// certificate). This drops them: every connection made from now on reads
// the files again (a node does it on SIGHUP); open connections keep theirs.
void forget_tls_contexts();

struct Response {
  int status = 0;  // 0: no HTTP answer arrived; `error` says why
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string error;                           // for a person; empty when status != 0

  bool ok() const { return status >= 200 && status < 300; }
  // The value of header `name` (any case), or "" if absent.
  std::string header(std::string_view name) const;
};

struct Request {
  std::string method = "GET";
  std::string target = "/";  // path and query, e.g. "/v1/bets/b-1?account_id=alice"
  std::string body;          // sent with Content-Type: application/json when non-empty
  std::string bearer_token;  // sent as `Authorization: Bearer <token>` when non-empty
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// A response body handed over piece by piece as it arrives, never held whole
// (a snapshot of gigabytes). HttpClientOptions::request_timeout_ms is then
// the longest wait for the next bytes, not for the whole answer, and
// response_bytes_max still caps the body.
struct Download {
  // Each piece of a 2xx answer's body, in order, with the body's whole size
  // from Content-Length (0 when the server did not say). False, with
  // `error` set, abandons the transfer.
  std::function<bool(std::string_view piece, uint64_t total, std::string& error)> sink;
  // Asked every 100 ms while waiting: true abandons the transfer at once.
  std::function<bool()> cancelled;
};

struct HttpClientOptions {
  int connect_timeout_ms = 2000;                 // resolve + TCP connect
  int request_timeout_ms = 10000;                // write the request + read the whole response
  size_t response_bytes_max = size_t{64} << 20;  // a bigger body is an error
  // A kept-alive connection may have been closed by the server while idle. If
  // a request on such a reused connection fails before any byte of an answer
  // arrives, reconnect and send it once more. Safe for this API because every
  // write carries its client id and is applied exactly once (API.md, Errors).
  bool retry_on_stale_connection = true;
  // HTTPS with these files when set: the server's certificate must chain to
  // tls->ca_file and name the host (or its address). An https Url sets it
  // from tls::default_client() when the caller did not.
  std::optional<tls::ClientFiles> tls = std::nullopt;
};

// One connection to one host:port, reopened on demand (lazily, on the next
// request after a failure or a `Connection: close`).
// Thread: not thread-safe; use one client per thread. Movable, not copyable.
class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port, HttpClientOptions options = {});
  explicit HttpClient(const Url& url, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Response request(const Request& request);
  Response request(std::string_view method, std::string_view target, std::string_view body = {},
                   std::string_view bearer_token = {});
  Response get(std::string_view target, std::string_view bearer_token = {}) {
    return request("GET", target, {}, bearer_token);
  }
  Response post(std::string_view target, std::string_view body,
                std::string_view bearer_token = {}) {
    return request("POST", target, body, bearer_token);
  }

  // `request` with its 2xx body given to `download.sink` (Response::body
  // stays empty); another status keeps its body (at most 64 KiB) as usual.
  // A transfer that did not complete is status 0 with `error`.
  Response download(const Request& request, const Download& download);

  // Closes the connection now (the next request opens a new one).
  void close();
  bool connected() const;

  const std::string& host() const;
  uint16_t port() const;
  const HttpClientOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace betcore::tools
