#include "tools/http_client.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <mutex>

#include "tls/asio_context.h"

namespace betcore::tools {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool host_char_ok(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// Errors that mean "the peer closed or reset the connection".
bool is_connection_lost(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::ssl::error::stream_truncated;
}

std::mutex tls_mu;
// One context per set of files, shared by every client of the process (a
// context holds the parsed CA store: building one per connection is slow).
std::vector<std::pair<std::string, std::shared_ptr<asio::ssl::context>>> contexts;

std::shared_ptr<asio::ssl::context> context_for(const tls::ClientFiles& f, std::string* error) {
  const std::string key = f.ca_file + '\n' + f.cert_file + '\n' + f.key_file;
  std::lock_guard lock(tls_mu);
  for (const auto& [k, ctx] : contexts) {
    if (k == key) return ctx;
  }
  auto ctx = tls::client_context(f, error);
  if (ctx) contexts.emplace_back(key, ctx);
  return ctx;
}

}  // namespace

void forget_tls_contexts() {
  std::lock_guard lock(tls_mu);
  contexts.clear();
}

std::string Url::origin() const { return (tls ? "https://" : "http://") + host_port(); }

std::string Url::host_port() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<Url> parse_url(std::string_view text) {
  Url url;
  if (auto p = text.find("://"); p != std::string_view::npos) {
    const std::string scheme = lower(text.substr(0, p));
    if (scheme != "http" && scheme != "https") return std::nullopt;
    url.tls = scheme == "https";
    if (url.tls) url.port = 443;
    text.remove_prefix(p + 3);
  }
  std::string_view authority = text.substr(0, text.find('/'));
  std::string_view path = text.substr(authority.size());
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
    for (char c : url.host) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        return std::nullopt;
    }
  } else {
    auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return std::nullopt;
    }
    if (url.host.empty() || !std::all_of(url.host.begin(), url.host.end(), host_char_ok)) {
      return std::nullopt;
    }
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return std::nullopt;
    }
    url.port = static_cast<uint16_t>(value);
  }
  if (path.find_first_of("?# ") != std::string_view::npos) return std::nullopt;
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  url.path = std::string(path);
  return url;
}

std::string Response::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

// Every operation is asynchronous with a tcp_stream deadline, driven to
// completion by running the private io_context: Beast's synchronous calls
// ignore timeouts, and a test must never hang on a stopped (SIGSTOP) node.
struct HttpClient::Impl {
  std::string host;
  uint16_t port;
  HttpClientOptions options;
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  // Over `stream` when options.tls is set; made anew for every connection.
  std::shared_ptr<asio::ssl::context> tls_context;
  std::unique_ptr<asio::ssl::stream<beast::tcp_stream&>> tls;
  std::string tls_error;  // why the context could not be built
  beast::flat_buffer buffer;
  bool open = false;

  Impl(std::string h, uint16_t p, HttpClientOptions o) : host(std::move(h)), port(p), options(o) {}

  // The request and response go through TLS when there is one.
  template <class Fn>
  void with_stream(Fn&& fn) {
    if (tls) {
      fn(*tls);
    } else {
      fn(stream);
    }
  }

  // Set by download() for its duration: asked every 100 ms while waiting.
  std::function<bool()> cancelled;

  // Runs the io_context until the started operation has completed. With
  // `cancelled` set, asks it every 100 ms; once it says so, closes the
  // connection (the operation ends with an error) and returns false.
  bool run() {
    ioc.restart();
    if (!cancelled) {
      ioc.run();
      return true;
    }
    for (;;) {
      ioc.run_for(std::chrono::milliseconds(100));
      if (ioc.stopped()) return true;
      if (cancelled()) {
        error_code ignored;
        stream.socket().close(ignored);
        ioc.run();
        close();
        return false;
      }
    }
  }

  void close() {
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
    tls.reset();
    buffer.clear();
    open = false;
  }

  // "" or why the TLS handshake failed, with what to check.
  std::string handshake() {
    // The context of the files as they are now (forget_tls_contexts).
    tls.reset();
    tls_error.clear();
    tls_context = options.tls ? context_for(*options.tls, &tls_error) : nullptr;
    if (!tls_context) return "cannot use TLS to " + where() + ": " + tls_error;
    tls = std::make_unique<asio::ssl::stream<beast::tcp_stream&>>(stream, *tls_context);
    std::string error;
    if (!tls::set_peer_host(tls->native_handle(), host, &error)) return error;
    error_code ec;
    stream.expires_after(std::chrono::milliseconds(options.connect_timeout_ms));
    tls->async_handshake(asio::ssl::stream_base::client, [&](error_code e) { ec = e; });
    if (!run()) return "cancelled";
    if (!ec) return "";
    std::string why = "TLS handshake with " + where() + " failed: " + ec.message();
    if (ec.category() == asio::error::get_ssl_category()) {
      why += " (check that the server's certificate is valid, names " + host +
             " and is signed by the CA " +
             (options.tls->ca_file.empty() ? std::string("store") : options.tls->ca_file) +
             ", and that the server speaks TLS)";
    }
    return why;
  }

