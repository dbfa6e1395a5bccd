#include "tools/bench_load.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <charconv>
#include <chrono>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "tls/asio_context.h"
#include "tools/splitmix.h"

namespace betcore::tools {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

// An answer body above this is not a betcore answer to POST /v1/bets.
constexpr size_t kResponseBytesMax = size_t{1} << 20;
// Pause after every target refused a connection in a row, doubling up to this.
constexpr int kReconnectPauseMsMax = 1000;

// Picks accounts, stakes and legs.
using Rng = SplitMix64;

// Read-only while the load runs; shared by all threads.
struct Shared {
  const BenchPlan& plan;
  LoadOptions options;
  std::vector<tcp::resolver::results_type> endpoints;  // per target
  // Per target: its TLS context (null for http://) and host (SNI, name check).
  std::vector<std::shared_ptr<asio::ssl::context>> tls;
  std::vector<std::string> hosts;
  // Per target: the request line and fixed headers up to "Content-Length: ".
  std::vector<std::string> prefixes;
  Clock::time_point warm_at;
  Clock::time_point end_at;
};

std::string error_key(int status, const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const auto& code = j["error"].value("code", nlohmann::json());
    if (code.is_string()) return fmt::format("{} {}", status, code.get<std::string>());
  }
  return std::to_string(status);
}

class Worker;

// One keep-alive connection in a closed loop. Thread: its worker's thread.
class Connection {
 public:
  Connection(Worker& worker, uint32_t id, size_t target);
  void start() { connect(); }
  void stop();

 private:
  void connect();
  void on_connect(error_code ec);
  void connected();
  void send();
  // Writes and reads go through TLS when the target is https.
  template <class Fn>
  void with_stream(Fn&& fn) {
    if (tls_active_) {
      fn(*tls_);
    } else {
      fn(stream_);
    }
  }
  void on_write(error_code ec);
  void on_read(error_code ec);
  void on_answer(Clock::time_point now);
  void transport_failure(std::string_view kind);
  void continue_after(int pause_ms);
  void close();
  void build_bet();
  size_t targets() const;

  Worker& w_;
  uint32_t id_;
  size_t target_;
  beast::tcp_stream stream_;
  // Over stream_, one per connection. Kept after close() until the next
  // connection replaces it: an operation cancelled by close() completes
  // later and still uses it (destroying it there was a use after free).
  std::unique_ptr<asio::ssl::stream<beast::tcp_stream&>> tls_;
  bool tls_active_ = false;  // the open connection speaks TLS
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  Rng rng_;
  uint64_t sequence_ = 0;
  std::string body_;
  std::string length_line_;  // "<content length>\r\n\r\n"
  bool open_ = false;
  bool resend_ = false;       // send the same bet again: same id, same body
  int retries_ = 0;           // of the current bet
  int connect_failures_ = 0;  // in a row, over all targets
  Clock::time_point sent_at_;
};

// The connections of one thread and their io_context.
class Worker {
 public:
  Worker(const Shared& shared, const std::vector<uint32_t>& connection_ids) : shared(shared) {
    size_t n_targets = shared.endpoints.size();
    for (uint32_t id : connection_ids) {
      connections_.push_back(std::make_unique<Connection>(*this, id, id % n_targets));
    }
  }

  // Blocks until the end of the window.
  void run() {
    for (auto& c : connections_) c->start();
    end_timer_.expires_at(shared.end_at);
    end_timer_.async_wait([this](error_code) {
      stopping = true;
      for (auto& c : connections_) c->stop();
    });
    ioc.run();
  }

  bool in_window(Clock::time_point t) const { return t >= shared.warm_at && t < shared.end_at; }

  const Shared& shared;
  asio::io_context ioc{1};  // one thread: no locking inside Asio
  LoadStats stats;          // the measured window; written by this thread only
  bool stopping = false;
  // All answers including warmup, read by the progress printer on another thread.
  std::atomic<uint64_t> answered{0};
  std::atomic<uint64_t> answered_ok{0};

