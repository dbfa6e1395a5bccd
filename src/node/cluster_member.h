// A node's life in an etcd cluster (docs/cluster.md), beside its log:
//
// - registration: /betcore/<cluster>/nodes/<id> under a lease (TTL
//   `lease_ttl_s`), rewritten every second with the node's address, applied
//   position, readiness, recent checkpoints (position + digest), newest
//   snapshot and the first position it still needs;
// - catch-up: samples the log head (a quorum read) every tick; the node lags
//   by the age of the oldest sampled head it has not applied yet;
// - agreement: compares its digests with every peer's at the same checkpoint.
//   Any difference raises an alert; a node whose digest differs from a strict
//   majority of the nodes that reported that checkpoint stops taking writes;
// - maintenance, done by the live node with the smallest id: compacts the log
//   below the smallest position any live node still needs, then defragments
//   the members whose files hold much free space, one member at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log/etcd/etcd_log.h"
#include "node/applier.h"
#include "ops/metrics.h"

namespace betcore::node {

struct PeerRecord {
  std::string id;
  std::string address;
  uint64_t applied_index = 0;
  bool ready = false;
  std::string not_ready_reason;
  std::vector<Checkpoint> checkpoints;  // recent, oldest first
  uint64_t snapshot_index = 0;          // newest snapshot it can serve (0: none)
  uint64_t needs_from = 1;              // first log position it needs to restart
  int64_t updated_revision = 0;         // etcd revision of the record
  double append_latency_s = -1;         // its guard's recent mean append (-1: not known)
  int64_t published_ms = 0;             // its wall clock when it wrote the record
  std::string version;                  // its build: "0.12.0 (git revision)"
};

// Every node's registration record, as etcd holds it now (a quorum read).
// Unreadable records are skipped with a warning.
log::Result<std::vector<PeerRecord>> read_peer_records(log::etcd::EtcdLog& log);

// An archiver's hold on the log (`betcore backup run --etcd`), under its
// lease: what it still needs and how far behind it and its remote copy are.
struct HoldRecord {
  std::string name;
  uint64_t needs_from = 1;
  uint64_t archived = 0;
  int64_t lag_ms = 0;         // age of the oldest batch not yet archived
  int64_t remote_lag_ms = -1; // age of the oldest batch not yet shipped (-1: no remote copy)
  int64_t at_ms = 0;          // when the archiver wrote it (its wall clock)
};
log::Result<std::vector<HoldRecord>> read_hold_records(log::etcd::EtcdLog& log);

struct ClusterMemberOptions {
  std::string node_id;
  std::string address;
  int64_t lease_ttl_s = 10;  // a node gone this long loses its claim on the log
  int tick_ms = 250;
  int publish_every_ms = 1'000;
  int maintenance_every_ms = 5'000;
  int lag_ready_max_ms = 2'000;      // lagging longer than this: not ready
  // No log head from etcd this long: not ready, so HAProxy stops sending it
  // requests that would wait for an append that cannot happen. Longer than
  // an etcd election, which leaves every node headless for a while: 0.5-1.2 s
  // with docs/cluster.md's 50 / 500 ms, 1-2.5 s on a cluster left at etcd's
  // defaults. (5 s before betcore drill showed a cut-off node holding clients
  // for 5 s; with HAProxy's leastconn such a node holds few of them.)
  int head_unreadable_max_ms = 2'500;
  int64_t defrag_free_bytes_min = 64ll << 20;
};

struct ClusterMemberSources {
  std::function<uint64_t()> applied;
  std::function<std::vector<Checkpoint>()> checkpoints;
  std::function<uint64_t()> snapshot_index;
  std::function<std::string()> local_problem;  // "" when the node itself is fine
  // The guard's recent mean append latency (NaN: none), published so peers
  // can tell a slow node from a slow cluster. May be empty.
  std::function<double()> append_latency_s;
};

class ClusterMember {
 public:
  ClusterMember(ClusterMemberOptions options, log::etcd::EtcdLog& log, ClusterMemberSources sources,
                ops::Registry& metrics);
  ~ClusterMember();

  void start();
  // Publishes a last record saying the node stopped. The lease is left to
  // expire: a node restarted within the TTL keeps its claim on the log.
  void stop();

  // "" when this node is caught up, connected and agrees with the majority;
  // otherwise why not, for /health/ready.
  std::string not_ready_reason() const;
  bool divergent() const { return divergent_.load(); }
  // Alerts raised by the agreement check (for /v1/alerts), newest last.
  std::vector<std::string> alerts() const;
  std::vector<PeerRecord> peers() const;
  // The quorum reads of the head this node makes every tick (the guard's
  // round trip to etcd).
  const ops::Histogram& round_trip_seconds() const { return round_trip_seconds_; }
  // The archivers' holds, as read last.
  std::vector<HoldRecord> holds() const;
  double lag_seconds() const;
  // The log head sampled last (or why it could not be read).
  log::Result<log::Position> last_head() const;

  // One pass of registration + agreement (tests and startup use it).
  void publish_now();

 private:
  using Clock = std::chrono::steady_clock;
  void loop();
  void maintenance_loop();
  void sample_head();
  bool ensure_lease();
  void publish();
  void read_peers();
  void check_agreement();
  void maintain();
  std::string record_json() const;

  const ClusterMemberOptions options_;
  log::etcd::EtcdLog& log_;
  log::etcd::Client& client_;
  const ClusterMemberSources sources_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                                     // guarded by mu_
  std::deque<std::pair<Clock::time_point, uint64_t>> heads_;  // guarded by mu_
  Clock::time_point head_ok_at_{};                            // guarded by mu_
  std::string head_error_;                                    // guarded by mu_
  uint64_t last_head_ = 0;                                    // guarded by mu_
  std::vector<PeerRecord> peers_;                             // guarded by mu_
  std::vector<HoldRecord> holds_;                             // guarded by mu_
  std::vector<std::string> alerts_;                           // guarded by mu_
  std::string divergence_;                                    // guarded by mu_
  int64_t lease_ = 0;                                         // loop thread
  Clock::time_point lease_renewed_{};                         // loop thread
  Clock::time_point last_publish_{};                          // loop thread
  int64_t compacted_to_ = 0;                                  // maintenance thread
  std::atomic<bool> divergent_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::thread thread_;
  std::thread maintenance_thread_;

  ops::Counter& compactions_;
  ops::Counter& defrags_;
  ops::Counter& divergences_;
  ops::Histogram& round_trip_seconds_;
  std::vector<ops::Registration> callbacks_;
};

}  // namespace betcore::node
