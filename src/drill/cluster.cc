// The drill's cluster: starting, probing, killing and restarting etcd members, nodes and HAProxy.
#include "drill/cluster.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "api/auth.h"
#include "drill/clock.h"
#include "log/etcd/etcd_client.h"
#include "log/etcd/member_flags.h"
#include "tls/tls.h"
#include "tools/http_client.h"
#include "tools/ports.h"

namespace betcore::drill {
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string token_hex(std::mt19937_64& rng) { return fmt::format("{:016x}{:016x}", rng(), rng()); }

void replace_line(std::string& cfg, const std::string& placeholder, const std::string& value) {
  for (size_t at = cfg.find(placeholder); at != std::string::npos;
       at = cfg.find(placeholder, at + value.size())) {
    cfg.replace(at, placeholder.size(), value);
  }
}

}  // namespace

tools::HttpClientOptions betcore_http(int connect_timeout_ms, int request_timeout_ms) {
  tools::HttpClientOptions o;
  o.connect_timeout_ms = connect_timeout_ms;
  o.request_timeout_ms = request_timeout_ms;
  o.tls = tls::default_client();
  return o;
}

std::vector<std::string> DrillCluster::tls_client_args() const {
  return {"--tls-ca", tls_file("ca.pem"), "--tls-cert", tls_file("node.pem"), "--tls-key",
          tls_file("node.key")};
}

std::vector<std::string> drill_host_names() {
  std::vector<std::string> hosts;
  for (int i = 0; i < kEtcdMembers; ++i) hosts.push_back(fmt::format("e{}", i + 1));
  for (int i = 0; i < kNodes; ++i) hosts.push_back(fmt::format("n{}", i + 1));
  return hosts;
}

DrillCluster::DrillCluster(TestNet& net, fs::path root, std::string betcore,
                           std::string haproxy_template)
    : net_(net),
      root_(std::move(root)),
      betcore_(std::move(betcore)),
      template_(std::move(haproxy_template)) {
  for (int i = 0; i < kEtcdMembers; ++i) {
    etcd.push_back(Proc{fmt::format("etcd-{}", i + 1), fmt::format("e{}", i + 1), {}, 0, false});
  }
  for (int i = 0; i < kNodes; ++i) {
    nodes.push_back(Proc{fmt::format("node-{}", i + 1), fmt::format("n{}", i + 1), {}, 0, false});
  }
}

std::string DrillCluster::etcd_ip(int i) const {
  return net_.host(etcd[static_cast<size_t>(i)].host).ip;
}
std::string DrillCluster::node_ip(int i) const {
  return net_.host(nodes[static_cast<size_t>(i)].host).ip;
}
std::string DrillCluster::endpoints() const {
  std::string out;
  for (int i = 0; i < kEtcdMembers; ++i) out += (i ? "," : "") + etcd_ip(i) + ":2379";
  return out;
}
std::vector<std::string> DrillCluster::endpoint_list() const {
  std::vector<std::string> out;
  for (int i = 0; i < kEtcdMembers; ++i) out.push_back(etcd_ip(i) + ":2379");
  return out;
}
fs::path DrillCluster::node_dir(int i) const { return root_ / nodes[static_cast<size_t>(i)].name; }

