#include "node/node.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "codec/snapshot.h"
#include "log/file/file_log.h"

namespace betcore::node {

Node::Node(NodeOptions options, ops::Registry& metrics)
    : options_(std::move(options)),
      metrics_(metrics),
      journal_(options_.journal_bytes_max),
      snapshots_written_(metrics.counter("betcore_snapshots_written_total", "Snapshots written")),
      snapshot_failures_(metrics.counter("betcore_snapshot_failures_total", "Snapshots that failed to write")),
      snapshot_seconds_(metrics.histogram("betcore_snapshot_write_seconds",
                                          "Time to compress and write one snapshot durably")) {}

Node::~Node() { stop(); }

std::unique_ptr<Node> Node::open(NodeOptions options, ops::Registry& metrics, EventRenderer renderer,
                                 std::string& error) {
  std::unique_ptr<Node> node(new Node(std::move(options), metrics));
  const NodeOptions& o = node->options_;

  node->snapshots_ = std::make_unique<SnapshotStore>(o.data_dir + "/snapshots", o.snapshots_kept);
  if (!node->snapshots_->init(error)) return nullptr;
  // The log first: its recovery may cut its tail, and a snapshot past the
  // recovered head must not be loaded (it holds batches the log lost).
  log::FileLog::Options lo;
  lo.truncate_corrupt_tail = o.truncate_corrupt_tail;
  auto opened = log::FileLog::open(o.data_dir + "/log", lo);
  if (!opened.ok()) {
    error = "cannot open the log in " + o.data_dir + "/log: " + opened.error().message;
    return nullptr;
  }
  node->log_ = std::move(opened.value());
  auto recovered_head = node->log_->head();
  if (!recovered_head.ok()) {
    error = "cannot read the log head: " + recovered_head.error().message;
    return nullptr;
  }

  LoadedSnapshot snap = node->snapshots_->load_latest(recovered_head.value().value);
  for (const std::string& p : snap.problems) spdlog::error("snapshot skipped: {}", p);
  if (snap.state) {
    spdlog::info("loaded snapshot {} at index {}", snap.path, snap.index);
  }

  ApplierOptions ao;
  ao.node_id = o.node_id;
  ao.checkpoint_every_commands = o.checkpoint_every_commands;
  ao.full_ledger_check = o.full_ledger_check;
  node->applier_ = std::make_unique<Applier>(ao, *node->log_, node->waiters_, metrics,
                                             std::move(snap.state));

  // Checkpoints crossed during the replay are snapshotted too (the writer
  // thread picks up the newest once the node starts).
  node->applier_->set_checkpoint_sink([n = node.get()](uint64_t index, std::string encoded) {
    std::lock_guard lock(n->snap_mu_);
    n->snap_index_ = index;
    n->snap_encoded_ = std::move(encoded);
    n->snap_cv_.notify_one();
  });
  node->journal_.set_first_covered(node->applier_->applied() + 1);
  if (renderer) node->applier_->set_event_journal(&node->journal_, std::move(renderer));

  auto t0 = std::chrono::steady_clock::now();
  uint64_t replayed = node->applier_->replay();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto head = node->log_->head();
  if (!head.ok()) {
    error = "cannot read the log head: " + head.error().message;
    return nullptr;
  }
  if (node->applier_->applied() < head.value().value) {
    error = "the log has a gap after index " + std::to_string(node->applier_->applied()) +
            " (head " + std::to_string(head.value().value) +
            "): its start was compacted past the newest usable snapshot. Restore the data "
            "directory from a backup, or restore a snapshot into " + o.data_dir + "/snapshots";
    return nullptr;
  }
  spdlog::info("replayed {} commands up to index {} in {:.3f} s ({:.0f} commands/s)", replayed,
               node->applier_->applied(), secs, secs > 0 ? replayed / secs : 0.0);


  SubmitterOptions so;
  so.node_id = o.node_id;
  so.queue_commands_max = o.queue_commands_max;
  so.batch_commands_max = o.batch_commands_max;
  node->submitter_ = std::make_unique<Submitter>(so, *node->log_, node->waiters_, metrics);

  Node* n = node.get();
  node->callbacks_.push_back(metrics.gauge_callback(
      "betcore_applied_index", "The last log position this node applied", {},
      [n] { return static_cast<double>(n->applier_->applied()); }));
  node->callbacks_.push_back(metrics.gauge_callback(
      "betcore_submit_queue_commands", "Commands waiting in the submit queue", {},
      [n] { return static_cast<double>(n->submitter_->queued()); }));
  node->callbacks_.push_back(metrics.gauge_callback(
      "betcore_waiting_requests", "Write requests waiting for their command to apply", {},
      [n] { return static_cast<double>(n->waiters_.size()); }));
  return node;
}

void Node::start() {
  snap_thread_ = std::thread([this] { snapshot_loop(); });
  applier_->start();
  submitter_->start();
  started_.store(true);
}

void Node::stop() {
  if (!started_.exchange(false)) return;
  submitter_->stop();
  log_->close();
  applier_->stop();
  {
    std::lock_guard lock(snap_mu_);
    snap_stopping_ = true;
  }
  snap_cv_.notify_all();
  if (snap_thread_.joinable()) snap_thread_.join();
}

void Node::snapshot_loop() {
  for (;;) {
    uint64_t index;
    std::string encoded;
    {
      std::unique_lock lock(snap_mu_);
      snap_cv_.wait(lock, [&] { return snap_stopping_ || !snap_encoded_.empty(); });
      if (snap_encoded_.empty()) return;
      index = snap_index_;
      encoded.swap(snap_encoded_);
    }
    auto t0 = std::chrono::steady_clock::now();
    std::string sealed = codec::seal_snapshot(encoded, index);
    std::string error;
    if (sealed.empty() || !snapshots_->write(index, sealed, error)) {
      snapshot_failures_.inc();
      spdlog::error("snapshot at index {} failed: {}", index, sealed.empty() ? "compression failed" : error);
      continue;
    }
    snapshot_seconds_.observe(std::chrono::steady_clock::now() - t0);
    snapshots_written_.inc();
    // Everything at or below the oldest kept snapshot is no longer needed to
    // restart. (Point-in-time restore will keep an archive; see docs.)
    std::vector<uint64_t> kept = snapshots_->list();
    if (!kept.empty()) log_->compact(log::Position{kept.front() + 1});
    spdlog::info("snapshot at index {} written ({} bytes)", index, sealed.size());
  }
}

SubmitStatus Node::submit(std::string encoded, WriteDone done) {
  return submitter_->submit(std::move(encoded), std::move(done));
}

void Node::read(Consistency consistency, uint64_t min_index, ReadFn fn) {
  uint64_t required = min_index;
  if (consistency == Consistency::linearizable) {
    auto head = log_->head();
    if (!head.ok()) {
      fn(nullptr);
      return;
    }
    required = std::max(required, head.value().value);
  }
  applier_->read(required, options_.read_timeout_ms, std::move(fn));
}

NodeStatus Node::status() const {
  NodeStatus s;
  s.applied_index = applier_->applied();
  auto head = log_->head();
  s.log_head = head.ok() ? head.value().value : 0;
  s.checkpoint = applier_->last_checkpoint();
  s.queued = submitter_->queued();
  if (!started_.load()) {
    s.not_ready_reason = "starting";
  } else if (!submitter_->healthy()) {
    s.not_ready_reason = submitter_->failure();
  } else if (!head.ok()) {
    s.not_ready_reason = "log unreachable: " + head.error().message;
  } else {
    s.ready = true;
  }
  return s;
}

}  // namespace betcore::node