 private:
  // Declared after ioc: destroyed before it.
  std::vector<std::unique_ptr<Connection>> connections_;
  asio::steady_timer end_timer_{ioc};
};

Connection::Connection(Worker& worker, uint32_t id, size_t target)
    : w_(worker),
      id_(id),
      target_(target),
      stream_(worker.ioc),
      timer_(worker.ioc),
      rng_(worker.shared.options.seed * 0x100000001b3ULL + id) {}

size_t Connection::targets() const { return w_.shared.endpoints.size(); }

void Connection::stop() {
  timer_.cancel();
  close();
}

void Connection::close() {
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
  tls_active_ = false;
  buffer_.clear();
  open_ = false;
}

void Connection::connect() {
  if (w_.stopping) return;
  stream_.expires_after(std::chrono::milliseconds(w_.shared.options.timeout_ms));
  stream_.async_connect(w_.shared.endpoints[target_],
                        [this](error_code ec, const tcp::endpoint&) { on_connect(ec); });
}

void Connection::on_connect(error_code ec) {
  if (w_.stopping) return;
  if (ec) {
    if (w_.in_window(Clock::now())) ++w_.stats.errors["transport connect_failed"];
    close();
    target_ = (target_ + 1) % targets();
    ++connect_failures_;
    // Try each target once at once; after a whole round failed, back off so
    // a dead cluster is not hammered by a busy loop.
    int rounds = connect_failures_ / static_cast<int>(targets());
    int pause_ms = rounds == 0 ? 0 : std::min(kReconnectPauseMsMax, 10 << std::min(rounds, 7));
    continue_after(pause_ms);
    return;
  }
  error_code ignored;
  stream_.socket().set_option(tcp::no_delay(true), ignored);
  const auto& ctx = w_.shared.tls[target_];
  if (!ctx) {
    connected();
    return;
  }
  // A full handshake per connection (the bench's connections live for the
  // whole run, as a client pool's do).
  tls_ = std::make_unique<asio::ssl::stream<beast::tcp_stream&>>(stream_, *ctx);
  tls_active_ = true;
  std::string error;
  if (!tls::set_peer_host(tls_->native_handle(), w_.shared.hosts[target_], &error)) {
    on_connect(asio::error::invalid_argument);
    return;
  }
  tls_->async_handshake(asio::ssl::stream_base::client, [this](error_code hs) {
    if (w_.stopping) return;
    if (hs) {
      if (w_.in_window(Clock::now())) ++w_.stats.errors["transport tls_handshake_failed"];
      close();
      continue_after(kReconnectPauseMsMax);
      return;
    }
    connected();
  });
}

void Connection::connected() {
  connect_failures_ = 0;
  open_ = true;
  send();
}

void Connection::send() {
  if (w_.stopping) return;
  if (!resend_) {
    build_bet();
    retries_ = 0;
  }
  resend_ = false;
  std::array<asio::const_buffer, 3> request = {asio::buffer(w_.shared.prefixes[target_]),
                                               asio::buffer(length_line_), asio::buffer(body_)};
  sent_at_ = Clock::now();
  // One deadline for writing the request and reading the whole answer.
  stream_.expires_after(std::chrono::milliseconds(w_.shared.options.timeout_ms));
  with_stream([&](auto& s) {
    asio::async_write(s, request, [this](error_code ec, size_t) { on_write(ec); });
  });
}

void Connection::on_write(error_code ec) {
  if (w_.stopping) return;
  if (ec) {
    transport_failure(ec == beast::error::timeout ? "timeout" : "connection_lost");
    return;
  }
  parser_.emplace();
  parser_->body_limit(kResponseBytesMax);
  with_stream([&](auto& s) {
    http::async_read(s, buffer_, *parser_, [this](error_code e, size_t) { on_read(e); });
  });
}

void Connection::on_read(error_code ec) {
  if (w_.stopping) return;
  if (ec) {
    transport_failure(ec == beast::error::timeout ? "timeout" : "connection_lost");
    return;
  }
  on_answer(Clock::now());
}

