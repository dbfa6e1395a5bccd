// The nodes under test and what they stand on: the simulated disk, the shared
// log (cluster) or each node's file log (embedded), and every node's real
// parts wired together; their start, crash, restart and background work
// (nodes.cc), and how a node answers a client's request (node_requests.cc).
//
// NOTE: start() wires the applier and the submitter by hand instead of
// calling Node::open, so the start-up rules live twice (STYLE.md). Moving to
// Node::open would change every seed's trace; it is a change of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "domain/state.h"
#include "log/log.h"
#include "node/applier.h"
#include "node/snapshot_store.h"
#include "node/submitter.h"
#include "node/waiters.h"
#include "ops/metrics.h"
#include "sim/messages.h"
#include "sim/recording_log.h"
#include "sim/run_context.h"
#include "sim/sim_disk.h"
#include "sim/sim_log.h"

namespace betcore::sim {

// A read waiting until the node has applied `required`.
struct PendingRead {
  uint64_t attempt;
  std::string account;
  uint64_t required;
  int64_t deadline;
};

// An answer the node has ready; sent at the end of its tick (flush).
struct Outgoing {
  uint64_t attempt;
  Answer answer;
};

struct SimNode {
  int number = 0;
  std::string id;
  std::string dir;
  NodeDisk* disk = nullptr;
  LogLink link;
  int64_t clock_offset_ms = 0;  // this node's clock minus true time
  int64_t response_drop_until = 0;
  bool skip_one_entry = false;         // sabotage (checker tests)
  bool truncate_corrupt_tail = false;  // the operator's flag for the next start

  bool up = false;
  uint64_t incarnation = 0;
  bool caught_up = false;
  uint64_t start_head = 0;
  int64_t down_since = 0;
  int start_failures = 0;

  // One incarnation's objects (destroyed in reverse order on a crash).
  std::unique_ptr<ops::Registry> metrics;
  std::unique_ptr<node::Waiters> waiters;
  std::unique_ptr<log::Log> inner;
  std::unique_ptr<RecordingLog> log;
  std::unique_ptr<node::SnapshotStore> store;
  std::unique_ptr<node::Applier> applier;
  std::unique_ptr<node::Submitter> submitter;

  int64_t next_append_at = 0;
  bool snapshot_pending = false;
  uint64_t snapshot_index = 0;
  std::string snapshot_encoded;
  std::vector<PendingRead> reads;
  std::vector<Outgoing> outbox;

  bool ready() const { return up && submitter->healthy() && caught_up; }
};

// Where the nodes' answers go (the clients).
using AnswerSink = std::function<void(uint64_t attempt, Answer answer)>;

class Nodes {
 public:
  explicit Nodes(RunContext& run) : run_(run), disk_(run.world), shared_(run.world) {
    history_.failures = &run.report.failures;
  }

  // Draws the topology (unless the config names one), then makes the nodes;
  // each draws its delivery delay.
  void build();
  void set_answer_sink(AnswerSink sink) { answer_sink_ = std::move(sink); }

  bool cluster() const { return topology_ == Topology::cluster; }
  size_t size() const { return nodes_.size(); }
  SimNode& at(size_t i) { return *nodes_[i]; }
  const std::vector<std::unique_ptr<SimNode>>& all() const { return nodes_; }
  SimDisk& disk() { return disk_; }
  SharedLog& shared_log() { return shared_; }
  const SharedLog& shared_log() const { return shared_; }
  const History& history() const { return history_; }

  // ---- life and death (nodes.cc) ----
  // Starts one incarnation; empty on success, else why it could not.
  std::string start(SimNode& n);
  void crash(SimNode& n, const std::string& why, bool restart);
  void schedule_restart(SimNode& n, int64_t delay_ms);
  void schedule_tick(SimNode& n);
  // The cluster member's compaction, every 100 ms until finish().
  void maintain();
  // Healed: a node left down by failed restarts comes back.
  void revive_long_down();
  // True when every node is up, caught up, at the head and idle; else why not.
  bool drained(std::string& why);
  // The run is over: no more power loss at a crash, no more compaction.
  void finish() { finished_ = true; }
  // Drops every node's objects (before the disk seam goes).
  void shut_down();
  // The state a node ends with, and its digest.
  const domain::State* final_state(SimNode& n, std::string& digest);
  // The last position answered durable at `t`: a read sent then must see it.
  uint64_t acked_head_at(int64_t t) const;

  // ---- requests (node_requests.cc) ----
  // A client's request reaches the node.
  void arrive(SimNode& n, uint64_t attempt, const Op& op);

 private:
  void restart(SimNode& m, uint64_t incarnation);
  void after_failed_start(SimNode& m, const std::string& error);
  void tick(SimNode& n, uint64_t incarnation);
  void on_checkpoint(SimNode& n, uint64_t index, const std::string& encoded);
  void write_snapshot(SimNode& n, uint64_t incarnation);
  std::unique_ptr<domain::State> bootstrap(SimNode& n, const log::Error& why);
  std::string open_log(SimNode& n);
  // requests
  void answer_reads(SimNode& n);
  void flush(SimNode& n);
  void respond(SimNode& n, uint64_t attempt, Answer a);
  void send_answer(uint64_t attempt, Answer a);
  int64_t node_now(const SimNode& n) const { return run_.world.now() + n.clock_offset_ms; }

  RunContext& run_;
  SimDisk disk_;
  SharedLog shared_;
  History history_;
  Topology topology_ = Topology::cluster;
  // Declared after disk_ and shared_: destroyed before them.
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::map<uint64_t, std::string> checkpoints_;  // index -> digest, across every node
  bool chain_refusal_reported_ = false;  // the first audit chain refusal is reported
  AnswerSink answer_sink_;
  bool finished_ = false;
};

}  // namespace betcore::sim
