#include "support/fake_http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <chrono>
#include <sstream>
#include <thread>

namespace betcore::test {

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

}  // namespace

std::string FakeRequest::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

struct FakeHttpServer::Impl {
  struct Session : std::enable_shared_from_this<Session> {
    Session(Impl& server, tcp::socket socket) : server(server), socket(std::move(socket)) {}

    void read() {
      request = {};
      http::async_read(socket, buffer, request,
                       [self = shared_from_this()](error_code ec, size_t) { self->on_read(ec); });
    }

    void on_read(error_code ec) {
      if (ec) return close();
      FakeRequest in;
      in.method = std::string(request.method_string());
      in.target = std::string(request.target());
      in.body = request.body();
      for (const auto& field : request) {
        in.headers[lower(std::string_view(
            field.name_string().data(), field.name_string().size()))] = std::string(field.value());
      }
      FakeResponse out = server.handler(in);
      response = {};
      response.version(11);
      response.result(static_cast<unsigned>(out.status));
      response.set(http::field::content_type, "application/json");
      response.keep_alive(request.keep_alive());
      for (const auto& [k, v] : out.headers) response.set(k, v);  // may say Connection: close
      response.body() = std::move(out.body);
      response.prepare_payload();
      bool close_after = out.close_silently || !response.keep_alive();
      ++server.requests;
      if (out.body_piece_bytes > 0 || out.body_bytes_sent != SIZE_MAX) {
        // Written by hand: the head, then the body (cut at body_bytes_sent)
        // in pieces; then read() waits for the client to go or ask again.
        std::ostringstream text;
        text << response;
        partial = text.str();
        const size_t head = partial.find("\r\n\r\n") + 4;
        partial.resize(head + std::min(partial.size() - head, out.body_bytes_sent));
        piece_bytes = out.body_piece_bytes > 0 ? out.body_piece_bytes : partial.size();
        piece_ms = out.body_piece_ms;
        asio::async_write(socket, asio::buffer(partial.data(), head),
                          [self = shared_from_this(), head](error_code e, size_t) {
                            if (e) return self->close();
                            self->sent = head;
                            self->next_piece();
                          });
        return;
      }
      http::async_write(socket, response,
                        [self = shared_from_this(), close_after](error_code e, size_t) {
                          if (e || close_after) return self->close();
                          self->read();
                        });
    }

    // One piece of `partial` after piece_ms, then the next; read() once all went.
    void next_piece() {
      if (sent >= partial.size()) return read();
      timer.expires_after(std::chrono::milliseconds(piece_ms));
      timer.async_wait([self = shared_from_this()](error_code e) {
        if (e) return self->close();
        const size_t n = std::min(self->piece_bytes, self->partial.size() - self->sent);
        asio::async_write(self->socket, asio::buffer(self->partial.data() + self->sent, n),
                          [self, n](error_code e2, size_t) {
                            if (e2) return self->close();
                            self->sent += n;
                            self->next_piece();
                          });
      });
    }

    void close() {
      error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    }

    Impl& server;
    tcp::socket socket;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;
    std::string partial;  // a response written by hand (body_bytes_sent, body_piece_bytes)
    size_t piece_bytes = 0, sent = 0;
    int piece_ms = 0;
    asio::steady_timer timer{socket.get_executor()};
  };

  explicit Impl(Handler h) : handler(std::move(h)) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
    port = acceptor.local_endpoint().port();
    accept();
    thread = std::thread([this] { ioc.run(); });
  }

  ~Impl() {
    asio::post(ioc, [this] {
      error_code ignored;
      acceptor.close(ignored);
      for (auto& weak : sessions) {
        if (auto s = weak.lock()) s->close();
      }
    });
    thread.join();
  }

  void accept() {
    acceptor.async_accept([this](error_code ec, tcp::socket socket) {
      if (ec) return;  // closed by the destructor
      ++connections;
      auto session = std::make_shared<Session>(*this, std::move(socket));
      std::erase_if(sessions, [](const auto& w) { return w.expired(); });
      sessions.push_back(session);
      session->read();
      accept();
    });
  }

  Handler handler;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  uint16_t port = 0;
  std::vector<std::weak_ptr<Session>> sessions;  // server thread only
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> connections{0};
  std::thread thread;
};

FakeHttpServer::FakeHttpServer(Handler handler)
    : impl_(std::make_unique<Impl>(std::move(handler))) {}
FakeHttpServer::~FakeHttpServer() = default;

uint16_t FakeHttpServer::port() const { return impl_->port; }
std::string FakeHttpServer::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}
uint64_t FakeHttpServer::requests() const { return impl_->requests.load(); }
uint64_t FakeHttpServer::connections() const { return impl_->connections.load(); }

}  // namespace betcore::test
