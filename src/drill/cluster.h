// The drill's cluster: 3 etcd members and 3 betcore nodes in test hosts of their own, HAProxy in
// front; starting, probing, killing and restarting them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "drill/testnet.h"
#include "tools/http_client.h"
#include "tools/process.h"

namespace betcore::drill {

inline constexpr int kEtcdMembers = 3;
inline constexpr int kNodes = 3;
inline constexpr const char* kCluster = "drill";          // the etcd log's cluster name
inline constexpr uint64_t kNodeDiskBytes = 256ull << 20;  // each node's tmpfs
// The file that fills a node's disk (node_disk_full), in its data directory.
inline constexpr const char* kDiskFiller = "drill-filler";

// The test hosts, etcd members' first: "e1".."e3", "n1".."n3".
std::vector<std::string> drill_host_names();

struct Proc {
  std::string name;  // "etcd-1", "node-2"
  std::string host;  // test host: "e1", "n2"
  tools::Process process;
  int runs = 0;         // starts so far: names each run's log file
  bool paused = false;  // SIGSTOPped by the nemesis
};

// Thread affinity: the run loop and the nemesis start, stop and signal
// processes; the monitor and the checks only probe (node_ready,
// etcd_healthy, the addresses), which reads nothing they change.
// Options for an HTTP client of the drill's betcore nodes or HAProxy: TLS
// with the drill's CA (set by DrillCluster::start) and these deadlines.
tools::HttpClientOptions betcore_http(int connect_timeout_ms = 2'000, int request_timeout_ms = 10'000);

class DrillCluster {
 public:
  DrillCluster(TestNet& net, std::filesystem::path root, std::string betcore,
               std::string haproxy_template);
  ~DrillCluster() { stop_all(); }

  std::vector<Proc> etcd, nodes;
  std::string admin, trader, payments, feed, backup;  // bearer tokens (in <root>/tokens)
  // Set before start(). Non-empty: each etcd member's data directory is a
  // betcore-slowfs mount (this program) whose fsyncs take as long as
  // etcd_fsync_delay_file(i) says: the slow_disk fault.
  std::string slowfs;
  // More flags for every node (the guard's, in the detection drill).
  std::vector<std::string> node_args;
  uint16_t haproxy_port = 0, stats_port = 0;

  std::string etcd_ip(int i) const;
  std::string node_ip(int i) const;
  std::string endpoints() const;                   // "ip:2379,ip:2379,ip:2379"
  std::vector<std::string> endpoint_list() const;  // the same, one an entry
  std::filesystem::path node_dir(int i) const;
  std::filesystem::path etcd_fsync_delay_file(int i) const;
  // Every fsync of etcd member i's data takes `ms` longer (needs slowfs).
  void set_etcd_fsync_delay(int i, int ms);
  std::filesystem::path root() const { return root_; }
  // The drill runs with TLS on every link (docs/security.md): the private CA
  // and the one certificate every process uses, for every drill address.
  std::filesystem::path tls_dir() const { return root_ / "tls"; }
  std::string tls_file(const std::string& name) const { return (tls_dir() / name).string(); }
  // --tls-ca/--tls-cert/--tls-key for a betcore client command (adapters, archiver).
  std::vector<std::string> tls_client_args() const;

  // Tokens, etcd, node tmpfs mounts, nodes, HAProxy; false with `why`.
  bool start(std::string& why);
  bool start_etcd(int i, bool initial, std::string& why);
  bool start_node(int i, std::string& why);
  // Until a quorum read answers; false with `why` (etcd-1's log) after `timeout_ms`.
  bool wait_etcd(int timeout_ms, std::string& why);
  // Until node `i` is ready; false if it exits or `timeout_ms` passes.
  bool wait_node_ready(int i, int timeout_ms);

  bool node_ready(int i) const;
  bool etcd_healthy(int i) const;
  int etcd_leader();  // -1: none known

  void kill9(Proc& p);
  // After the faults: every host's rules and link healed, fillers removed,
  // paused processes continued and dead ones restarted; what cannot be
  // healed goes into `failures`.
  void heal_everything(std::vector<std::string>& failures);
  // Kills everything; with `keep`, copies each node's tmpfs out first.
  void stop_all(bool keep = false);

 private:
  bool start_haproxy(std::string& why, int attempt = 1);

  TestNet& net_;
  std::filesystem::path root_;
  std::string betcore_;
  std::string template_;
  tools::Process haproxy_;
  bool mount_slowfs(int i, std::string& why);

  std::vector<std::filesystem::path> mounted_;
  std::vector<tools::Process> slowfs_;  // one per etcd member, when slowfs is set
};

}  // namespace betcore::drill