  std::string where() const { return Url{host, port, ""}.host_port(); }

  // "" on success, else an error for a person.
  std::string connect() {
    close();
    tcp::resolver resolver(ioc);
    error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return "cannot resolve " + host + ": " + ec.message();
    stream.expires_after(std::chrono::milliseconds(options.connect_timeout_ms));
    stream.async_connect(endpoints, [&](error_code e, const tcp::endpoint&) { ec = e; });
    if (!run()) return "cancelled";
    if (ec) {
      close();
      if (ec == beast::error::timeout) {
        return "connect to " + where() + " timed out after " +
               std::to_string(options.connect_timeout_ms) + " ms";
      }
      return "connect to " + where() + " failed: " + ec.message();
    }
    error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    if (options.tls) {
      if (std::string error = handshake(); !error.empty()) {
        close();
        return error;
      }
    }
    open = true;
    return {};
  }

  // One exchange on the open connection. Sets `retryable` when the failure
  // happened before any byte of an answer arrived and the connection was lost.
  Response exchange(http::request<http::string_body>& req, bool& retryable) {
    Response out;
    error_code ec;
    if (!send(req, ec, retryable)) return failed(out, ec ? sending_error(ec) : "cancelled");
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.response_bytes_max);
    if (req.method() == http::verb::head) parser.skip(true);
    with_stream([&](auto& s) {
      http::async_read(s, buffer, parser, [&](error_code e, size_t) { ec = e; });
    });
    run();
    if (ec) {
      retryable = is_connection_lost(ec) && !parser.got_some();
      return failed(out, answer_error(ec));
    }
    auto& res = parser.get();
    take_head(res, out);
    out.body = std::move(res.body());
    if (!res.keep_alive()) close();
    return out;
  }

  template <class Fields>
  static void take_head(const http::response_header<Fields>& res, Response& out) {
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      out.headers[lower(std::string_view(field.name_string().data(), field.name_string().size()))] =
          std::string(field.value());
    }
  }

  // Writes the request (request_timeout_ms). False when it failed (`ec` set,
  // and `retryable` when the connection was found closed) or was cancelled.
  bool send(http::request<http::string_body>& req, error_code& ec, bool& retryable) {
    retryable = false;
    stream.expires_after(std::chrono::milliseconds(options.request_timeout_ms));
    with_stream([&](auto& s) { http::async_write(s, req, [&](error_code e, size_t) { ec = e; }); });
    if (!run()) return false;
    retryable = ec && is_connection_lost(ec);
    return !ec;
  }

  std::string sending_error(const error_code& ec) const {
    return "sending to " + where() + " failed: " + ec.message();
  }

  // Why no (whole) answer head or body came.
  std::string answer_error(const error_code& ec) const {
    return ec == beast::error::timeout
               ? "no answer from " + where() + " within " + std::to_string(options.request_timeout_ms) + " ms"
               : "reading from " + where() + " failed: " + ec.message();
  }

  // A failed transfer: status 0, `why`, the connection closed.
  Response failed(Response out, std::string why) {
    out.status = 0;
    out.body.clear();
    out.error = std::move(why);
    close();
    return out;
  }

  // exchange(), with the body of a 2xx answer read a piece at a time into
  // `dl.sink`; each wait for bytes is bounded by request_timeout_ms.
  // Long: one read loop, its failures each said where they happen.
  Response exchange_download(http::request<http::string_body>& req, const Download& dl,
                             bool& retryable) {
    Response out;
    error_code ec;
    if (!send(req, ec, retryable)) return failed(out, ec ? sending_error(ec) : "cancelled");
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(options.response_bytes_max);
    with_stream([&](auto& s) {
      http::async_read_header(s, buffer, parser, [&](error_code e, size_t) { ec = e; });
    });
    if (!run()) return failed(out, "cancelled");
    if (ec) {
      retryable = is_connection_lost(ec) && !parser.got_some();
      return failed(out, answer_error(ec));
    }
    take_head(parser.get(), out);
    const bool to_sink = out.ok() && dl.sink;
    const uint64_t total = parser.content_length().value_or(0);
    constexpr size_t kErrorBodyMax = 64 << 10;
    std::vector<char> piece(256 << 10);
    uint64_t received = 0;
    while (!parser.is_done()) {
      // Asked between pieces too: a peer that keeps sending never lets a
      // read wait long enough for run() to ask.
      if (cancelled && cancelled()) return failed(out, "cancelled");
      parser.get().body().data = piece.data();
      parser.get().body().size = piece.size();
      stream.expires_after(std::chrono::milliseconds(options.request_timeout_ms));
      with_stream([&](auto& s) {
        http::async_read_some(s, buffer, parser, [&](error_code e, size_t) { ec = e; });
      });
      if (!run()) return failed(out, "cancelled");
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        return failed(out, ec == beast::error::timeout
                               ? "no bytes from " + where() + " for " +
                                     std::to_string(options.request_timeout_ms) + " ms, after " +
                                     std::to_string(received) + " bytes"
                               : "reading from " + where() + " failed after " + std::to_string(received) +
                                     " bytes: " + ec.message());
      }
      const size_t n = piece.size() - parser.get().body().size;
      received += n;
      if (to_sink) {
        std::string why;
        if (!dl.sink(std::string_view(piece.data(), n), total, why)) return failed(out, why);
      } else if (out.body.size() < kErrorBodyMax) {
        out.body.append(piece.data(), std::min(n, kErrorBodyMax - out.body.size()));
      }
    }
    if (!parser.get().keep_alive()) close();
    return out;
  }

  // Sends on the open connection, or a new one; once more on a new one when
  // a kept-alive connection turned out closed before any byte of an answer.
  template <class Exchange>
  Response with_retry(Exchange&& exchange_once) {
    bool reused = open;
    if (!reused) {
      if (std::string error = connect(); !error.empty()) {
        Response out;
        out.error = std::move(error);
        return out;
      }
    }
    bool retryable = false;
    Response out = exchange_once(retryable);
    if (out.status != 0 || !reused || !retryable || !options.retry_on_stale_connection) return out;
    if (std::string error = connect(); !error.empty()) {
      out.error = std::move(error);
      return out;
    }
    return exchange_once(retryable);
  }
};

