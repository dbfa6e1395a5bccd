// One betcore node: the command log, the submitter, the applier and the
// snapshots, wired together. The embedded single node and (later) a cluster
// member run this same code; only the log backend differs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <functional>
#include <thread>
#include <vector>

#include "log/log.h"
#include "node/applier.h"
#include "node/archive_watch.h"
#include "node/cluster_member.h"
#include "node/event_journal.h"
#include "node/guard.h"
#include "tls/tls.h"
#include "node/snapshot_store.h"
#include "node/submitter.h"
#include "node/waiters.h"
#include "ops/metrics.h"

namespace betcore::node {

// A peer's newest snapshot file to fetch into `to_path` as it arrives (never
// held whole in memory), the file created, written and fsynced.
struct SnapshotFetch {
  std::string address;  // the peer, HOST:PORT
  std::string to_path;
  // Bytes received so far, and the whole file's size (0 while unknown).
  std::function<void(uint64_t received, uint64_t total)> progress;
  // True: a stop began; give up at once.
  std::function<bool()> cancelled;
};
// True once the file is whole, or false with `error`.
using FetchSnapshot = std::function<bool(const SnapshotFetch& fetch, std::string& error)>;

// The HTTP fetcher of a cluster node: GET /v1/snapshot from the peer with
// `admin_token`, over TLS unless `tls` is false. No byte for `stall_ms`, or
// a file over `bytes_max`, fails the fetch (peer_fetch.cc).
FetchSnapshot http_snapshot_fetcher(std::string admin_token, bool tls, int stall_ms, uint64_t bytes_max);

struct NodeOptions {
  std::string node_id = "node-1";
  std::string data_dir;
  std::string advertise_address;  // how peers and tools reach this node (HOST:PORT)
  size_t queue_commands_max = 16'384;
  size_t batch_commands_max = 4'096;
  int batch_linger_us = 5'000;        // SubmitterOptions: group commit under load
  size_t batch_linger_commands = 64;
  // Cluster mode: appends in flight at once (EtcdLogOptions::append_lanes).
  size_t append_lanes = 2;
  uint64_t checkpoint_every_commands = 1'000'000;  // digest + snapshot
  size_t snapshots_kept = 2;
  bool truncate_corrupt_tail = false;
  bool full_ledger_check = false;
  int read_timeout_ms = 5'000;
  size_t journal_bytes_max = 64u << 20;  // events kept for /v1/stream
  // Empty: the embedded file log in DIR/log. Otherwise the etcd cluster log,
  // "etcd://HOST:PORT,HOST:PORT/CLUSTER", or etcds:// for mutual TLS with
  // etcd_tls's files.
  std::string log_url;
  tls::ClientFiles etcd_tls;
  int log_connect_timeout_ms = 60'000;  // waiting for etcd at start
  int64_t etcd_defrag_min_free_bytes = 64ll << 20;  // defragment a member with this much free
  // Fetches a peer's newest snapshot file into a file (cluster bootstrap):
  // true once it is whole, or false with `error`. Set by the command line
  // (http_snapshot_fetcher).
  FetchSnapshot fetch_snapshot;
  // Embedded mode: the archiver's hold on the log and the archive alerts
  // (hold_path is set to DATA/archive-hold by open()).
  ArchiveWatchOptions archive;
  // Anomaly detection and remediation (guard.h); incidents_path is set to
  // DATA/incidents.jsonl by open(). sample_ms 0: no guard.
  GuardOptions guard;
  // An HAProxy agent check answers for this node (--agent-listen): the guard
  // drains it through that, and /health/ready stays 200 while it drains.
  bool haproxy_agent = false;
  // Start-up: open() says what it is doing through `progress` ("waiting
  // for etcd", "replaying ...", for /health/ready and systemd's STATUS=),
  // and gives up, with an error, once *stop_requested is true.
  std::function<void(const std::string& what)> progress;
  const std::atomic<bool>* stop_requested = nullptr;
};

// What /v1/cluster shows.
struct ClusterView {
  std::string backend;  // "file" or "etcd"
  std::vector<PeerRecord> nodes;
  std::vector<log::etcd::Member> members;
  std::string members_error;
};

enum class Consistency { linearizable, stale };

struct NodeStatus {
  bool ready = false;
  std::string not_ready_reason;
  uint64_t applied_index = 0;
  uint64_t log_head = 0;
  Checkpoint checkpoint;
  size_t queued = 0;
  bool cluster = false;  // etcd log: readiness includes the lag check by time
  // The audit chain after the newest batch applied (docs/audit.md): 0 and
  // "" while it is unknown.
  uint64_t chain_position = 0;
  std::string chain;
};

// A peer's newest snapshot, as its node record announces it.
struct PeerSnapshot {
  std::string address;
  uint64_t snapshot_index = 0;
};

// What a bootstrap reports to and asks of its node: progress for
// /health/ready and systemd ("fetching the snapshot ... 120 of 800 MiB"),
// and whether a stop began (the fetch then gives up at once).
struct BootstrapHooks {
  std::function<void(const std::string& what)> progress;
  std::function<bool()> cancelled;
};

// A bootstrap: fetches the newest peer snapshot past `applied` that the log
// can continue from (it starts at `log_first`) into the store's partial
// file, checks it, adopts it into `store` (under `store_mu`, taken only for
// that, never across a fetch) and tells `log` what is still needed. Null
// when no peer can give one yet, or when a stop began.
std::unique_ptr<domain::State> bootstrap_from_peers(const std::vector<PeerSnapshot>& peers,
                                                    uint64_t applied, uint64_t log_first,
                                                    const FetchSnapshot& fetch, SnapshotStore& store,
                                                    log::Log& log, std::mutex* store_mu = nullptr,
                                                    const BootstrapHooks& hooks = {});

// The size of the file system holding `path`, or what it has free for an
// unprivileged writer (a root-owned node still should not eat the reserve);
// NaN when it cannot be read, so a rule sees no value rather than a zero.
double filesystem_bytes(const std::string& path, bool size);

class Node {
 public:
  // Loads the newest good snapshot, opens the log (recovering its tail as
  // docs/log-format.md says) and replays everything after the snapshot.
  // Null with `error` set (what happened, what to do) when it cannot start.
  static std::unique_ptr<Node> open(NodeOptions options, ops::Registry& metrics,
                                    EventRenderer renderer, std::string& error);
  ~Node();

