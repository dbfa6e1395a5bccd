#include "cluster/local_cluster.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "log/etcd/etcd_client.h"
#include "log/etcd/member_flags.h"
#include "tls/tls.h"

#ifndef BETCORE_SOURCE_DIR
#error "BETCORE_SOURCE_DIR must be defined (tests/cluster/CMakeLists.txt)"
#endif

namespace betcore::cluster {
namespace {

using Clock = std::chrono::steady_clock;

std::string first_existing(std::initializer_list<const char*> paths) {
  for (const char* p : paths) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

}  // namespace

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string etcd_binary() { return first_existing({"/usr/bin/etcd", "/usr/local/bin/etcd"}); }
std::string haproxy_binary() { return first_existing({"/usr/sbin/haproxy", "/usr/local/sbin/haproxy"}); }

LocalCluster::LocalCluster(fs::path root, ClusterOptions options)
    : root_(std::move(root)), options_(std::move(options)) {
  if (options_.tls) {
    // One certificate for every process (127.0.0.1 and localhost): etcd's
    // server and peer certificate, the nodes', and HAProxy's.
    const std::string dir = tls_dir().string();
    tls::CertSpec spec;
    spec.hosts = {"127.0.0.1", "localhost"};
    std::string error = tls::ensure_ca(dir, "betcore test CA");
    if (error.empty()) error = tls::issue_cert(dir, dir, "node", spec);
    if (!error.empty()) ADD_FAILURE() << error;
    tls::set_default_client({dir + "/ca.pem", dir + "/node.pem", dir + "/node.key"});
  }
  tokens_ = test::write_tokens_file(root_, [] {
    std::vector<std::string> ids;
    for (int i = 0; i < 50; ++i) ids.push_back(fmt::format("acct-{:02}", i));
    return ids;
  }());
  for (int i = 0; i < options_.nodes; ++i) {
    crash::NodeConfig c;
    c.data_dir = node_data(i);
    c.tokens_file = tokens_.file;
    c.logs_dir = root_ / ("node-" + std::to_string(i + 1) + "-logs");
    c.extra_args = options_.node_args;
    // A node fetches a peer's snapshot with the admin credential.
    c.extra_args.insert(c.extra_args.end(), {"--credentials", tokens_.credentials.string()});
    // HAProxy's agent check (deploy/haproxy/betcore.cfg.in).
    agent_ports_.push_back(test::reserve_port());
    c.extra_args.insert(c.extra_args.end(),
                        {"--agent-listen", fmt::format("127.0.0.1:{}", agent_ports_.back())});
    c.ready_timeout_ms = 60'000;
    if (options_.tls) c.tls_dir = tls_dir();
    nodes_.push_back(std::make_unique<crash::NodeRunner>(c));
  }
  for (int i = 0; i < options_.etcd_members; ++i) {
    Etcd e;
    e.name = "etcd-" + std::to_string(i + 1);
    e.client_port = test::reserve_port();
    e.peer_port = test::reserve_port();
    e.dir = root_ / e.name;
    etcd_.push_back(std::move(e));
  }
}

LocalCluster::~LocalCluster() {
  haproxy_.stop(2'000);
  for (auto& n : nodes_) {
    if (n->running()) n->kill9();
  }
  for (auto& e : etcd_) e.process.stop(2'000);
  if (options_.tls) tls::set_default_client({});
}

log::etcd::ClientOptions LocalCluster::etcd_client_options(std::vector<std::string> endpoints) const {
  log::etcd::ClientOptions o{std::move(endpoints), 2'000};
  if (options_.tls) o.tls = tls::default_client();
  return o;
}

void LocalCluster::kill_everything() {
  for (auto& n : nodes_) {
    if (n->running()) n->kill9();
  }
  for (int i = 0; i < etcd_members(); ++i) kill_etcd(i);
  haproxy_.kill(SIGKILL);
  haproxy_.wait(5'000);
}

fs::path LocalCluster::node_data(int i) const { return root_ / ("node-" + std::to_string(i + 1)); }

std::string LocalCluster::etcd_endpoints() const {
  std::string out;
  for (const Etcd& e : etcd_) out += (out.empty() ? "" : ",") + fmt::format("127.0.0.1:{}", e.client_port);
  return out;
}

std::string LocalCluster::log_url() const {
  return (options_.tls ? "etcds://" : "etcd://") + etcd_endpoints() + "/" + options_.name;
}

bool LocalCluster::spawn_etcd(int i, bool initial, std::string& why) {
  Etcd& e = etcd_[static_cast<size_t>(i)];
  std::string initial_cluster;
  for (const Etcd& o : etcd_) {
    initial_cluster += (initial_cluster.empty() ? "" : ",") +
                       fmt::format("{}={}://127.0.0.1:{}", o.name, scheme(), o.peer_port);
  }
  test::SpawnOptions so;
  so.program = etcd_binary();
  if (so.program.empty()) {
    why = "etcd is not installed (Debian package etcd-server; scripts/install-deps.sh installs it)";
    return false;
  }
  so.args = {"--name", e.name, "--data-dir", e.dir.string(),
             "--listen-client-urls", fmt::format("{}://127.0.0.1:{}", scheme(), e.client_port),
             "--advertise-client-urls", fmt::format("{}://127.0.0.1:{}", scheme(), e.client_port),
             "--listen-peer-urls", fmt::format("{}://127.0.0.1:{}", scheme(), e.peer_port),
             "--initial-advertise-peer-urls", fmt::format("{}://127.0.0.1:{}", scheme(), e.peer_port),
             "--initial-cluster", initial_cluster,
             "--initial-cluster-state", initial ? "new" : "existing",
             "--initial-cluster-token", "betcore-test"};
  // What production runs (docs/cluster.md, "etcd settings").
  for (std::string& flag : log::etcd::member_flags()) so.args.push_back(std::move(flag));
  if (options_.tls) {
    // etcd's own TLS: clients and peers must present a certificate of our CA.
    const std::string d = tls_dir().string();
    so.args.insert(so.args.end(),
                   {"--cert-file", d + "/node.pem", "--key-file", d + "/node.key",
                    "--client-cert-auth", "--trusted-ca-file", d + "/ca.pem",
                    "--peer-cert-file", d + "/node.pem", "--peer-key-file", d + "/node.key",
                    "--peer-client-cert-auth", "--peer-trusted-ca-file", d + "/ca.pem"});
  }
  so.log_path = (root_ / fmt::format("{}-run{}.log", e.name, e.runs++)).string();
  e.process = test::Process::spawn(so);
  if (!e.process.started()) {
    why = "cannot start etcd: " + e.process.spawn_error();
    return false;
  }
  return true;
}

std::string LocalCluster::describe_etcd(const Etcd& e) {
  return fmt::format("{} (client port {}, peer port {}), last lines of {}:\n{}", e.name, e.client_port,
                     e.peer_port, e.process.log_path(), test::last_lines(e.process.read_log()));
}

bool LocalCluster::start_etcd_members(std::string& why, bool& bind_failed) {
  bind_failed = false;
  for (int i = 0; i < etcd_members(); ++i) {
    if (!spawn_etcd(i, true, why)) return false;
  }
  // Healthy: a quorum read answers.
  log::etcd::Client client(etcd_client_options([&] {
    std::vector<std::string> eps;
    for (const Etcd& e : etcd_) eps.push_back(fmt::format("127.0.0.1:{}", e.client_port));
    return eps;
  }()));
  auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto r = client.range("health", "", {}, 1000);
    if (r.ok()) return true;
    for (Etcd& e : etcd_) {
      if (!e.process.running()) {
        bind_failed = test::log_says_address_in_use(e.process.read_log());
        why = "etcd member exited at start: " + describe_etcd(e);
        return false;
      }
    }
    if (Clock::now() > deadline) {
      why = "etcd did not become healthy in 30 s (waiting for a quorum read to answer): " +
            r.error().message;
      for (const Etcd& e : etcd_) why += "\n" + describe_etcd(e);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool LocalCluster::start(std::string& why) {
  for (int attempt = 1;; ++attempt) {
    bool bind_failed = false;
    if (start_etcd_members(why, bind_failed)) break;
    if (!bind_failed || attempt >= test::kBindAttemptsMax) return false;
    // A port was taken by a program outside the reservations: a new cluster
    // on new ports (members that did start know the old ones).
    for (Etcd& e : etcd_) {
      e.process.stop(2'000);
      fs::remove_all(e.dir);
      e.client_port = test::reserve_port();
      e.peer_port = test::reserve_port();
    }
  }
  if (options_.before_nodes && !options_.before_nodes(*this, why)) return false;
  for (int i = 0; i < nodes(); ++i) {
    if (!start_node(i, why)) return false;
  }
  if (options_.haproxy && !start_haproxy(why)) return false;
  return true;
}

bool LocalCluster::start_node(int i, std::string& why) {
  crash::NodeRunner& n = node(i);
  return n.start(why, {"--log", log_url(), "--node-id", node_id(i), "--advertise",
                       fmt::format("127.0.0.1:{}", n.port())});
}

bool LocalCluster::launch_node(int i, std::string& why) {
  crash::NodeRunner& n = node(i);
  return n.launch(why, {"--log", log_url(), "--node-id", node_id(i), "--advertise",
                        fmt::format("127.0.0.1:{}", n.port())});
}

void LocalCluster::kill_etcd(int i) {
  Etcd& e = etcd_[static_cast<size_t>(i)];
  e.process.kill(SIGKILL);
  e.process.wait(10'000);
}

bool LocalCluster::etcd_running(int i) { return etcd_[static_cast<size_t>(i)].process.running(); }

bool LocalCluster::start_etcd(int i, std::string& why) {
  if (!spawn_etcd(i, false, why)) return false;
  Etcd& e = etcd_[static_cast<size_t>(i)];
  log::etcd::Client client(etcd_client_options({fmt::format("127.0.0.1:{}", e.client_port)}));
  auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto m = client.members(500);
    if (m.ok()) {
      for (const auto& mem : m.value()) {
        if (mem.name == e.name && mem.healthy) return true;
      }
    }
    if (!e.process.running() || Clock::now() > deadline) {
      why = "etcd member did not come back healthy in 30 s: " + describe_etcd(e);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int LocalCluster::etcd_leader() {
  for (int i = 0; i < etcd_members(); ++i) {
    if (!etcd_running(i)) continue;
    log::etcd::Client client(etcd_client_options(
        {fmt::format("127.0.0.1:{}", etcd_[static_cast<size_t>(i)].client_port)}));
    auto m = client.members(500);
    if (!m.ok()) continue;
    for (const auto& mem : m.value()) {
      if (!mem.leader) continue;
      for (int j = 0; j < etcd_members(); ++j) {
        if (etcd_[static_cast<size_t>(j)].name == mem.name) return j;
      }
    }
  }
  return -1;
}

bool LocalCluster::etcd_put(const std::string& key, const std::string& value_file, std::string& why) {
  const std::string d = tls_dir().string();
  const std::string tls_flags =
      options_.tls ? fmt::format("--cacert {0}/ca.pem --cert {0}/node.pem --key {0}/node.key", d) : "";
  std::string cmd = fmt::format("ETCDCTL_API=3 etcdctl --endpoints {} {} put '{}' < '{}' > '{}' 2>&1",
                                etcd_endpoints(), tls_flags, key, value_file,
                                (root_ / "etcdctl.out").string());
  int rc = std::system(cmd.c_str());
  if (rc != 0) {
    why = "etcdctl put failed: " + read_file(root_ / "etcdctl.out");
    return false;
  }
  return true;
}

bool LocalCluster::start_haproxy(std::string& why) {
  for (int attempt = 1;; ++attempt) {
    bool bind_failed = false;
    if (start_haproxy_once(why, bind_failed)) return true;
    haproxy_.stop(2'000);
    if (!bind_failed || attempt >= test::kBindAttemptsMax) return false;
  }
}

bool LocalCluster::start_haproxy_once(std::string& why, bool& bind_failed) {
  bind_failed = false;
  std::string binary = haproxy_binary();
  if (binary.empty()) {
    why = "HAProxy is not installed (Debian package haproxy; scripts/install-deps.sh installs it)";
    return false;
  }
  fs::path tmpl = fs::path(BETCORE_SOURCE_DIR) / "deploy" / "haproxy" / "betcore.cfg.in";
  std::string cfg = read_file(tmpl);
  if (cfg.empty()) {
    why = "cannot read " + tmpl.string();
    return false;
  }
  haproxy_port_ = test::reserve_port();
  haproxy_stats_port_ = test::reserve_port();
  std::string servers;
  for (int i = 0; i < nodes(); ++i) {
    servers += fmt::format("    server {} 127.0.0.1:{} agent-port {}\n", node_id(i), node(i).port(),
                           agent_ports_[static_cast<size_t>(i)]);
  }
  // Placeholders are filled on configuration lines only (comments name them).
  std::string filled;
  std::istringstream lines(cfg);
  for (std::string line; std::getline(lines, line);) {
    size_t first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] != '#') {
      if (line.substr(first) == "@SERVERS@") {
        filled += servers;
        continue;
      }
      replace_all(line, "@LISTEN@", fmt::format("127.0.0.1:{}", haproxy_port_));
      replace_all(line, "@STATS@", fmt::format("127.0.0.1:{}", haproxy_stats_port_));
      const std::string d = tls_dir().string();
      replace_all(line, "@BIND_TLS@", options_.tls ? "ssl crt " + d + "/node.bundle.pem" : "");
      replace_all(line, "@SERVER_TLS@",
                  options_.tls ? "ssl verify required ca-file " + d + "/ca.pem crt " + d +
                                     "/node.bundle.pem"
                               : "");
    }
    filled += line + "\n";
  }
  cfg = std::move(filled);
  fs::path cfg_path = root_ / "haproxy.cfg";
  std::ofstream(cfg_path) << cfg;
  test::SpawnOptions so;
  so.program = binary;
  so.args = {"-db", "-f", cfg_path.string()};
  so.log_path = (root_ / "haproxy.log").string();
  haproxy_ = test::Process::spawn(so);
  if (!haproxy_.started()) {
    why = "cannot start HAProxy: " + haproxy_.spawn_error();
    return false;
  }
  std::string last;
  if (!test::wait_http_ready("127.0.0.1", haproxy_port_, "/health/ready", 30'000, &haproxy_, &last)) {
    bind_failed = test::log_says_address_in_use(haproxy_.read_log());
    why = fmt::format("HAProxy (port {}, stats port {}) did not answer /health/ready in 30 s: {}\n"
                      "last lines of {}:\n{}\nconfig:\n{}",
                      haproxy_port_, haproxy_stats_port_, last, haproxy_.log_path(),
                      test::last_lines(haproxy_.read_log()), cfg);
    return false;
  }
  return true;
}

bool LocalCluster::wait_converged(int timeout_ms, std::string& why) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    std::map<std::string, std::vector<std::string>> states;  // "applied checkpoint digest" -> nodes
    bool all_answered = true;
    std::string answers;
    for (int i = 0; i < nodes(); ++i) {
      if (!node(i).running()) continue;
      crash::JsonClient c(node(i).port(), 5'000);
      crash::Reply r = c.get("/v1/cluster", tokens_.admin);
      answers += node_id(i) + ": " + r.describe().substr(0, 400) + "\n";
      if (r.status != 200) {
        all_answered = false;
        continue;
      }
      std::string key = fmt::format("applied {} checkpoint {} digest {}",
                                    r.json.value("applied_index", uint64_t{0}),
                                    r.json.value("checkpoint", uint64_t{0}),
                                    r.json.value("state_digest", std::string()));
      states[key].push_back(node_id(i));
    }
    if (all_answered && states.size() == 1) return true;
    if (Clock::now() > deadline) {
      why = "the nodes did not converge:\n" + answers;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace betcore::cluster
