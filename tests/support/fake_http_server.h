// An in-process HTTP/1.1 server for testing clients (HttpClient, bench,
// adapters) without a node: each request goes to a handler function.
//
// Thread: the handler runs on the server's own thread, one request at a time;
// state it shares with the test needs a mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace betcore::test {

struct FakeRequest {
  std::string method;
  std::string target;  // path and query
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased

  std::string header(std::string_view name) const;  // "" if absent
};

struct FakeResponse {
  FakeResponse(int status = 200, std::string body = {},
               std::vector<std::pair<std::string, std::string>> headers = {})
      : status(status), body(std::move(body)), headers(std::move(headers)) {}

  int status;
  std::string body;  // sent with Content-Type: application/json unless headers say otherwise
  std::vector<std::pair<std::string, std::string>> headers;
  // Close the connection after this answer without announcing it (no
  // `Connection: close`): what a server's idle timeout looks like to a client.
  bool close_silently = false;
  // Send the head and only this many bytes of the body, then hold the
  // connection open without another byte: a peer that stalls mid-transfer.
  size_t body_bytes_sent = SIZE_MAX;
  // Send the body in pieces of this many bytes, one every `body_piece_ms`:
  // a slow transfer that never stalls.
  size_t body_piece_bytes = 0;
  int body_piece_ms = 0;
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  // Listens on 127.0.0.1 on a port of the kernel's choosing and serves at once.
  explicit FakeHttpServer(Handler handler);
  ~FakeHttpServer();  // closes the listener and every connection, joins the thread
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  uint16_t port() const;
  std::string url() const;       // "http://127.0.0.1:<port>"
  uint64_t requests() const;     // answered so far
  uint64_t connections() const;  // accepted so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace betcore::test