  void start();
  void stop();

  // Thread-safe. See Submitter::submit.
  SubmitStatus submit(std::string encoded_command, WriteDone done, codec::Actor actor = {});
  // Thread-safe. See Submitter::submit_all: all or none, next to each other.
  SubmitStatus submit_all(std::vector<std::string> encoded_commands, std::vector<WriteDone> done,
                          const codec::Actor& actor = {});

  // Runs fn once this node has applied the log head (linearizable) and
  // min_index; fn gets null on timeout. Thread-safe.
  void read(Consistency consistency, uint64_t min_index, ReadFn fn);

  NodeStatus status() const;
  ClusterView cluster_view() const;
  // Alerts from the agreement check (cluster mode).
  std::vector<std::string> alerts() const;
  // The newest snapshot file on disk (sealed bytes), for a peer's bootstrap.
  bool newest_snapshot(std::string& bytes, uint64_t& index, std::string& error) const;
  EventJournal& journal() { return journal_; }

  // Embedded mode, for the archiver (GET /v1/log): durable batches from
  // `report.from` on, about `bytes_max` bytes (at least one), waiting up to
  // `wait_ms` for the first; records the archiver's report (archive_watch.h).
  // Errc::invalid_argument in cluster mode, where the archiver reads etcd.
  log::Result<std::vector<log::Entry>> read_log_for_archive(const ArchiveReport& report,
                                                            size_t bytes_max, int wait_ms);
  std::vector<ArchiveAlert> archive_alerts() const;
  // The guard's incidents, newest first (empty without a guard).
  std::vector<Incident> incidents(size_t max) const;
  const NodeOptions& options() const { return options_; }
  // The guard has taken it out of rotation (the agent check answers "drain").
  bool draining() const { return !out_of_rotation().empty(); }

 private:
  Node(NodeOptions options, ops::Registry& metrics);
  void snapshot_loop();
  void head_loop();
  std::unique_ptr<domain::State> bootstrap(const log::Error& why);
  void compact_below_snapshots();
  std::optional<int64_t> stamp_at(uint64_t position) const;
  // The guard's side of the node (node_guard.cc).
  GuardSample guard_sample();
  void feed_sample(GuardSample& g);  // the feed producers down, read on the applier
  void etcd_size_sample(GuardSample& g);  // etcd's database against its quota
  uint64_t guard_samples_ = 0;  // the guard thread's
  std::string out_of_rotation() const;
  class Actuator;
  // The files for etcd's TLS endpoints, when the log is etcds://.
  std::optional<tls::ClientFiles> etcd_tls() const {
    if (options_.log_url.rfind("etcds://", 0) != 0) return std::nullopt;
    return options_.etcd_tls;
  }
  std::unique_ptr<GuardActuator> make_guard_actuator();

  NodeOptions options_;
  ops::Registry& metrics_;
  std::unique_ptr<log::Log> log_;
  log::etcd::EtcdLog* etcd_ = nullptr;  // log_, in cluster mode
  std::unique_ptr<ClusterMember> cluster_;
  std::unique_ptr<SnapshotStore> snapshots_;
  std::unique_ptr<ArchiveWatch> archive_watch_;  // embedded mode only
  mutable std::mutex snapshot_files_mu_;  // writes to snapshots_ (writer thread, bootstrap)
  Waiters waiters_;
  EventJournal journal_;
  std::unique_ptr<Applier> applier_;
  std::unique_ptr<Submitter> submitter_;
  std::atomic<bool> started_{false};
  std::atomic<bool> fetch_cancelled_{false};  // set by stop()

  // One pending snapshot at a time; a checkpoint that finds the writer busy
  // replaces the pending one (the newer state is what matters).
  std::mutex snap_mu_;
  std::condition_variable snap_cv_;
  uint64_t snap_index_ = 0;       // guarded by snap_mu_
  std::string snap_encoded_;      // guarded by snap_mu_
  bool snap_stopping_ = false;    // guarded by snap_mu_
  std::thread snap_thread_;

  // Cluster mode: linearizable reads wait for one quorum read of the log head
  // made after they arrived; reads arriving together share it.
  struct HeadWaiter {
    uint64_t min_index;
    ReadFn fn;
  };
  std::mutex head_mu_;
  std::condition_variable head_cv_;
  std::vector<HeadWaiter> head_waiters_;  // guarded by head_mu_
  bool head_stopping_ = false;            // guarded by head_mu_
  std::thread head_thread_;

  std::unique_ptr<GuardActuator> actuator_;
  std::unique_ptr<Guard> guard_;
  mutable std::mutex rotation_mu_;
  std::string out_of_rotation_;  // guarded by rotation_mu_; non-empty: draining

  ops::Counter& snapshots_written_;
  ops::Counter& snapshot_failures_;
  ops::Histogram& snapshot_seconds_;
  std::vector<ops::Registration> callbacks_;
};

}  // namespace betcore::node
