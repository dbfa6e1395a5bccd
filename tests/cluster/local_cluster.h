// A real local cluster for tests: etcd members (/usr/bin/etcd, Debian's
// etcd-server), betcore nodes on the etcd log, and HAProxy (/usr/sbin/haproxy)
// in front of them with the repo's config (deploy/haproxy/betcore.cfg.in).
// Every process has its own data directory and log file under `root`, and
// its own free ports. Thread: the test's main thread only (children get
// SIGKILL when the thread that spawned them dies).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crash/crash_node.h"
#include "log/etcd/etcd_client.h"
#include "support/support.h"

namespace betcore::cluster {

namespace fs = std::filesystem;

struct ClusterOptions {
  int etcd_members = 3;
  int nodes = 3;
  bool haproxy = true;
  std::string name = "t";                      // the betcore cluster name in etcd keys
  std::vector<std::string> node_args;          // on every node, e.g. --checkpoint-every-commands
  // TLS on every link (docs/security.md): a private CA in ROOT/tls; etcd
  // members speak TLS to each other and require client certificates; nodes
  // use etcds:// and serve HTTPS; HAProxy terminates TLS and speaks TLS to
  // the nodes. The test process trusts the CA (tls::set_default_client) and
  // presents ROOT/tls/node.pem while the cluster lives.
  bool tls = false;
  // Run once etcd is up, before any node starts (e.g. `betcore restore
  // --etcd`). False with `why` fails the start.
  std::function<bool(class LocalCluster&, std::string& why)> before_nodes;
};

class LocalCluster {
 public:
  LocalCluster(fs::path root, ClusterOptions options);
  ~LocalCluster();

  // etcd, then the nodes, then HAProxy; each waited for. False with `why`.
  bool start(std::string& why);

  // --- etcd ---
  int etcd_members() const { return static_cast<int>(etcd_.size()); }
  void kill_etcd(int i);                    // SIGKILL
  bool start_etcd(int i, std::string& why);  // restart on its data directory
  bool etcd_running(int i);
  // The index of the member that leads now, or -1 (asks every live member).
  int etcd_leader();
  // "etcd://127.0.0.1:p1,127.0.0.1:p2,.../name" (etcds:// with TLS)
  std::string log_url() const;
  // With ClusterOptions::tls: ROOT/tls, holding ca.pem and node.{pem,key,bundle.pem}.
  fs::path tls_dir() const { return root_ / "tls"; }
  bool tls() const { return options_.tls; }
  std::string etcd_endpoints() const;  // "127.0.0.1:p1,127.0.0.1:p2,..."
  uint16_t etcd_client_port(int i) const { return etcd_[static_cast<size_t>(i)].client_port; }
  // Writes `value` at `key` with etcdctl (bypassing betcore). False with `why`.
  bool etcd_put(const std::string& key, const std::string& value_file, std::string& why);

  // --- betcore nodes ---
  int nodes() const { return static_cast<int>(nodes_.size()); }
  crash::NodeRunner& node(int i) { return *nodes_[static_cast<size_t>(i)]; }
  std::string node_id(int i) const { return "node-" + std::to_string(i + 1); }
  bool start_node(int i, std::string& why);
  // start_node without waiting for it to be ready.
  bool launch_node(int i, std::string& why);
  fs::path node_data(int i) const;

  // Every process at once (SIGKILL): nodes, etcd members, HAProxy.
  void kill_everything();

  // --- HAProxy ---
  uint16_t haproxy_port() const { return haproxy_port_; }
  uint16_t haproxy_stats_port() const { return haproxy_stats_port_; }
  // The API port clients use: HAProxy's, or node 0's without HAProxy.
  uint16_t api_port() { return options_.haproxy ? haproxy_port_ : node(0).port(); }

  const test::TestTokens& tokens() const { return tokens_; }
  const fs::path& root() const { return root_; }

  // Waits until every running node reports the same applied index as the
  // others, with the same checkpoint index and digest (via /v1/cluster of
  // each). False with `why` after `timeout_ms`.
  bool wait_converged(int timeout_ms, std::string& why);

 private:
  struct Etcd {
    std::string name;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    fs::path dir;
    test::Process process;
    int runs = 0;
  };
  bool spawn_etcd(int i, bool initial, std::string& why);
  log::etcd::ClientOptions etcd_client_options(std::vector<std::string> endpoints) const;
  std::string scheme() const { return options_.tls ? "https" : "http"; }
  // Starts every member and waits for a quorum read. `bind_failed` when a
  // member exited because its port was taken.
  bool start_etcd_members(std::string& why, bool& bind_failed);
  static std::string describe_etcd(const Etcd& e);
  bool start_haproxy(std::string& why);
  bool start_haproxy_once(std::string& why, bool& bind_failed);

  fs::path root_;
  ClusterOptions options_;
  test::TestTokens tokens_;
  std::vector<Etcd> etcd_;
  std::vector<std::unique_ptr<crash::NodeRunner>> nodes_;
  std::vector<uint16_t> agent_ports_;  // each node's --agent-listen port
  uint16_t haproxy_port_ = 0;
  uint16_t haproxy_stats_port_ = 0;
  test::Process haproxy_;
};

// The whole of a file ("" when it cannot be read): a process's log.
std::string read_file(const fs::path& p);

// The etcd and HAProxy binaries this harness runs; empty when missing.
std::string etcd_binary();
std::string haproxy_binary();

}  // namespace betcore::cluster
