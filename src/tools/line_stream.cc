// LineStream over Beast: a response_parser with a buffer_body reads the
// chunked body piece by piece as it arrives.
#include "tools/line_stream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <mutex>
#include <optional>

#include "tls/asio_context.h"

namespace betcore::tools {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct LineStream::Impl {
  asio::io_context io;
  beast::tcp_stream stream{io};
  std::shared_ptr<asio::ssl::context> tls_context;
  std::unique_ptr<asio::ssl::stream<beast::tcp_stream&>> tls;  // https: over `stream`
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> parser;
  std::string pending;  // bytes of the body not yet handed out as lines
  std::string error;
  std::atomic<bool> cancelled{false};
  std::mutex fd_mu;
  int fd = -1;  // for cancel(): shutdown() wakes a blocked read
  bool done = false;

  // Blocking reads and writes, through TLS for https.
  template <class Fn>
  void with_stream(Fn&& fn) {
    if (tls) {
      fn(*tls);
    } else {
      fn(stream.socket());
    }
  }

  // "" or why the TLS handshake failed; bounded by `timeout_ms`.
  std::string handshake(const Url& url, int timeout_ms) {
    std::string error;
    tls_context = tls::client_context(tls::default_client(), &error);
    if (!tls_context) return error;
    tls = std::make_unique<asio::ssl::stream<beast::tcp_stream&>>(stream, *tls_context);
    if (!tls::set_peer_host(tls->native_handle(), url.host, &error)) return error;
    error_code ec;
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    tls->async_handshake(asio::ssl::stream_base::client, [&](const error_code& e) { ec = e; });
    io.run();
    io.restart();
    stream.expires_never();
    return ec ? "TLS handshake with " + url.host_port() + " failed: " + ec.message() : "";
  }
};

LineStream::LineStream() : impl_(std::make_unique<Impl>()) {}
LineStream::~LineStream() { cancel(); }

const std::string& LineStream::error() const { return impl_->error; }

void LineStream::cancel() {
  impl_->cancelled = true;
  std::lock_guard lock(impl_->fd_mu);
  if (impl_->fd >= 0) ::shutdown(impl_->fd, SHUT_RDWR);
}

Response LineStream::open(const Url& url, const std::string& target,
                          const std::string& bearer_token, int connect_timeout_ms) {
  Impl& m = *impl_;
  Response r;
  error_code ec;
  tcp::resolver resolver(m.io);
  auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec) {
    r.error = "cannot resolve " + url.host + ": " + ec.message();
    return r;
  }
  m.stream.expires_after(std::chrono::milliseconds(connect_timeout_ms));
  m.stream.async_connect(endpoints, [&](const error_code& e, const tcp::endpoint&) { ec = e; });
  m.io.run();
  m.io.restart();
  if (ec) {
    r.error = "cannot connect to " + url.host_port() + ": " + ec.message();
    return r;
  }
  m.stream.expires_never();
  if (url.tls) {
    if (std::string e = m.handshake(url, connect_timeout_ms); !e.empty()) {
      r.error = std::move(e);
      return r;
    }
  }
  tcp::socket& socket = m.stream.socket();
  const int fd = socket.native_handle();
  const int on = 1, idle = 5, interval = 2, count = 3;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  {
    std::lock_guard lock(m.fd_mu);
    m.fd = fd;
    if (m.cancelled) ::shutdown(fd, SHUT_RDWR);
  }
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, url.host_port());
  if (!bearer_token.empty()) req.set(http::field::authorization, "Bearer " + bearer_token);
  m.with_stream([&](auto& s) { http::write(s, req, ec); });
  if (ec) {
    r.error = "cannot send the request to " + url.host_port() + ": " + ec.message();
    return r;
  }
  m.parser.emplace();
  m.parser->body_limit(boost::none);  // a stream has no end
  m.with_stream([&](auto& s) { http::read_header(s, m.buffer, *m.parser, ec); });
  if (ec) {
    r.error = "no answer from " + url.host_port() + ": " + ec.message();
    return r;
  }
  r.status = static_cast<int>(m.parser->get().result_int());
  if (r.status != 200) {
    // Read the (short) error body.
    char chunk[4096];
    while (!m.parser->is_done() && r.body.size() < 65536) {
      m.parser->get().body().data = chunk;
      m.parser->get().body().size = sizeof chunk;
      m.with_stream([&](auto& s) { http::read(s, m.buffer, *m.parser, ec); });
      r.body.append(chunk, sizeof chunk - m.parser->get().body().size);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) break;
    }
    m.done = true;
  }
  return r;
}

bool LineStream::next_line(std::string& line) {
  Impl& m = *impl_;
  for (;;) {
    if (const size_t nl = m.pending.find('\n'); nl != std::string::npos) {
      line.assign(m.pending, 0, nl);
      m.pending.erase(0, nl + 1);
      return true;
    }
    if (m.cancelled) {
      m.error = "cancelled";
      return false;
    }
    if (m.done || !m.parser) {
      if (m.error.empty()) m.error = "the stream ended";
      return false;
    }
    if (m.parser->is_done()) {
      m.done = true;
      continue;
    }
    char chunk[65536];
    m.parser->get().body().data = chunk;
    m.parser->get().body().size = sizeof chunk;
    error_code ec;
    m.with_stream([&](auto& s) { http::read_some(s, m.buffer, *m.parser, ec); });
    m.pending.append(chunk, sizeof chunk - m.parser->get().body().size);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      m.done = true;
      m.error = m.cancelled ? "cancelled" : "the stream broke: " + ec.message();
    }
  }
}

}  // namespace betcore::tools