bool DrillCluster::start(std::string& why) {
  std::mt19937_64 rng(std::random_device{}());
  admin = token_hex(rng);
  trader = token_hex(rng);
  payments = token_hex(rng);
  feed = token_hex(rng);
  backup = token_hex(rng);
  {
    // The nodes' tokens file holds hashes; the clients' credentials the tokens.
    std::ofstream t(root_ / "tokens"), c(root_ / "credentials");
    for (const auto& [role, token] : {std::pair<std::string, std::string>{"admin", admin},
                                      {"trader", trader}, {"payments", payments}, {"feed", feed},
                                      {"backup", backup}}) {
      t << role << " " << api::token_hash_text(token) << "\n";
      c << role << " " << token << "\n";
    }
  }
  {
    // One certificate for every address of the drill: etcd's (server and
    // peer), the nodes', HAProxy's, and the drill's own client certificate.
    tls::CertSpec spec;
    spec.hosts = {"127.0.0.1", "localhost"};
    for (int i = 0; i < kEtcdMembers; ++i) spec.hosts.push_back(etcd_ip(i));
    for (int i = 0; i < kNodes; ++i) spec.hosts.push_back(node_ip(i));
    why = tls::ensure_ca(tls_dir().string(), "betcore drill CA");
    if (why.empty()) why = tls::issue_cert(tls_dir().string(), tls_dir().string(), "node", spec);
    if (!why.empty()) return false;
    tls::set_default_client({tls_file("ca.pem"), tls_file("node.pem"), tls_file("node.key")});
  }
  for (int i = 0; i < kEtcdMembers; ++i) {
    if (!slowfs.empty() && !mount_slowfs(i, why)) return false;
    if (!start_etcd(i, true, why)) return false;
  }
  if (!wait_etcd(30'000, why)) return false;
  for (int i = 0; i < kNodes; ++i) {
    // Each node's data on a tmpfs of its own: the drill can fill it.
    fs::create_directories(node_dir(i));
    std::string opts = fmt::format("size={}", kNodeDiskBytes);
    if (::mount("tmpfs", node_dir(i).c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      why = "cannot mount a tmpfs for " + nodes[static_cast<size_t>(i)].name +
            " (needs root): " + std::strerror(errno);
      return false;
    }
    mounted_.push_back(node_dir(i));
    if (!start_node(i, why)) return false;
  }
  for (int i = 0; i < kNodes; ++i) {
    if (!wait_node_ready(i, 60'000)) {
      why = nodes[static_cast<size_t>(i)].name + " did not become ready:\n" +
            nodes[static_cast<size_t>(i)].process.read_log();
      return false;
    }
  }
  return start_haproxy(why);
}

bool DrillCluster::wait_etcd(int timeout_ms, std::string& why) {
  log::etcd::Client client(log::etcd::ClientOptions{endpoint_list(), 2'000, tls::default_client()});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!client.range("health", "", {}, 1000).ok()) {
    if (std::chrono::steady_clock::now() > deadline) {
      why = fmt::format("etcd did not become healthy in {} s:\n{}", timeout_ms / 1000,
                        etcd[0].process.read_log());
      return false;
    }
    sleep_ms(100);
  }
  return true;
}

bool DrillCluster::start_etcd(int i, bool initial, std::string& why) {
  Proc& p = etcd[static_cast<size_t>(i)];
  std::string ip = etcd_ip(i);
  std::string initial_cluster;
  for (int k = 0; k < kEtcdMembers; ++k) {
    initial_cluster += (k ? "," : "") + fmt::format("{}=https://{}:2380",
                                                    etcd[static_cast<size_t>(k)].name, etcd_ip(k));
  }
  tools::SpawnOptions so;
  so.program = "ip";
  // Flags beside their values, not one a line.
  // clang-format off
  so.args = {"netns", "exec", net_.host(p.host).ns, "/usr/bin/etcd",
             "--name", p.name, "--data-dir", (root_ / p.name).string(),
             "--listen-client-urls", "https://" + ip + ":2379",
             "--advertise-client-urls", "https://" + ip + ":2379",
             "--listen-peer-urls", "https://" + ip + ":2380",
             "--initial-advertise-peer-urls", "https://" + ip + ":2380",
             "--cert-file", tls_file("node.pem"), "--key-file", tls_file("node.key"),
             "--client-cert-auth", "--trusted-ca-file", tls_file("ca.pem"),
             "--peer-cert-file", tls_file("node.pem"), "--peer-key-file", tls_file("node.key"),
             "--peer-client-cert-auth", "--peer-trusted-ca-file", tls_file("ca.pem"),
             "--initial-cluster", initial_cluster,
             "--initial-cluster-state", initial ? "new" : "existing",
             "--initial-cluster-token", "betcore-drill"};
  // clang-format on
  // What production runs (docs/cluster.md, "etcd settings").
  for (std::string& flag : log::etcd::member_flags()) so.args.push_back(std::move(flag));
  so.log_path = (root_ / fmt::format("{}-run{}.log", p.name, p.runs++)).string();
  p.process = tools::Process::spawn(so);
  p.paused = false;
  if (!p.process.started()) {
    why = "cannot start etcd: " + p.process.spawn_error();
    return false;
  }
  return true;
}

bool DrillCluster::start_node(int i, std::string& why) {
  Proc& p = nodes[static_cast<size_t>(i)];
  std::string addr = node_ip(i) + ":8080";
  tools::SpawnOptions so;
  so.program = "ip";
  // Flags beside their values, not one a line.
  // clang-format off
  so.args = {"netns", "exec", net_.host(p.host).ns, betcore_, "node",
             "--data", node_dir(i).string(), "--listen", addr, "--advertise", addr,
             "--tokens", (root_ / "tokens").string(), "--node-id", p.name,
             "--credentials", (root_ / "credentials").string(),
             "--log", "etcds://" + endpoints() + "/" + kCluster,
             "--tls-cert", tls_file("node.pem"), "--tls-key", tls_file("node.key"),
             "--tls-ca", tls_file("ca.pem"),
             "--checkpoint-every-commands", "3000", "--http-threads", "2",
             "--agent-listen", node_ip(i) + ":8081"};
  // clang-format on
  so.args.insert(so.args.end(), node_args.begin(), node_args.end());
  so.log_path = (root_ / fmt::format("{}-run{}.log", p.name, p.runs++)).string();
  p.process = tools::Process::spawn(so);
  p.paused = false;
  if (!p.process.started()) {
    why = "cannot start " + p.name + ": " + p.process.spawn_error();
    return false;
  }
  return true;
}

bool DrillCluster::start_haproxy(std::string& why, int attempt) {
  std::string cfg = read_file(template_);
  if (cfg.empty()) {
    why = "cannot read the HAProxy config template " + template_ + " (--haproxy-config)";
    return false;
  }
  haproxy_port = tools::reserve_port();
  stats_port = tools::reserve_port();
  std::string servers;
  for (int i = 0; i < kNodes; ++i) {
    servers +=
        fmt::format("    server {} {}:8080 agent-port 8081\n", nodes[static_cast<size_t>(i)].name, node_ip(i));
  }
  replace_line(cfg, "@LISTEN@", fmt::format("127.0.0.1:{}", haproxy_port));
  replace_line(cfg, "@STATS@", fmt::format("127.0.0.1:{}", stats_port));
  replace_line(cfg, "@SERVERS@", servers);
  replace_line(cfg, "@BIND_TLS@", "ssl crt " + tls_file("node.bundle.pem"));
  replace_line(cfg, "@SERVER_TLS@", "ssl verify required ca-file " + tls_file("ca.pem") + " crt " +
                                        tls_file("node.bundle.pem"));
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
  tools::HttpClient c("127.0.0.1", haproxy_port, betcore_http(500, 1000));
  for (int k = 0; k < 100 && haproxy_.running(); ++k) {
    if (c.request("GET", "/health/ready").status == 200) return true;
    sleep_ms(100);
  }
  std::string log = haproxy_.read_log();
  why =
      fmt::format("HAProxy (port {}, stats port {}) did not answer /health/ready in 10 s; {}:\n{}",
                  haproxy_port, stats_port, haproxy_.log_path(), log);
  haproxy_.stop(2'000);
  // A port taken by a program outside the reservations: new ports, again.
  if (attempt < 3 && log.find("Address already in use") != std::string::npos) {
    return start_haproxy(why, attempt + 1);
  }
  return false;
}

bool DrillCluster::wait_node_ready(int i, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (node_ready(i)) return true;
    if (!nodes[static_cast<size_t>(i)].process.running()) return false;
    sleep_ms(200);
  }
  return false;
}

bool DrillCluster::node_ready(int i) const {
  tools::HttpClient c(node_ip(i), 8080, betcore_http(300, 600));
  return c.request("GET", "/health/ready").status == 200;
}

bool DrillCluster::etcd_healthy(int i) const {
  tools::HttpClient c(etcd_ip(i), 2379, betcore_http(300, 600));  // etcd's TLS, our cert
  auto r = c.request("GET", "/health");
  return r.status == 200 && r.body.find("\"true\"") != std::string::npos;
}

int DrillCluster::etcd_leader() {
  for (int i = 0; i < kEtcdMembers; ++i) {
    Proc& p = etcd[static_cast<size_t>(i)];  // running() reaps, so not const
    if (p.paused || !p.process.running()) continue;
    log::etcd::Client client(log::etcd::ClientOptions{{etcd_ip(i) + ":2379"}, 500, tls::default_client()});
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

void DrillCluster::kill9(Proc& p) {
  if (p.paused) p.process.kill(SIGCONT);
  p.paused = false;
  p.process.kill(SIGKILL);
  p.process.wait(10'000);
}

void DrillCluster::heal_everything(std::vector<std::string>& failures) {
  std::string why;
  for (const std::string& h : drill_host_names()) {
    if (!net_.heal(h, why)) failures.push_back("cannot heal the test host " + h + ": " + why);
  }
  std::error_code ec;
  for (int i = 0; i < kNodes; ++i) fs::remove(node_dir(i) / kDiskFiller, ec);
  for (Proc& p : etcd) {
    if (p.paused) p.process.kill(SIGCONT);
    p.paused = false;
  }
  for (Proc& p : nodes) {
    if (p.paused) p.process.kill(SIGCONT);
    p.paused = false;
  }
  // A restart that fails is a failure of the run, with its reason: left
  // alone it would only show later as a cluster that does not converge.
  for (int i = 0; i < kEtcdMembers; ++i) {
    if (!etcd[static_cast<size_t>(i)].process.running() && !start_etcd(i, false, why)) {
      failures.push_back("etcd member " + std::to_string(i) + " did not start again after the faults: " + why);
    }
  }
  for (int i = 0; i < kNodes; ++i) {
    if (!nodes[static_cast<size_t>(i)].process.running() && !start_node(i, why)) {
      failures.push_back("node " + std::to_string(i) + " did not start again after the faults: " + why);
    }
  }
}

void DrillCluster::stop_all(bool keep) {
  haproxy_.stop(2'000);
  for (Proc& p : nodes) kill9(p);
  for (Proc& p : etcd) kill9(p);
  for (const fs::path& m : mounted_) {
    std::error_code ec;
    if (keep) fs::copy(m, m.string() + "-data", fs::copy_options::recursive, ec);
    ::umount2(m.c_str(), MNT_DETACH);
  }
  mounted_.clear();
  for (size_t i = 0; i < slowfs_.size(); ++i) {
    if (!slowfs_[i].started()) continue;
    ::umount2((root_ / etcd[i].name).c_str(), MNT_DETACH);  // the file system's process then exits
    if (!slowfs_[i].wait(3'000)) slowfs_[i].kill(SIGKILL);
  }
  slowfs_.clear();
}

fs::path DrillCluster::etcd_fsync_delay_file(int i) const {
  return root_ / (etcd[static_cast<size_t>(i)].name + "-fsync-delay-ms");
}

void DrillCluster::set_etcd_fsync_delay(int i, int ms) {
  // Written whole then renamed: the file system reads it every 100 ms.
  const fs::path f = etcd_fsync_delay_file(i);
  std::ofstream(f.string() + ".tmp") << ms << "\n";
  std::error_code ec;
  fs::rename(f.string() + ".tmp", f, ec);
}

// etcd member i's data directory: a betcore-slowfs mount over <name>-disk.
bool DrillCluster::mount_slowfs(int i, std::string& why) {
  const std::string name = etcd[static_cast<size_t>(i)].name;
  const fs::path point = root_ / name, source = root_ / (name + "-disk");
  fs::create_directories(point);
  fs::create_directories(source);
  set_etcd_fsync_delay(i, 0);
  slowfs_.resize(kEtcdMembers);
  tools::SpawnOptions so;
  so.program = slowfs;
  so.args = {source.string(), point.string(), etcd_fsync_delay_file(i).string(), "-o", "allow_other"};
  so.log_path = (root_ / (name + "-slowfs.log")).string();
  tools::Process& p = slowfs_[static_cast<size_t>(i)];
  p = tools::Process::spawn(so);
  for (int waited = 0; waited < 5'000; waited += 50) {
    std::ifstream mounts("/proc/mounts");
    for (std::string dev, at, rest; mounts >> dev >> at && std::getline(mounts, rest);) {
      if (at == point.string()) return true;
    }
    if (!p.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  why = "betcore-slowfs did not mount " + point.string() + " (needs /dev/fuse and fuse3; run "
        "scripts/install-deps.sh): " + p.read_log();
  return false;
}

}  // namespace betcore::drill