HttpClient::HttpClient(std::string host, uint16_t port, HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(host), port, options)) {}

HttpClient::HttpClient(const Url& url, HttpClientOptions options)
    : HttpClient(url.host, url.port, [&] {
        if (url.tls && !options.tls) options.tls = tls::default_client();
        return options;
      }()) {}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

Response HttpClient::request(std::string_view method, std::string_view target,
                             std::string_view body, std::string_view bearer_token) {
  Request req;
  req.method = std::string(method);
  req.target = std::string(target);
  req.body = std::string(body);
  req.bearer_token = std::string(bearer_token);
  return request(req);
}

namespace {

http::request<http::string_body> to_beast(const Request& request, const std::string& host_port) {
  http::request<http::string_body> req;
  http::verb verb = http::string_to_verb(request.method);
  if (verb == http::verb::unknown) {
    req.method_string(request.method);
  } else {
    req.method(verb);
  }
  req.target(request.target);
  req.version(11);
  req.set(http::field::host, host_port);
  req.set(http::field::user_agent, "betcore-tools");
  if (!request.bearer_token.empty()) {
    req.set(http::field::authorization, "Bearer " + request.bearer_token);
  }
  if (!request.body.empty()) req.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : request.headers) req.set(name, value);
  req.body() = request.body;
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

}  // namespace

Response HttpClient::request(const Request& request) {
  auto req = to_beast(request, impl_->where());
  return impl_->with_retry([&](bool& retryable) { return impl_->exchange(req, retryable); });
}

Response HttpClient::download(const Request& request, const Download& download) {
  auto req = to_beast(request, impl_->where());
  impl_->cancelled = download.cancelled;
  struct Forget {
    std::function<bool()>& cancelled;
    ~Forget() { cancelled = nullptr; }
  } forget{impl_->cancelled};
  return impl_->with_retry(
      [&](bool& retryable) { return impl_->exchange_download(req, download, retryable); });
}

void HttpClient::close() { impl_->close(); }
bool HttpClient::connected() const { return impl_->open; }
const std::string& HttpClient::host() const { return impl_->host; }
uint16_t HttpClient::port() const { return impl_->port; }
const HttpClientOptions& HttpClient::options() const { return impl_->options; }

}  // namespace betcore::tools