void Connection::on_answer(Clock::time_point now) {
  const auto& res = parser_->get();
  const LoadOptions& opt = w_.shared.options;
  int status = static_cast<int>(res.result_int());
  bool ok = status >= 200 && status < 300;
  bool counted = w_.in_window(now);
  w_.answered.fetch_add(1, std::memory_order_relaxed);
  if (ok) w_.answered_ok.fetch_add(1, std::memory_order_relaxed);
  if (counted) {
    ++w_.stats.requests;
    ++w_.stats.by_status[status];
    if (ok) {
      ++w_.stats.ok;
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - sent_at_).count();
      w_.stats.ok_latency_us.record(static_cast<uint64_t>(us));
    } else {
      ++w_.stats.errors[error_key(status, res.body())];
    }
  }

  int pause_ms = 0;
  bool reconnect = !res.keep_alive();
  if (status == 429 || status == 503) {
    // Honour Retry-After minimally: pause this connection briefly.
    pause_ms = opt.backoff_ms;
    auto retry_after = res[http::field::retry_after];
    int seconds = 0;
    if (std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), seconds).ec ==
        std::errc()) {
      pause_ms = std::min(pause_ms, seconds * 1000);
    }
  }
  if (status == 503) {
    // This node cannot take writes now: fail over, retry the same bet there.
    reconnect = true;
    target_ = (target_ + 1) % targets();
  }
  // A 504 may or may not have committed; 503 changed nothing. Both are
  // retried with the same id and body (API.md: exactly once).
  if ((status == 503 || status == 504) && retries_ < opt.retries_max) {
    ++retries_;
    resend_ = true;
  }
  if (reconnect) close();
  continue_after(pause_ms);
}

void Connection::transport_failure(std::string_view kind) {
  if (w_.in_window(Clock::now())) {
    ++w_.stats.requests;
    ++w_.stats.errors[fmt::format("transport {}", kind)];
  }
  close();
  target_ = (target_ + 1) % targets();
  if (retries_ < w_.shared.options.retries_max) {
    ++retries_;
    resend_ = true;
  }
  continue_after(0);
}

void Connection::continue_after(int pause_ms) {
  auto proceed = [this] {
    if (open_) {
      send();
    } else {
      connect();
    }
  };
  if (pause_ms <= 0) {
    proceed();
    return;
  }
  timer_.expires_after(std::chrono::milliseconds(pause_ms));
  timer_.async_wait([this, proceed](error_code ec) {
    if (ec || w_.stopping) return;
    proceed();
  });
}

void Connection::build_bet() {
  const BenchPlan& plan = w_.shared.plan;
  const LoadOptions& opt = w_.shared.options;
  ++sequence_;
  body_.clear();
  const std::string& account = plan.account_ids[rng_.below(plan.account_ids.size())];
  auto stake_span = static_cast<uint64_t>(plan.stake_max_cents - plan.stake_min_cents + 1);
  int64_t stake = plan.stake_min_cents + static_cast<int64_t>(rng_.below(stake_span));
  fmt::format_to(std::back_inserter(body_),
                 R"({{"bet_id":"{}{}-{}","account_id":"{}","stake":{},"legs":[)",
                 plan.bet_id_prefix, id_, sequence_, account, stake);
  size_t markets = plan.markets.size();
  size_t legs = 1;
  if (markets >= 2 && rng_.unit() < opt.multiple_ratio) {
    legs = std::min<size_t>(markets, 2 + rng_.below(3));  // 2–4 legs
  }
  std::array<size_t, 4> chosen{};
  for (size_t k = 0; k < legs; ++k) {
    size_t m;
    do {
      m = rng_.below(markets);
    } while (std::find(chosen.begin(), chosen.begin() + k, m) != chosen.begin() + k);
    chosen[k] = m;
    const auto& leg_json = plan.markets[m].leg_json;
    if (k > 0) body_ += ',';
    body_ += leg_json[rng_.below(leg_json.size())];
  }
  body_ += R"(],"accept_better_odds":true})";
  length_line_.clear();
  fmt::format_to(std::back_inserter(length_line_), "{}\r\n\r\n", body_.size());
}

