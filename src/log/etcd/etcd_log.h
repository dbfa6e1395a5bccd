// The etcd backend of the log port (cluster mode).
//
// Keys (docs/cluster.md): a batch is one Put of /betcore/<cluster>/log/<node>
// (or, for a node that keeps more than one append in flight, of its lane key
// /betcore/<cluster>/log/<node>/<lane>, each lane a compare-and-put chain);
// the revision of that put is the batch's position, plus the cluster's base
// offset: 0, or for a cluster loaded by `betcore restore --etcd` the restored
// position minus the revision of its /betcore/<cluster>/base key, so the
// positions of a restored cluster go on from the archive's (docs/backup.md).
// Positions at or below the base are not in etcd: read() answers compacted
// (the node then loads a peer's snapshot). Every node watches the
// prefix /betcore/<cluster>/log/ from the position after its last applied
// batch. A broken watch reconnects to the next member and resumes from the
// position after the last batch it delivered: no gap, nothing twice. A watch
// on a member that lost its leader is cancelled by etcd (we ask with the
// "hasleader" metadata); one that goes quiet is probed with a progress request
// and replaced when it does not answer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log/etcd/etcd_client.h"
#include "log/log.h"

namespace betcore::log::etcd {

struct EtcdLogOptions {
  std::string node_id;
  std::string cluster = "betcore";
  int append_timeout_ms = 8'000;          // no answer by then: outcome_unknown
  int append_attempt_timeout_ms = 500;    // one compare-and-put; then another (etcd_log.cc)
  int append_retry_timeout_ms = 250;      // each attempt after a failed one
  // Appends this node may keep in flight at once, each on its own key (a
  // lane): while one put waits for its quorum, the next batch goes out.
  size_t append_lanes = 1;
  int head_timeout_ms = 2'000;      // per member, for the quorum read of the head
  size_t buffer_bytes_max = 64u << 20;  // batches read ahead of the applier
  int progress_after_ms = 500;      // a quiet watch is asked for progress after this
  int stuck_after_ms = 3'000;       // ... and replaced if it does not answer by then
  // A watch that delivered nothing this long, while the quorum's log head
  // has been past it for behind_grace_ms, is replaced: its member is cut off
  // or paused (found by betcore drill). A put of this node's answered by
  // another member shows the head at once; a healthy member delivers a
  // committed put within milliseconds (commit_to_applied p99 under 50 ms on a
  // saturated 2-core cluster), so the grace spares a watch about to deliver.
  int behind_quorum_after_ms = 500;
  int behind_grace_ms = 150;
};

// Key layout of one cluster.
struct Keys {
  explicit Keys(const std::string& cluster) : root("/betcore/" + cluster + "/") {}
  std::string root;
  std::string log_prefix() const { return root + "log/"; }
  std::string log_key(const std::string& node) const { return log_prefix() + node; }
  // Lane 0 is the node's own key; lane i > 0 is <node>/<i> (node ids hold no
  // '/': node_command.cc).
  std::string log_key(const std::string& node, size_t lane) const {
    return lane == 0 ? log_key(node) : log_key(node) + "/" + std::to_string(lane);
  }
  std::string nodes_prefix() const { return root + "nodes/"; }
  std::string node_key(const std::string& node) const { return nodes_prefix() + node; }
  // An archiver's claim on the log (betcore backup run --etcd; docs/backup.md).
  std::string holds_prefix() const { return root + "holds/"; }
  std::string hold_key(const std::string& name) const { return holds_prefix() + name; }
  // Written once by `betcore restore --etcd` on a fresh cluster: the restored
  // position (BaseRecord); never rewritten, its mod_revision fixes the offset.
  std::string base_key() const { return root + "base"; }
};

// The value at Keys::base_key().
struct BaseRecord {
  uint64_t position = 0;   // the restored state's log position
  std::string digest;      // its state digest
  int64_t time_ms = 0;     // the time of its last batch
  std::string restored_from;  // the archive, for people
  std::string to_json() const;
  static bool parse(const std::string& text, BaseRecord& out, std::string& error);
};

class EtcdLog final : public Log {
 public:
  EtcdLog(std::shared_ptr<Client> client, EtcdLogOptions options);
  ~EtcdLog() override;

