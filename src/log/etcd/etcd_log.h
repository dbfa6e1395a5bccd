// The etcd backend of the log port (cluster mode).
//
// Keys (docs/cluster.md): a batch is one Put of /betcore/<cluster>/log/<node>;
// the revision of that put is the batch's position. Every node watches the
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

#include "log/etcd/etcd_client.h"
#include "log/log.h"

namespace betcore::log::etcd {

struct EtcdLogOptions {
  std::string node_id;
  std::string cluster = "betcore";
  int append_timeout_ms = 8'000;          // no answer by then: outcome_unknown
  int append_attempt_timeout_ms = 500;    // one compare-and-put; then another (etcd_log.cc)
  int head_timeout_ms = 2'000;      // per member, for the quorum read of the head
  size_t buffer_bytes_max = 64u << 20;  // batches read ahead of the applier
  int progress_after_ms = 500;      // a quiet watch is asked for progress after this
  int stuck_after_ms = 3'000;       // ... and replaced if it does not answer by then
  // A watch that delivered nothing this long while the quorum's log head is
  // past it is replaced (its member is cut off; found by betcore drill).
  int behind_quorum_after_ms = 1'000;
};

// Key layout of one cluster.
struct Keys {
  explicit Keys(const std::string& cluster) : root("/betcore/" + cluster + "/") {}
  std::string root;
  std::string log_prefix() const { return root + "log/"; }
  std::string log_key(const std::string& node) const { return log_prefix() + node; }
  std::string nodes_prefix() const { return root + "nodes/"; }
  std::string node_key(const std::string& node) const { return nodes_prefix() + node; }
  // An archiver's claim on the log (betcore backup run --etcd; docs/backup.md).
  std::string holds_prefix() const { return root + "holds/"; }
  std::string hold_key(const std::string& name) const { return holds_prefix() + name; }
};

class EtcdLog final : public Log {
 public:
  EtcdLog(std::shared_ptr<Client> client, EtcdLogOptions options);
  ~EtcdLog() override;

  Result<Position> append(std::string_view batch) override;
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

  uint64_t needed_from() const { return needed_from_.load(); }
  uint64_t watch_reconnects() const { return reconnects_.load(); }
  bool watch_connected() const { return connected_.load(); }
  Client& client() { return *client_; }
  const Keys& keys() const { return keys_; }

 private:
  struct Session;
  void stop_session(std::unique_ptr<Session> s);
  void restart_watch(std::unique_lock<std::mutex>& lock, uint64_t from);
  void watch_loop(Session* s);
  void keeper_loop(Session* s);

  std::shared_ptr<Client> client_;
  const EtcdLogOptions options_;
  const Keys keys_;
  const std::string my_key_;
  int64_t last_rev_ = 0;         // submitter thread: mod_revision of my key after my last batch
  bool last_rev_known_ = false;  // submitter thread

  std::mutex mu_;
  std::condition_variable cv_;          // buffer changes, errors, close
  std::deque<Entry> buffer_;            // guarded by mu_
  size_t buffered_bytes_ = 0;           // guarded by mu_
  uint64_t expected_ = 0;               // guarded by mu_: the next `from` read() expects
  std::unique_ptr<Error> error_;        // guarded by mu_: e.g. compacted (sticky per session)
  bool closed_ = false;                 // guarded by mu_
  std::unique_ptr<Session> session_;    // guarded by mu_ (replaced by the reader only)

  std::atomic<uint64_t> needed_from_{1};
  std::atomic<uint64_t> quorum_head_{0};  // the newest head() answer
  std::atomic<uint64_t> watch_next_{0};   // the next position the watch will deliver
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<bool> connected_{false};
};

}  // namespace betcore::log::etcd