std::string request_prefix(const Url& target, const std::string& trader_token) {
  return fmt::format(
      "POST {}/v1/bets HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n"
      "Content-Type: application/json\r\nUser-Agent: betcore-bench\r\nContent-Length: ",
      target.path, target.host_port(), trader_token);
}

void print_progress(std::ostream& out, const std::vector<std::unique_ptr<Worker>>& workers,
                    Clock::time_point start, const Shared& shared, uint64_t& last_ok) {
  uint64_t answered = 0;
  uint64_t ok = 0;
  for (const auto& w : workers) {
    answered += w->answered.load(std::memory_order_relaxed);
    ok += w->answered_ok.load(std::memory_order_relaxed);
  }
  auto now = Clock::now();
  double t = std::chrono::duration<double>(now - start).count();
  out << fmt::format("load: {:5.1f} s {}  {} ok/s  ({} answers, {} not ok)\n", t,
                     now < shared.warm_at ? "warmup  " : "measured", ok - last_ok, answered,
                     answered - ok)
      << std::flush;
  last_ok = ok;
}

}  // namespace

LoadResult run_load(const BenchPlan& plan, const std::vector<Url>& targets,
                    const std::string& trader_token, const LoadOptions& options,
                    std::ostream& progress) {
  LoadResult result;
  Shared shared{plan, options, {}, {}, {}, {}, {}, {}};
  {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    for (const auto& t : targets) {
      error_code ec;
      auto endpoints = resolver.resolve(t.host, std::to_string(t.port), ec);
      if (ec) {
        result.error = fmt::format("cannot resolve {}: {}", t.host, ec.message());
        return result;
      }
      shared.endpoints.push_back(std::move(endpoints));
      shared.prefixes.push_back(request_prefix(t, trader_token));
      shared.hosts.push_back(t.host);
      std::shared_ptr<asio::ssl::context> ctx;
      if (t.tls) {
        std::string tls_error;
        ctx = tls::client_context(tls::default_client(), &tls_error);
        if (!ctx) {
          result.error = "TLS to " + t.origin() + ": " + tls_error;
          return result;
        }
      }
      shared.tls.push_back(std::move(ctx));
    }
  }
  int connections = std::max(1, options.connections);
  int threads = std::clamp(options.threads, 1, connections);
  auto start = Clock::now();
  shared.warm_at = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(std::max(0.0, options.warmup_s)));
  shared.end_at = shared.warm_at + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(options.duration_s));

  std::vector<std::vector<uint32_t>> ids(static_cast<size_t>(threads));
  for (int i = 0; i < connections; ++i) {
    ids[static_cast<size_t>(i % threads)].push_back(static_cast<uint32_t>(i));
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (const auto& worker_ids : ids)
    workers.push_back(std::make_unique<Worker>(shared, worker_ids));
  std::vector<std::thread> running;
  for (auto& w : workers) running.emplace_back([&w] { w->run(); });

  uint64_t last_ok = 0;
  auto next_print = start + std::chrono::seconds(1);
  bool opened = false;
  while (Clock::now() < shared.end_at) {
    if (!opened && Clock::now() >= shared.warm_at) {
      opened = true;
      if (options.on_window_open) options.on_window_open();
    }
    auto wake = std::min({next_print, shared.end_at, opened ? shared.end_at : shared.warm_at});
    std::this_thread::sleep_until(wake);
    if (options.progress && Clock::now() >= next_print) {
      print_progress(progress, workers, start, shared, last_ok);
      next_print += std::chrono::seconds(1);
    }
  }
  if (!opened && options.on_window_open) options.on_window_open();
  if (options.on_window_close) options.on_window_close();
  for (auto& t : running) t.join();
  for (const auto& w : workers) result.stats.merge(w->stats);
  result.window_s = options.duration_s;
  result.ok = true;
  return result;
}

}  // namespace betcore::tools
