#include "drill/drill.h"

#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <fcntl.h>
#include <unistd.h>
#include <cstring>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "codec/batch.h"
#include "domain/rejection.h"
#include "drill/report.h"
#include "drill/testnet.h"
#include "log/etcd/etcd_client.h"
#include "log/etcd/etcd_log.h"
#include "sim/history_check.h"
#include "sim/model.h"
#include "tools/http_client.h"
#include "tools/ports.h"
#include "tools/process.h"

#ifndef BETCORE_SOURCE_DIR
#define BETCORE_SOURCE_DIR "."
#endif

namespace betcore::drill {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kEtcdMembers = 3;
constexpr int kNodes = 3;
constexpr int kAccountsPerClient = 4;
constexpr const char* kCluster = "drill";
constexpr uint64_t kNodeDiskBytes = 256ull << 20;

// ---- time ------------------------------------------------------------------------

Clock::time_point g_t0 = Clock::now();
int64_t now_ms() { return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - g_t0).count(); }
void sleep_ms(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string token_hex(std::mt19937_64& rng) { return fmt::format("{:016x}{:016x}", rng(), rng()); }

// ---- the cluster ------------------------------------------------------------------

struct Proc {
  std::string name;  // "etcd-1", "node-2"
  std::string host;  // test host: "e1", "n2"
  tools::Process process;
  int runs = 0;
  bool paused = false;
};

class DrillCluster {
 public:
  DrillCluster(TestNet& net, fs::path root, std::string betcore, std::string haproxy_template)
      : net_(net), root_(std::move(root)), betcore_(std::move(betcore)), template_(std::move(haproxy_template)) {
    for (int i = 0; i < kEtcdMembers; ++i) etcd.push_back(Proc{fmt::format("etcd-{}", i + 1), fmt::format("e{}", i + 1), {}, 0, false});
    for (int i = 0; i < kNodes; ++i) nodes.push_back(Proc{fmt::format("node-{}", i + 1), fmt::format("n{}", i + 1), {}, 0, false});
  }
  ~DrillCluster() { stop_all(); }

  std::vector<Proc> etcd, nodes;
  std::string admin, trader, payments;
  uint16_t haproxy_port = 0, stats_port = 0;

  std::string etcd_ip(int i) const { return net_.host(etcd[static_cast<size_t>(i)].host).ip; }
  std::string node_ip(int i) const { return net_.host(nodes[static_cast<size_t>(i)].host).ip; }
  std::string endpoints() const {
    std::string out;
    for (int i = 0; i < kEtcdMembers; ++i) out += (i ? "," : "") + etcd_ip(i) + ":2379";
    return out;
  }
  fs::path node_dir(int i) const { return root_ / nodes[static_cast<size_t>(i)].name; }

  bool start(std::string& why) {
    std::mt19937_64 rng(std::random_device{}());
    admin = token_hex(rng);
    trader = token_hex(rng);
    payments = token_hex(rng);
    {
      std::ofstream t(root_ / "tokens");
      t << "admin " << admin << "\ntrader " << trader << "\npayments " << payments << "\n";
    }
    for (int i = 0; i < kEtcdMembers; ++i) {
      if (!start_etcd(i, true, why)) return false;
    }
    log::etcd::Client client(log::etcd::ClientOptions{split(endpoints())});
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (!client.range("health", "", {}, 1000).ok()) {
      if (Clock::now() > deadline) {
        why = "etcd did not become healthy in 30 s:\n" + etcd[0].process.read_log();
        return false;
      }
      sleep_ms(100);
    }
    for (int i = 0; i < kNodes; ++i) {
      // Each node's data on a tmpfs of its own: the drill can fill it.
      fs::create_directories(node_dir(i));
      std::string opts = fmt::format("size={}", kNodeDiskBytes);
      if (::mount("tmpfs", node_dir(i).c_str(), "tmpfs", 0, opts.c_str()) != 0) {
        why = "cannot mount a tmpfs for " + nodes[static_cast<size_t>(i)].name + " (needs root): " + std::strerror(errno);
        return false;
      }
      mounted_.push_back(node_dir(i));
      if (!start_node(i, why)) return false;
    }
    for (int i = 0; i < kNodes; ++i) {
      if (!wait_ready(i, 60'000)) {
        why = nodes[static_cast<size_t>(i)].name + " did not become ready:\n" + nodes[static_cast<size_t>(i)].process.read_log();
        return false;
      }
    }
    return start_haproxy(why);
  }

  bool start_etcd(int i, bool initial, std::string& why) {
    Proc& p = etcd[static_cast<size_t>(i)];
    std::string ip = etcd_ip(i);
    std::string initial_cluster;
    for (int k = 0; k < kEtcdMembers; ++k) {
      initial_cluster += (k ? "," : "") + fmt::format("{}=http://{}:2380", etcd[static_cast<size_t>(k)].name, etcd_ip(k));
    }
    tools::SpawnOptions so;
    so.program = "ip";
    so.args = {"netns", "exec", net_.host(p.host).ns, "/usr/bin/etcd",
               "--name", p.name, "--data-dir", (root_ / p.name).string(),
               "--listen-client-urls", "http://" + ip + ":2379", "--advertise-client-urls", "http://" + ip + ":2379",
               "--listen-peer-urls", "http://" + ip + ":2380", "--initial-advertise-peer-urls", "http://" + ip + ":2380",
               "--initial-cluster", initial_cluster, "--initial-cluster-state", initial ? "new" : "existing",
               "--initial-cluster-token", "betcore-drill", "--max-request-bytes", "8388608",
               "--quota-backend-bytes", "8589934592", "--auto-compaction-retention", "0", "--pre-vote=true",
               "--logger", "zap", "--log-outputs", "stderr"};
    so.log_path = (root_ / fmt::format("{}-run{}.log", p.name, p.runs++)).string();
    p.process = tools::Process::spawn(so);
    p.paused = false;
    if (!p.process.started()) {
      why = "cannot start etcd: " + p.process.spawn_error();
      return false;
    }
    return true;
  }

  bool start_node(int i, std::string& why) {
    Proc& p = nodes[static_cast<size_t>(i)];
    std::string addr = node_ip(i) + ":8080";
    tools::SpawnOptions so;
    so.program = "ip";
    so.args = {"netns", "exec", net_.host(p.host).ns, betcore_, "node",
               "--data", node_dir(i).string(), "--listen", addr, "--advertise", addr,
               "--tokens", (root_ / "tokens").string(), "--node-id", p.name,
               "--log", "etcd://" + endpoints() + "/" + kCluster,
               "--checkpoint-every-commands", "3000", "--http-threads", "2"};
    so.log_path = (root_ / fmt::format("{}-run{}.log", p.name, p.runs++)).string();
    p.process = tools::Process::spawn(so);
    p.paused = false;
    if (!p.process.started()) {
      why = "cannot start " + p.name + ": " + p.process.spawn_error();
      return false;
    }
    return true;
  }

  bool start_haproxy(std::string& why, int attempt = 1) {
    std::string cfg = read_file(template_);
    if (cfg.empty()) {
      why = "cannot read the HAProxy config template " + template_ + " (--haproxy-config)";
      return false;
    }
    haproxy_port = tools::reserve_port();
    stats_port = tools::reserve_port();
    std::string servers;
    for (int i = 0; i < kNodes; ++i) servers += fmt::format("    server {} {}:8080\n", nodes[static_cast<size_t>(i)].name, node_ip(i));
    replace_line(cfg, "@LISTEN@", fmt::format("127.0.0.1:{}", haproxy_port));
    replace_line(cfg, "@STATS@", fmt::format("127.0.0.1:{}", stats_port));
    replace_line(cfg, "@SERVERS@", servers);
    fs::path file = root_ / "haproxy.cfg";
    std::ofstream(file) << cfg;
    tools::SpawnOptions so;
    so.program = "/usr/sbin/haproxy";
    so.args = {"-f", file.string(), "-db"};
    so.log_path = (root_ / "haproxy.log").string();
    haproxy_ = tools::Process::spawn(so);
    if (!haproxy_.started()) {
      why = "cannot start HAProxy: " + haproxy_.spawn_error();
      return false;
    }
    tools::HttpClient c("127.0.0.1", haproxy_port, tools::HttpClientOptions{500, 1000});
    for (int k = 0; k < 100 && haproxy_.running(); ++k) {
      if (c.request("GET", "/health/ready").status == 200) return true;
      sleep_ms(100);
    }
    std::string log = haproxy_.read_log();
    why = fmt::format("HAProxy (port {}, stats port {}) did not answer /health/ready in 10 s; {}:\n{}",
                      haproxy_port, stats_port, haproxy_.log_path(), log);
    haproxy_.stop(2'000);
    // A port taken by a program outside the reservations: new ports, again.
    if (attempt < 3 && log.find("Address already in use") != std::string::npos) {
      return start_haproxy(why, attempt + 1);
    }
    return false;
  }

  bool wait_ready(int i, int timeout_ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
      if (node_ready(i)) return true;
      if (!nodes[static_cast<size_t>(i)].process.running()) return false;
      sleep_ms(200);
    }
    return false;
  }

  bool node_ready(int i) const {
    tools::HttpClient c(node_ip(i), 8080, tools::HttpClientOptions{300, 600});
    return c.request("GET", "/health/ready").status == 200;
  }
  bool etcd_healthy(int i) const {
    tools::HttpClient c(etcd_ip(i), 2379, tools::HttpClientOptions{300, 600});
    auto r = c.request("GET", "/health");
    return r.status == 200 && r.body.find("\"true\"") != std::string::npos;
  }
  int etcd_leader() {
    for (int i = 0; i < kEtcdMembers; ++i) {
      if (etcd[static_cast<size_t>(i)].paused || !etcd[static_cast<size_t>(i)].process.running()) continue;
      log::etcd::Client client(log::etcd::ClientOptions{{etcd_ip(i) + ":2379"}, 500});
      auto m = client.members(300);
      if (!m.ok()) continue;
      for (const auto& mem : m.value()) {
        if (!mem.leader) continue;
        for (int j = 0; j < kEtcdMembers; ++j) {
          if (etcd[static_cast<size_t>(j)].name == mem.name) return j;
        }
      }
    }
    return -1;
  }

  void kill9(Proc& p) {
    if (p.paused) p.process.kill(SIGCONT);
    p.paused = false;
    p.process.kill(SIGKILL);
    p.process.wait(10'000);
  }

  // Kills everything; with `keep`, copies each node's tmpfs out first.
  void stop_all(bool keep = false) {
    haproxy_.stop(2'000);
    for (Proc& p : nodes) kill9(p);
    for (Proc& p : etcd) kill9(p);
    for (const fs::path& m : mounted_) {
      std::error_code ec;
      if (keep) fs::copy(m, m.string() + "-data", fs::copy_options::recursive, ec);
      ::umount2(m.c_str(), MNT_DETACH);
    }
    mounted_.clear();
  }

 private:
  static std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string part; std::getline(ss, part, ',');) out.push_back(part);
    return out;
  }
  static void replace_line(std::string& cfg, const std::string& placeholder, const std::string& value) {
    for (size_t at = cfg.find(placeholder); at != std::string::npos; at = cfg.find(placeholder, at + value.size())) {
      cfg.replace(at, placeholder.size(), value);
    }
  }

  TestNet& net_;
  fs::path root_;
  std::string betcore_;
  std::string template_;
  tools::Process haproxy_;
  std::vector<fs::path> mounted_;
};

// ---- the workload -----------------------------------------------------------------

struct Attempt {
  int64_t at_ms;
  std::string kind;  // "503 unavailable", "504 outcome_unknown", "no answer: ...", "429 overloaded"
};

struct DrillOp {
  sim::HistoryOp h;
  std::string method, target, body, token;
  std::vector<Attempt> indefinite;
  int status = 0;
  int64_t latency_ms = 0;
};

struct MarketView {
  std::string id;
  std::vector<std::string> selections;
  std::vector<int64_t> odds;
  int status = 0;  // 0 open, 1 suspended, 2 closed, 3 settled (as the trader last asked)
  std::vector<std::string> results;
};

std::string odds_text(int64_t thousandths) {
  return fmt::format("{}.{:03}", thousandths / 1000, thousandths % 1000);
}

class Workload {
 public:
  Workload(uint16_t port, const DrillCluster& c, int clients, uint64_t seed)
      : port_(port), admin_(c.admin), trader_(c.trader), payments_(c.payments), clients_(clients), seed_(seed) {
    for (int i = 0; i < clients_; ++i) {
      for (int a = 0; a < kAccountsPerClient; ++a) accounts_.push_back(fmt::format("a{}-{}", i, a));
    }
  }

  // Accounts, an event and markets, before the faults.
  bool set_up(std::string& why) {
    tools::HttpClient http("127.0.0.1", port_, tools::HttpClientOptions{2000, 15000});
    std::mt19937_64 rng(seed_);
    for (const std::string& a : accounts_) {
      if (!run_op(http, make_write("create account " + a, "account:" + a, "POST", "/v1/accounts",
                                   json{{"account_id", a}, {"currency", "EUR"}}.dump(), admin_), rng)) {
        why = "creating " + a + " failed";
        return false;
      }
      if (!run_op(http, make_write("deposit to " + a, "deposit:init-" + a, "POST", "/v1/deposits",
                                   json{{"payment_ref", "init-" + a}, {"account_id", a}, {"amount", 100'000}}.dump(),
                                   payments_), rng)) {
        why = "funding " + a + " failed";
        return false;
      }
    }
    if (!run_op(http, make_write("create event e0", "event:e0", "POST", "/v1/events",
                                 json{{"event_id", "e0"}, {"name", "Final"}, {"starts_at", "2027-01-01T00:00:00Z"}}.dump(),
                                 trader_), rng)) {
      why = "creating the event failed";
      return false;
    }
    for (int m = 0; m < 3; ++m) {
      if (!create_market(http, rng)) {
        why = "creating a market failed";
        return false;
      }
    }
    return true;
  }

  void start() {
    for (int i = 0; i < clients_; ++i) threads_.emplace_back([this, i] { punter(i); });
    threads_.emplace_back([this] { trader(); });
    threads_.emplace_back([this] { payments(); });
  }
  ~Workload() { stop(); }
  void stop() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  std::vector<DrillOp> ops() const {
    std::lock_guard lock(mu_);
    return ops_;
  }
  const std::vector<std::string>& accounts() const { return accounts_; }

 private:
  DrillOp make_write(std::string what, std::string key, std::string method, std::string target, std::string body,
                     std::string token) {
    DrillOp op;
    op.h.what = std::move(what);
    op.h.key = std::move(key);
    op.method = std::move(method);
    op.target = std::move(target);
    op.body = std::move(body);
    op.token = std::move(token);
    return op;
  }

  uint64_t acked_index() const { return acked_index_.load(); }

  // Sends until a definite answer (2xx, or a 4xx the state machine or the
  // API gave), retrying with the same body (the same client id) after a
  // jittered backoff; gives up after 90 s (then the op stays unanswered: a
  // failure the checker reports).
  bool run_op(tools::HttpClient& http, DrillOp op, std::mt19937_64& rng) {
    op.h.first_sent_ms = now_ms();
    if (op.h.read) op.h.must_include = acked_index();
    int tries = 0;
    const int64_t deadline = op.h.first_sent_ms + 90'000;
    for (;;) {
      tools::Response r = http.request(op.method, op.target, op.body, op.token);
      int64_t t = now_ms();
      if (r.status >= 200 && r.status < 500 && r.status != 429 && r.status != 408) {
        op.status = r.status;
        op.h.answered = true;
        op.h.answered_ms = t;
        op.latency_ms = t - op.h.first_sent_ms;
        json body = json::parse(r.body, nullptr, false);
        if (op.h.read) {
          op.h.found = r.status == 200;
          if (op.h.found && body.is_object()) op.h.balance = body.value("balance", int64_t{0});
          op.h.index = std::strtoull(r.header("x-betcore-index").c_str(), nullptr, 10);
        } else if (r.status < 300) {
          op.h.code = domain::Code::ok;
          if (body.is_object()) {
            op.h.index = body.value("index", uint64_t{0});
            op.h.count = body.value("settled_bets", 0u);
          }
          uint64_t seen = acked_index_.load();
          while (op.h.index > seen && !acked_index_.compare_exchange_weak(seen, op.h.index)) {
          }
        } else {
          const json& e = body.is_object() ? body["error"] : json();
          std::string code = e.is_object() ? e.value("code", "") : "";
          op.h.code = domain::Code::invalid_request;
          for (int c = 0; c <= static_cast<int>(domain::Code::duplicate_leg); ++c) {
            if (domain::code_name(static_cast<domain::Code>(c)) == code) op.h.code = static_cast<domain::Code>(c);
          }
          op.h.index = e.is_object() ? e.value("index", uint64_t{0}) : 0;
        }
        bool ok = r.status < 300;
        std::lock_guard lock(mu_);
        ops_.push_back(std::move(op));
        return ok;
      }
      op.indefinite.push_back(Attempt{t, r.status == 0 ? "no answer" : fmt::format("{} {}", r.status, error_code(r.body))});
      if (t > deadline) {
        op.status = r.status;
        std::lock_guard lock(mu_);
        ops_.push_back(std::move(op));
        return false;
      }
      ++tries;
      int64_t backoff = std::min<int64_t>(1000, 20 << std::min(tries, 6));
      sleep_ms(backoff / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(backoff / 2 + 1)));
    }
  }

  static std::string error_code(const std::string& body) {
    json j = json::parse(body, nullptr, false);
    if (j.is_object() && j["error"].is_object()) return j["error"].value("code", "");
    return "";
  }

  bool create_market(tools::HttpClient& http, std::mt19937_64& rng) {
    MarketView m;
    {
      std::lock_guard lock(markets_mu_);
      m.id = fmt::format("m{}", markets_.size() + next_market_++);
    }
    json sels = json::array();
    int n = 2 + static_cast<int>(rng() % 2);
    for (int i = 0; i < n; ++i) {
      int64_t odds = 1100 + static_cast<int64_t>(rng() % 4900);
      m.selections.push_back(fmt::format("s{}", i));
      m.odds.push_back(odds);
      sels.push_back(json{{"selection_id", m.selections.back()}, {"name", "Runner " + m.selections.back()},
                          {"odds", odds_text(odds)}});
    }
    bool ok = run_op(http, make_write("create market " + m.id, "market:" + m.id, "POST", "/v1/markets",
                                      json{{"market_id", m.id}, {"event_id", "e0"}, {"name", "Market " + m.id},
                                           {"selections", sels}}.dump(),
                                      trader_), rng);
    if (ok) {
      std::lock_guard lock(markets_mu_);
      markets_.push_back(m);
    }
    return ok;
  }

  void punter(int client) {
    tools::HttpClient http("127.0.0.1", port_, tools::HttpClientOptions{1000, 12000});
    std::mt19937_64 rng(seed_ * 1000 + static_cast<uint64_t>(client));
    uint64_t n = 0;
    while (!stop_.load()) {
      const std::string& account = accounts_[static_cast<size_t>(client * kAccountsPerClient) + rng() % kAccountsPerClient];
      std::string id = fmt::format("{}-{}", client, ++n);
      uint64_t roll = rng() % 100;
      if (roll < 20) {
        run_op(http, make_write("deposit d" + id, "deposit:d" + id, "POST", "/v1/deposits",
                                json{{"payment_ref", "d" + id}, {"account_id", account},
                                     {"amount", 100 + static_cast<int64_t>(rng() % 9900)}}.dump(), payments_), rng);
      } else if (roll < 65) {
        MarketView m;
        {
          std::lock_guard lock(markets_mu_);
          if (markets_.empty()) continue;
          m = markets_[rng() % markets_.size()];
        }
        size_t s = rng() % m.selections.size();
        json body{{"bet_id", "b" + id}, {"account_id", account}, {"stake", 1 + static_cast<int64_t>(rng() % 3000)},
                  {"legs", json::array({json{{"market_id", m.id}, {"selection_id", m.selections[s]},
                                             {"odds", odds_text(m.odds[s])}}})}};
        run_op(http, make_write("bet b" + id + " on " + m.id, "bet:b" + id, "POST", "/v1/bets", body.dump(), trader_), rng);
      } else if (roll < 75) {
        std::string w = "w" + id;
        bool ok = run_op(http, make_write("withdrawal " + w, "withdrawal:" + w, "POST", "/v1/withdrawals",
                                          json{{"withdrawal_id", w}, {"account_id", account},
                                               {"amount", 1 + static_cast<int64_t>(rng() % 4000)}}.dump(), admin_), rng);
        if (ok) {
          std::lock_guard lock(markets_mu_);
          withdrawals_.push_back(w);
        }
      } else {
        DrillOp op;
        op.h.read = true;
        op.h.what = "read " + account;
        op.h.account = account;
        op.method = "GET";
        op.target = "/v1/accounts/" + account;
        op.token = admin_;
        run_op(http, std::move(op), rng);
      }
    }
  }

  void trader() {
    tools::HttpClient http("127.0.0.1", port_, tools::HttpClientOptions{1000, 12000});
    std::mt19937_64 rng(seed_ * 7777);
    uint64_t n = 0;
    while (!stop_.load()) {
      sleep_ms(150 + static_cast<int64_t>(rng() % 200));
      int open = 0;
      MarketView m;
      size_t pick = 0;
      {
        std::lock_guard lock(markets_mu_);
        for (const MarketView& x : markets_) open += x.status < 2 ? 1 : 0;
        pick = rng() % markets_.size();
        m = markets_[pick];
      }
      uint64_t roll = rng() % 100;
      if (open < 3 || roll < 10) {
        create_market(http, rng);
        continue;
      }
      std::string rid = fmt::format("r{}", ++n);
      if (m.status == 3 || roll < 25) {
        std::vector<std::string> results(m.selections.size(), "lose");
        results[rng() % results.size()] = "win";
        if (rng() % 10 == 0) std::fill(results.begin(), results.end(), "void");
        if (m.status == 3 && results == m.results) results[0] = results[0] == "win" ? "lose" : "win";
        json rs = json::array();
        for (size_t i = 0; i < results.size(); ++i) rs.push_back(json{{"selection_id", m.selections[i]}, {"result", results[i]}});
        bool re = m.status == 3;
        run_op(http, make_write(std::string(re ? "resettle " : "settle ") + m.id + " " + rid, "request:" + rid, "POST",
                                "/v1/markets/" + m.id + (re ? "/resettle" : "/settle"),
                                json{{"results", rs}, {"request_id", rid}}.dump(), trader_), rng);
        std::lock_guard lock(markets_mu_);
        markets_[pick].status = 3;
        markets_[pick].results = results;
        continue;
      }
      const char* action = roll < 55 ? "suspend" : roll < 90 ? "resume" : "close";
      run_op(http, make_write(std::string(action) + " " + m.id + " " + rid, "request:" + rid, "POST",
                              "/v1/markets/" + m.id + "/" + action, json{{"request_id", rid}}.dump(), trader_), rng);
      std::lock_guard lock(markets_mu_);
      if (markets_[pick].status < 2) markets_[pick].status = action[0] == 's' ? 1 : action[0] == 'r' ? 0 : 2;
    }
  }

  void payments() {
    tools::HttpClient http("127.0.0.1", port_, tools::HttpClientOptions{1000, 12000});
    std::mt19937_64 rng(seed_ * 31337);
    while (!stop_.load()) {
      std::string w;
      {
        std::lock_guard lock(markets_mu_);
        if (!withdrawals_.empty()) {
          w = withdrawals_.front();
          withdrawals_.pop_front();
        }
      }
      if (w.empty()) {
        sleep_ms(50);
        continue;
      }
      if (rng() % 4 != 0) {
        run_op(http, make_write("complete " + w, "complete:" + w, "POST", "/v1/withdrawals/" + w + "/complete",
                                json{{"gateway_ref", "gw-" + w}}.dump(), payments_), rng);
      } else {
        run_op(http, make_write("fail " + w, "fail:" + w, "POST", "/v1/withdrawals/" + w + "/fail",
                                json{{"reason", "declined"}}.dump(), payments_), rng);
      }
    }
  }

  const uint16_t port_;
  const std::string admin_, trader_, payments_;
  const int clients_;
  const uint64_t seed_;
  std::vector<std::string> accounts_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_index_{0};
  mutable std::mutex mu_;
  std::vector<DrillOp> ops_;
  std::mutex markets_mu_;
  std::vector<MarketView> markets_;
  size_t next_market_ = 0;
  std::deque<std::string> withdrawals_;
};

// ---- the log recorder: every committed batch, for the checker ----------------------

class Recorder {
 public:
  explicit Recorder(const std::string& endpoints) {
    std::vector<std::string> eps;
    std::stringstream ss(endpoints);
    for (std::string p; std::getline(ss, p, ',');) eps.push_back(p);
    log::etcd::EtcdLogOptions o;
    o.node_id = "drill-recorder";
    o.cluster = kCluster;
    log_ = std::make_unique<log::etcd::EtcdLog>(std::make_shared<log::etcd::Client>(log::etcd::ClientOptions{eps}), o);
    thread_ = std::thread([this] { run(); });
  }
  ~Recorder() { stop(); }
  void stop() {
    stop_.store(true);
    if (log_) log_->close();
    if (thread_.joinable()) thread_.join();
  }
  uint64_t last() const { return last_.load(); }
  std::vector<log::Entry> entries() {
    std::lock_guard lock(mu_);
    return entries_;
  }
  std::string problem() {
    std::lock_guard lock(mu_);
    return problem_;
  }

 private:
  void run() {
    while (!stop_.load()) {
      auto r = log_->read(log::Position{last_.load() + 1}, 1024, 8 << 20, 200);
      if (!r.ok()) {
        if (r.error().code == log::Errc::compacted) {
          std::lock_guard lock(mu_);
          problem_ = "the log was compacted past the drill's recorder: " + r.error().message;
          return;
        }
        sleep_ms(50);
        continue;
      }
      std::lock_guard lock(mu_);
      for (log::Entry& e : r.value()) {
        last_.store(e.position.value);
        entries_.push_back(std::move(e));
      }
    }
  }
  std::unique_ptr<log::etcd::EtcdLog> log_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> last_{0};
  std::mutex mu_;
  std::vector<log::Entry> entries_;
  std::string problem_;
};

// ---- health, sampled ----------------------------------------------------------------

class Monitor {
 public:
  explicit Monitor(const DrillCluster& c) : c_(c) {
    thread_ = std::thread([this] { run(); });
  }
  ~Monitor() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  std::vector<HealthPoint> samples() {
    std::lock_guard lock(mu_);
    return samples_;
  }

 private:
  void run() {
    while (!stop_.load()) {
      HealthPoint s;
      s.at_ms = now_ms();
      for (int i = 0; i < kNodes; ++i) s.node_ready.push_back(c_.node_ready(i));
      for (int i = 0; i < kEtcdMembers; ++i) s.etcd_healthy.push_back(c_.etcd_healthy(i));
      {
        std::lock_guard lock(mu_);
        samples_.push_back(std::move(s));
      }
      sleep_ms(200);
    }
  }
  const DrillCluster& c_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<HealthPoint> samples_;
};

// ---- the nemesis --------------------------------------------------------------------

const std::vector<std::string> kAllKinds = {
    "kill_etcd_leader", "kill_etcd_follower", "kill_node",       "pause_node",        "pause_etcd_leader",
    "partition_etcd_leader", "partition_etcd_follower", "partition_node_from_etcd", "node_link_down", "node_disk_full",
    "etcd_quorum_lost"};

class Nemesis {
 public:
  Nemesis(DrillCluster& c, TestNet& net, uint64_t seed) : c_(c), net_(net), rng_(seed) {}

  // Injects one fault of `kind`; fills `f` (target, what). False when it
  // could not be injected (e.g. no leader known).
  bool inject(const std::string& kind, FaultRecord& f) {
    f.kind = kind;
    f.start_ms = now_ms();
    std::string why;
    if (kind == "etcd_quorum_lost") {
      // Two of three members killed: no quorum, no write can commit.
      int leader = c_.etcd_leader();
      if (leader < 0) return false;
      target_ = leader;
      target2_ = (leader + 1) % kEtcdMembers;
      f.target = c_.etcd[static_cast<size_t>(leader)].name + " (leader) and " + c_.etcd[static_cast<size_t>(target2_)].name;
      f.component = "etcd";
      f.component_index = leader;
      f.start_ms = now_ms();
      c_.kill9(c_.etcd[static_cast<size_t>(leader)]);
      c_.kill9(c_.etcd[static_cast<size_t>(target2_)]);
      return true;
    }
    if (kind == "kill_etcd_leader" || kind == "kill_etcd_follower" || kind == "pause_etcd_leader" ||
        kind == "partition_etcd_leader" || kind == "partition_etcd_follower") {
      int leader = c_.etcd_leader();
      if (leader < 0) return false;
      int target = leader;
      if (kind.find("follower") != std::string::npos) target = (leader + 1 + static_cast<int>(rng_() % 2)) % kEtcdMembers;
      Proc& p = c_.etcd[static_cast<size_t>(target)];
      f.target = p.name + (target == leader ? " (leader)" : " (follower)");
      target_ = target;
      f.start_ms = now_ms();  // the fault itself, not the search for a target
      if (kind.rfind("kill", 0) == 0) {
        c_.kill9(p);
      } else if (kind.rfind("pause", 0) == 0) {
        p.process.kill(SIGSTOP);
        p.paused = true;
      } else {
        std::vector<std::string> peers;
        for (int k = 0; k < kEtcdMembers; ++k) {
          if (k != target) peers.push_back(c_.etcd[static_cast<size_t>(k)].host);
        }
        if (!net_.isolate(p.host, peers, why)) return note_failure(f, why);
      }
      f.component = "etcd";
      f.component_index = target;
      return true;
    }
    int target = static_cast<int>(rng_() % kNodes);
    Proc& p = c_.nodes[static_cast<size_t>(target)];
    f.target = p.name;
    f.component = "node";
    f.component_index = target;
    target_ = target;
    f.start_ms = now_ms();
    if (kind == "kill_node") {
      c_.kill9(p);
    } else if (kind == "pause_node") {
      p.process.kill(SIGSTOP);
      p.paused = true;
    } else if (kind == "partition_node_from_etcd") {
      std::vector<std::string> peers;
      for (const Proc& e : c_.etcd) peers.push_back(e.host);
      if (!net_.isolate(p.host, peers, why)) return note_failure(f, why);
    } else if (kind == "node_link_down") {
      if (!net_.set_link(p.host, false, why)) return note_failure(f, why);
    } else if (kind == "node_disk_full") {
      fs::path filler = c_.node_dir(target) / "drill-filler";
      int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      struct statvfs st {};
      if (fd < 0 || ::fstatvfs(fd, &st) != 0) return note_failure(f, "cannot create the filler file");
      off_t free_bytes = static_cast<off_t>(st.f_bavail * st.f_frsize);
      int rc = ::posix_fallocate(fd, 0, free_bytes);
      ::close(fd);
      if (rc != 0) return note_failure(f, std::string("fallocate: ") + std::strerror(rc));
      f.detail = fmt::format("{} MiB filler on a {} MiB disk", free_bytes >> 20, kNodeDiskBytes >> 20);
    }
    return true;
  }

  // Undoes the fault (restart, SIGCONT, heal, remove the filler).
  void heal(FaultRecord& f) {
    std::string why;
    f.end_ms = now_ms();
    const std::string& kind = f.kind;
    if (kind == "etcd_quorum_lost") {
      for (int t : {target_, target2_}) {
        if (!c_.start_etcd(t, false, why)) f.problems.push_back(why);
      }
      return;
    }
    if (f.component == "etcd") {
      Proc& p = c_.etcd[static_cast<size_t>(target_)];
      if (kind.rfind("kill", 0) == 0) {
        if (!c_.start_etcd(target_, false, why)) f.problems.push_back(why);
      } else if (kind.rfind("pause", 0) == 0) {
        p.process.kill(SIGCONT);
        p.paused = false;
      } else if (!net_.heal(p.host, why)) {
        f.problems.push_back(why);
      }
      return;
    }
    Proc& p = c_.nodes[static_cast<size_t>(target_)];
    if (kind == "kill_node") {
      if (!c_.start_node(target_, why)) f.problems.push_back(why);
    } else if (kind == "pause_node") {
      p.process.kill(SIGCONT);
      p.paused = false;
    } else if (kind == "partition_node_from_etcd" || kind == "node_link_down") {
      if (!net_.heal(p.host, why)) f.problems.push_back(why);
    } else if (kind == "node_disk_full") {
      std::error_code ec;
      fs::remove(c_.node_dir(target_) / "drill-filler", ec);
    }
  }

 private:
  static bool note_failure(FaultRecord& f, const std::string& why) {
    f.problems.push_back(why);
    return false;
  }
  DrillCluster& c_;
  TestNet& net_;
  std::mt19937_64 rng_;
  int target_ = 0;
  int target2_ = 0;
};

// ---- the check after the run --------------------------------------------------------

std::vector<OpPoint> ops_for_report(const std::vector<DrillOp>& ops) {
  std::vector<OpPoint> out;
  out.reserve(ops.size());
  for (const DrillOp& op : ops) {
    OpPoint p;
    p.sent_ms = op.h.first_sent_ms;
    p.answered_ms = op.h.answered_ms;
    p.answered = op.h.answered;
    p.read = op.h.read;
    p.acknowledged = !op.h.read && op.h.answered && op.status >= 200 && op.status < 300;
    for (const Attempt& a : op.indefinite) p.errors.emplace_back(a.at_ms, a.kind);
    out.push_back(std::move(p));
  }
  return out;
}

bool converge(DrillCluster& c, uint64_t recorder_last, std::vector<std::string>& failures, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string why;
  while (Clock::now() < deadline) {
    std::set<uint64_t> applied;
    std::set<std::string> checkpoints;
    bool all = true;
    for (int i = 0; i < kNodes; ++i) {
      tools::HttpClient h(c.node_ip(i), 8080, tools::HttpClientOptions{500, 2000});
      auto r = h.request("GET", "/v1/cluster", "", c.admin);
      json j = json::parse(r.body, nullptr, false);
      if (r.status != 200 || !j.is_object()) {
        all = false;
        why = c.nodes[static_cast<size_t>(i)].name + " does not answer /v1/cluster";
        break;
      }
      applied.insert(j.value("applied_index", uint64_t{0}));
      checkpoints.insert(fmt::format("{}:{}", j.value("checkpoint", uint64_t{0}), j.value("state_digest", "")));
    }
    if (all && applied.size() == 1 && *applied.begin() >= recorder_last) {
      if (checkpoints.size() != 1) {
        failures.push_back("the nodes ended at one index but with different checkpoints or digests");
      }
      return true;
    }
    if (all) why = fmt::format("applied indexes differ or trail the log ({} distinct)", applied.size());
    sleep_ms(250);
  }
  failures.push_back("the cluster did not converge within " + std::to_string(timeout_ms / 1000) + " s after healing: " + why);
  return false;
}

}  // namespace

int run_drill(const DrillOptions& o) {
  g_t0 = Clock::now();
  if (::geteuid() != 0) {
    std::fprintf(stderr, "betcore drill: run it as root: it makes network namespaces, nftables rules and tmpfs mounts\n");
    return 2;
  }
  for (const char* tool : {"/usr/bin/etcd", "/usr/sbin/haproxy", "/usr/sbin/nft", "/usr/sbin/ip"}) {
    if (::access(tool, X_OK) != 0) {
      std::fprintf(stderr, "betcore drill: %s is missing; run scripts/install-deps.sh\n", tool);
      return 2;
    }
  }
  std::vector<std::string> kinds = o.kinds.empty() ? kAllKinds : o.kinds;
  for (const std::string& k : kinds) {
    if (std::find(kAllKinds.begin(), kAllKinds.end(), k) == kAllKinds.end()) {
      std::fprintf(stderr, "betcore drill: unknown fault kind %s\n", k.c_str());
      return 2;
    }
  }
  // One drill at a time on a machine: the test hosts' names are fixed.
  int lock_fd = ::open("/run/betcore-drill.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    std::fprintf(stderr, "betcore drill: another drill is running on this machine (/run/betcore-drill.lock)\n");
    return 2;
  }
  fs::path out = fs::absolute(o.out);
  fs::path root = out / "run";
  std::error_code ec;
  {
    // tmpfs mounts a killed drill left under `root`.
    std::ifstream mounts("/proc/mounts");
    for (std::string dev, point, rest; mounts >> dev >> point && std::getline(mounts, rest);) {
      if (point.rfind(root.string() + "/", 0) == 0) ::umount2(point.c_str(), MNT_DETACH);
    }
  }
  fs::remove_all(root, ec);
  fs::create_directories(root);
  std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  std::string tmpl = o.haproxy_template.empty() ? std::string(BETCORE_SOURCE_DIR) + "/deploy/haproxy/betcore.cfg.in"
                                                : o.haproxy_template;

  std::printf("betcore drill: seed %llu, at least %d faults, %.1f min; report in %s\n",
              static_cast<unsigned long long>(o.seed), o.faults, o.minutes, out.c_str());
  std::fflush(stdout);
  TestNet net(o.subnet);
  std::string why;
  std::vector<std::string> hosts;
  for (int i = 0; i < kEtcdMembers; ++i) hosts.push_back(fmt::format("e{}", i + 1));
  for (int i = 0; i < kNodes; ++i) hosts.push_back(fmt::format("n{}", i + 1));
  if (!net.create(hosts, why)) {
    std::fprintf(stderr, "betcore drill: cannot make the test hosts: %s\n", why.c_str());
    return 2;
  }
  DrillReport report;
  report.seed = o.seed;
  {
    DrillCluster cluster(net, root, self, tmpl);
    if (!cluster.start(why)) {
      std::fprintf(stderr, "betcore drill: the cluster did not start: %s\n", why.c_str());
      return 2;
    }
    std::printf("  cluster up: etcd %s, nodes %s:8080.., HAProxy 127.0.0.1:%u (%.1f s)\n", cluster.endpoints().c_str(),
                cluster.node_ip(0).c_str(), cluster.haproxy_port, now_ms() / 1000.0);
    std::fflush(stdout);
    Recorder recorder(cluster.endpoints());
    Workload load(cluster.haproxy_port, cluster, o.clients, o.seed);
    if (!load.set_up(why)) {
      std::fprintf(stderr, "betcore drill: setting up the book failed: %s\n", why.c_str());
      return 2;
    }
    Monitor monitor(cluster);
    load.start();
    report.load_started_ms = now_ms();
    sleep_ms(3'000);  // a baseline before the first fault

    Nemesis nemesis(cluster, net, o.seed);
    std::mt19937_64 rng(o.seed * 101);
    const int64_t end_by = now_ms() + static_cast<int64_t>(o.minutes * 60'000);
    size_t k = rng() % kinds.size();
    int failed_in_a_row = 0;
    while (static_cast<int>(report.faults.size()) < o.faults || now_ms() < end_by) {
      FaultRecord f;
      const std::string& kind = kinds[k++ % kinds.size()];
      if (!nemesis.inject(kind, f)) {
        std::string why_not = f.problems.empty() ? "no etcd leader" : f.problems[0];
        std::printf("  could not inject %s yet: %s\n", kind.c_str(), why_not.c_str());
        if (++failed_in_a_row >= 30) {
          report.failures.push_back("the nemesis could not inject a fault 30 times in a row; last: " + kind + ": " +
                                    why_not);
          break;
        }
        --k;  // the same kind again, after a second
        sleep_ms(1'000);
        continue;
      }
      failed_in_a_row = 0;
      int64_t window = 3'000 + static_cast<int64_t>(rng() % 3'000);
      sleep_ms(window);
      nemesis.heal(f);
      report.faults.push_back(f);
      std::printf("  [%3.0f s] fault %2zu: %-24s on %-20s for %.1f s%s\n", f.start_ms / 1000.0, report.faults.size(),
                  f.kind.c_str(), f.target.c_str(), (f.end_ms - f.start_ms) / 1000.0,
                  f.problems.empty() ? "" : ("; heal failed: " + f.problems[0]).c_str());
      std::fflush(stdout);
      sleep_ms(1'500 + static_cast<int64_t>(rng() % 1'500));
    }
    report.faults_ended_ms = now_ms();
    std::printf("  faults done; letting the load run 3 s more, then stopping it\n");
    std::fflush(stdout);
    sleep_ms(3'000);
    load.stop();
    report.load_stopped_ms = now_ms();
    // Everything healed again (a heal that failed is retried here): rules,
    // links, fillers, paused and dead processes.
    for (const std::string& h : hosts) {
      if (!net.heal(h, why)) report.failures.push_back("cannot heal the test host " + h + ": " + why);
    }
    for (int i = 0; i < kNodes; ++i) fs::remove(cluster.node_dir(i) / "drill-filler", ec);
    for (Proc& p : cluster.etcd) {
      if (p.paused) p.process.kill(SIGCONT);
      p.paused = false;
    }
    for (Proc& p : cluster.nodes) {
      if (p.paused) p.process.kill(SIGCONT);
      p.paused = false;
    }
    for (int i = 0; i < kEtcdMembers; ++i) {
      if (!cluster.etcd[static_cast<size_t>(i)].process.running()) cluster.start_etcd(i, false, why);
    }
    for (int i = 0; i < kNodes; ++i) {
      if (!cluster.nodes[static_cast<size_t>(i)].process.running()) cluster.start_node(i, why);
    }
    std::string head_why;
    log::etcd::Client client(log::etcd::ClientOptions{[&] {
      std::vector<std::string> eps;
      for (int i = 0; i < kEtcdMembers; ++i) eps.push_back(cluster.etcd_ip(i) + ":2379");
      return eps;
    }()});
    // Wait for the recorder to hold the whole log, and every node to agree.
    uint64_t head = 0;
    for (int tries = 0; tries < 120; ++tries) {
      log::etcd::EtcdLogOptions lo;
      lo.cluster = kCluster;
      auto r = client.range(log::etcd::Keys(kCluster).log_prefix(), log::etcd::prefix_end(log::etcd::Keys(kCluster).log_prefix()), {}, 2000);
      if (r.ok()) {
        for (const auto& kv : r.value().kvs) head = std::max<uint64_t>(head, static_cast<uint64_t>(kv.mod_revision));
        if (recorder.last() >= head) break;
      }
      sleep_ms(250);
    }
    converge(cluster, head, report.failures, 120'000);
    monitor.stop();
    recorder.stop();
    if (!recorder.problem().empty()) report.failures.push_back(recorder.problem());

    // The checker: the log against every answer, then every node's state.
    std::vector<DrillOp> ops = load.ops();
    std::vector<log::Entry> entries = recorder.entries();
    std::vector<sim::LogRecord> records;
    for (const log::Entry& e : entries) records.push_back(sim::LogRecord{e.position.value, e.batch});
    std::vector<sim::HistoryOp> history;
    for (const DrillOp& op : ops) {
      history.push_back(op.h);
      if (!op.h.answered) report.failures.push_back("'" + op.h.what + "' had no definite answer after 90 s of retries");
    }
    sim::Model model;
    sim::HistoryCheck hc = sim::check_history(records, history, model, report.failures);
    // Acknowledged and not in the log: lost.
    std::set<std::string> logged;
    for (const sim::LogRecord& e : records) {
      codec::DecodedBatch b = codec::decode_batch(e.batch);
      for (const domain::Command& cmd : b.commands) logged.insert(sim::op_key(cmd));
    }
    for (const DrillOp& op : ops) {
      if (!op.h.read && op.h.answered && op.status < 300 && !logged.count(op.h.key)) {
        ++report.acknowledged_lost;
        report.failures.push_back("'" + op.h.what + "' was acknowledged but is not in the log");
      }
    }
    report.log_entries = entries.size();
    report.log_commands = hc.commands;
    report.writes_checked = hc.writes_checked;
    report.reads_checked = hc.reads_checked;
    for (int i = 0; i < kNodes; ++i) {
      tools::HttpClient h(cluster.node_ip(i), 8080, tools::HttpClientOptions{1000, 5000});
      const std::string& name = cluster.nodes[static_cast<size_t>(i)].name;
      auto ledger = h.request("GET", "/v1/ledger/balance?stale=true", "", cluster.admin);
      json lj = json::parse(ledger.body, nullptr, false);
      if (ledger.status != 200 || !lj.is_object() || lj.value("total", int64_t{1}) != 0) {
        report.failures.push_back(name + ": the ledger does not sum to zero: " + ledger.body.substr(0, 200));
      }
      for (const auto& [id, ma] : model.accounts()) {
        auto r = h.request("GET", "/v1/accounts/" + id + "?stale=true", "", cluster.admin);
        json j = json::parse(r.body, nullptr, false);
        if (r.status != 200 || !j.is_object()) {
          report.failures.push_back(name + ": account " + id + " is missing (" + std::to_string(r.status) + ")");
          continue;
        }
        int64_t b = j.value("balance", int64_t{-1}), p = j.value("in_play", int64_t{-1}),
                w = j.value("pending_withdrawals", int64_t{-1}), d = j.value("debt", int64_t{-1});
        if (b != ma.balance || p != ma.in_play || w != ma.pending || d != -ma.receivable || b < 0) {
          report.failures.push_back(fmt::format(
              "{}: account {} has balance/in play/pending/debt {}/{}/{}/{}, the model {}/{}/{}/{}", name, id, b, p, w, d,
              ma.balance, ma.in_play, ma.pending, -ma.receivable));
        }
      }
    }
    report.replicas_agree = std::none_of(report.failures.begin(), report.failures.end(), [](const std::string& f) {
      return f.find("checkpoints or digests") != std::string::npos;
    });
    fill_report(report, ops_for_report(ops), monitor.samples());
    cluster.stop_all(o.keep);
  }
  net.destroy();
  report.wall_s = now_ms() / 1000.0;
  write_report(out, report);
  print_summary(report, out);
  if (!o.keep) fs::remove_all(root, ec);
  return report.failures.empty() ? 0 : 1;
}

void add_drill_command(CLI::App& root) {
  auto o = std::make_shared<DrillOptions>();
  CLI::App* cmd = root.add_subcommand(
      "drill", "Failover drill on real processes: etcd, nodes and HAProxy in their own network namespaces, "
               "faults injected under load, every invariant checked, an incident report written (needs root)");
  cmd->add_option("--minutes", o->minutes, "Inject faults for at least this long")->capture_default_str();
  cmd->add_option("--faults", o->faults, "Inject at least this many faults")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the fault order, targets and workload")->capture_default_str();
  cmd->add_option("--out", o->out, "Directory for the report (report.html, report.json)")->capture_default_str();
  cmd->add_option("--subnet", o->subnet, "First three octets of the test hosts' private /24")->capture_default_str();
  cmd->add_option("--clients", o->clients, "Punter client threads")->capture_default_str();
  cmd->add_option("--kinds", o->kinds, "Only these fault kinds (repeatable)");
  cmd->add_option("--haproxy-config", o->haproxy_template, "HAProxy config template (deploy/haproxy/betcore.cfg.in)");
  cmd->add_flag("--keep", o->keep, "Keep the processes' data directories and logs under OUT/run");
  cmd->callback([o] { std::exit(run_drill(*o)); });
}

}  // namespace betcore::drill