  Result<Position> append(std::string_view batch) override { return append_on(0, batch); }
  size_t append_lanes() const override { return lanes_.size(); }
  // Thread: one caller per lane at a time.
  Result<Position> append_on(size_t lane, std::string_view batch) override;
  Result<std::vector<Entry>> read(Position from, size_t entries_max, size_t bytes_max,
                                  int wait_ms) override;
  // The position of the newest batch: the largest mod_revision under the log
  // prefix, from a linearizable (quorum) range.
  Result<Position> head() override;
  // Records what this node still needs; the cluster member publishes it and
  // the cluster compacts below what every live node needs (cluster_member.h).
  Result<Ok> compact(Position before) override;
  void close() override;
  bool append_failure_is_permanent(Errc) const override { return false; }

  // The etcd revision of a position, and back (the base offset; loaded by
  // the first head(), append() or read()). revision_of answers 0 for a
  // position at or below the base.
  int64_t revision_of(Position p) const;
  Position position_of(int64_t revision) const;
  Position landed(Position at);  // raises quorum_head_ to `at`
  // The restored position of a cluster loaded by `betcore restore --etcd`
  // (0: the log starts at 1). Valid once any call above succeeded.
  uint64_t base_position() const { return base_position_.load(); }
  // Whether the base was read (revision_of and position_of hold only then).
  bool base_known() const { return base_known_.load(); }
  // The whole base record (position 0: none); the same validity.
  const BaseRecord& base() const { return base_; }

  uint64_t needed_from() const { return needed_from_.load(); }
  uint64_t watch_reconnects() const { return reconnects_.load(); }
  // The highest etcd Raft term head() has seen: each step up is an election.
  uint64_t raft_term() const { return raft_term_.load(); }
  bool watch_connected() const { return connected_.load(); }
  Client& client() { return *client_; }
  // Moves this log's calls and its watch off the member at `endpoint` (host:
  // port), found slow: the client's current endpoint moves on, and a watch
  // through it reconnects through the next member. False when neither used it.
  bool leave_member(const std::string& endpoint);
  const Keys& keys() const { return keys_; }

 private:
  struct Session;
  void stop_session(std::unique_ptr<Session> s);
  void restart_watch(std::unique_lock<std::mutex>& lock, uint64_t from);
  void watch_loop(Session* s);
  void keeper_loop(Session* s);
  // Reads the base key once (etcd unreachable: the error, and again next call).
  Result<Ok> load_base(int timeout_ms);

  std::shared_ptr<Client> client_;
  const EtcdLogOptions options_;
  const Keys keys_;
  // One compare-and-put chain per lane; each lane is used by one submitter
  // thread at a time.
  struct Lane {
    std::string key;
    int64_t last_rev = 0;         // mod_revision of the key after this lane's last batch
    bool last_rev_known = false;
  };
  std::vector<Lane> lanes_;

  std::mutex mu_;
  std::condition_variable cv_;          // buffer changes, errors, close
  std::deque<Entry> buffer_;            // guarded by mu_
  size_t buffered_bytes_ = 0;           // guarded by mu_
  uint64_t expected_ = 0;               // guarded by mu_: the next `from` read() expects
  std::unique_ptr<Error> error_;        // guarded by mu_: e.g. compacted (sticky per session)
  bool closed_ = false;                 // guarded by mu_
  std::unique_ptr<Session> session_;    // guarded by mu_ (replaced by the reader only)

  std::mutex base_mu_;                     // one base read at a time
  std::atomic<bool> base_known_{false};
  BaseRecord base_;                        // written once, before base_known_
  std::atomic<int64_t> offset_{0};         // position = revision + offset_
  std::atomic<uint64_t> base_position_{0};

  std::atomic<uint64_t> needed_from_{1};
  std::atomic<uint64_t> quorum_head_{0};  // the newest head() answer or answered put
  std::atomic<uint64_t> watch_next_{0};   // the next position the watch will deliver
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> raft_term_{0};
  std::atomic<bool> connected_{false};
};

}  // namespace betcore::log::etcd
