// http_bench: requests/s through the HTTP server, end to end over loopback,
// with the load generator in the same process (as on the target machine,
// where it shares the cores).
//
//   http_bench [--seconds 5] [--connections 64] [--server-threads 2]
//              [--client-threads 1] [--post] [--async] [--port P]
//
// --post   POST a ~120-byte JSON body instead of a GET.
// --async  answer from another thread (as a write does after its commit).
// --port   load an already running server instead of starting one.
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/http/http_server.h"

namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

struct Config {
  int seconds = 5;
  int connections = 64;
  int server_threads = 2;
  int client_threads = 1;
  bool post = false;
  bool async = false;
  int port = 0;
};

std::atomic<uint64_t> g_done{0};
std::atomic<uint64_t> g_errors{0};
std::atomic<bool> g_stop{false};

// One keep-alive connection sending a request, reading its answer, repeating.
class LoadConnection : public std::enable_shared_from_this<LoadConnection> {
 public:
  LoadConnection(net::io_context& ioc, const std::string& request)
      : socket_(ioc), request_(request) {}

  void start(uint16_t port) {
    const net::ip::tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
    socket_.async_connect(ep, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) {
        ++g_errors;
        return;
      }
      self->socket_.set_option(net::ip::tcp::no_delay(true));
      self->send();
    });
  }

 private:
  void send() {
    if (g_stop.load(std::memory_order_relaxed)) return;
    net::async_write(socket_, net::buffer(request_),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (ec) {
                         ++g_errors;
                         return;
                       }
                       self->read();
                     });
  }

  void read() {
    socket_.async_read_some(
        net::buffer(buf_.data() + have_, buf_.size() - have_),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
          if (ec) {
            ++g_errors;
            return;
          }
          self->have_ += n;
          self->on_data();
        });
  }

  void on_data() {
    const std::string_view data(buf_.data(), have_);
    const size_t head_end = data.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return read();
    const size_t cl = data.find("Content-Length: ");
    if (cl == std::string_view::npos || cl > head_end) {
      ++g_errors;
      return;
    }
    const size_t length = std::strtoul(data.data() + cl + 16, nullptr, 10);
    const size_t total = head_end + 4 + length;
    if (have_ < total) return read();
    if (data.compare(0, 12, "HTTP/1.1 200") != 0 && data.compare(0, 12, "HTTP/1.1 201") != 0) {
      ++g_errors;
    }
    std::memmove(buf_.data(), buf_.data() + total, have_ - total);
    have_ -= total;
    g_done.fetch_add(1, std::memory_order_relaxed);
    send();
  }

  net::ip::tcp::socket socket_;
  const std::string& request_;
  std::array<char, 8192> buf_;
  size_t have_ = 0;
};

// Answers queued requests from one thread, like the node's applier does.
class AsyncAnswerer {
 public:
  AsyncAnswerer() : thread_([this] { run(); }) {}
  ~AsyncAnswerer() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void push(betcore::http::Responder r) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(r));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::deque<betcore::http::Responder> batch;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return done_ || !queue_.empty(); });
        if (done_) return;
        batch.swap(queue_);
      }
      for (auto& r : batch) {
        r.send(betcore::http::Response::json(201, R"({"bet_id":"b-1","index":812})"));
      }
      batch.clear();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<betcore::http::Responder> queue_;
  bool done_ = false;
  std::thread thread_;
};

Config parse_args(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> int {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (a == "--seconds")
      c.seconds = next();
    else if (a == "--connections")
      c.connections = next();
    else if (a == "--server-threads")
      c.server_threads = next();
    else if (a == "--client-threads")
      c.client_threads = next();
    else if (a == "--post")
      c.post = true;
    else if (a == "--async")
      c.async = true;
    else if (a == "--port")
      c.port = next();
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      std::exit(2);
    }
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv);
  std::unique_ptr<AsyncAnswerer> answerer;
  if (cfg.async) answerer = std::make_unique<AsyncAnswerer>();

  std::unique_ptr<betcore::http::Server> server;
  uint16_t port = static_cast<uint16_t>(cfg.port);
  if (port == 0) {
    betcore::http::Options o;
    o.threads = cfg.server_threads;
    server = std::make_unique<betcore::http::Server>(
        o, [&answerer](betcore::http::Request&& req, betcore::http::Responder r) {
          if (answerer) {
            answerer->push(std::move(r));
            return;
          }
          betcore::http::Response resp;
          resp.body = req.body.empty() ? R"({"market_id":"m1","status":"open"})" : req.body;
          r.send(std::move(resp));
        });
    const betcore::http::Status s = server->start();
    if (!s.ok()) {
      std::fprintf(stderr, "http_bench: %s\n", s.error.c_str());
      return 1;
    }
    port = server->bound_port();
  }

  const std::string body =
      R"({"bet_id":"b-42","account_id":"alice","stake":500,"legs":[{"market_id":"m1","selection_id":"home","odds":"2.10"}]})";
  const std::string request =
      cfg.post ? "POST /v1/bets HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer tok\r\n"
                 "Content-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body
               : std::string(
                     "GET /v1/markets/m1 HTTP/1.1\r\nHost: bench\r\n"
                     "Authorization: Bearer tok\r\n\r\n");

  std::vector<std::unique_ptr<net::io_context>> client_iocs;
  for (int i = 0; i < cfg.client_threads; ++i) {
    client_iocs.push_back(std::make_unique<net::io_context>(1));
  }
  for (int i = 0; i < cfg.connections; ++i) {
    std::make_shared<LoadConnection>(*client_iocs[static_cast<size_t>(i) % client_iocs.size()],
                                     request)
        ->start(port);
  }
  std::vector<std::thread> client_threads;
  for (auto& ioc : client_iocs) client_threads.emplace_back([&ioc] { ioc->run(); });

  std::this_thread::sleep_for(std::chrono::seconds(1));  // warm up
  const uint64_t start_count = g_done.load();
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(cfg.seconds));
  const uint64_t end_count = g_done.load();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  g_stop = true;
  for (auto& ioc : client_iocs) ioc->stop();
  for (auto& t : client_threads) t.join();
  if (server) server->stop();

  const double rps = static_cast<double>(end_count - start_count) / elapsed;
  std::printf(
      "http_bench: %s%s, %d connections, %d server threads, %d client threads: "
      "%.0f requests/s, mean latency %.3f ms, errors %llu\n",
      cfg.post ? "POST" : "GET", cfg.async ? " (answered from another thread)" : "",
      cfg.connections, cfg.server_threads, cfg.client_threads, rps,
      rps > 0 ? 1000.0 * cfg.connections / rps : 0.0,
      static_cast<unsigned long long>(g_errors.load()));
  return 0;
}
