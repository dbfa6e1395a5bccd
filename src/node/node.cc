#include "node/node.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>

#include "codec/batch.h"
#include "codec/snapshot.h"
#include "log/etcd/etcd_log.h"
#include "log/file/file_log.h"
#include "ops/logging.h"
#include "ops/wall_clock.h"
#include "ops/request_stage.h"

namespace betcore::node {
using ops::wall_ms;


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
  node->waiters_.set_stage_histogram(&ops::request_stage(metrics, "commit_to_applied"));
  const NodeOptions& o = node->options_;
  node->options_.guard.incidents_path = o.data_dir + "/incidents.jsonl";
  node->options_.guard.reports_dir = o.data_dir + "/incidents";

  node->snapshots_ = std::make_unique<SnapshotStore>(o.data_dir + "/snapshots", o.snapshots_kept);
  if (!node->snapshots_->init(error)) return nullptr;
  // The log first: its recovery may cut its tail, and a snapshot past the
  // recovered head must not be loaded (it holds batches the log lost).
  if (o.log_url.empty()) {
    log::FileLog::Options lo;
    lo.truncate_corrupt_tail = o.truncate_corrupt_tail;
    auto opened = log::FileLog::open(o.data_dir + "/log", lo);
    if (!opened.ok()) {
      error = "cannot open the log in " + o.data_dir + "/log: " + opened.error().message;
      return nullptr;
    }
    node->log_ = std::move(opened.value());
    ArchiveWatchOptions ao = o.archive;
    ao.hold_path = o.data_dir + "/archive-hold";
    node->archive_watch_ = std::make_unique<ArchiveWatch>(ao);
  } else {
    log::etcd::Target target;
    if (!log::etcd::parse_target(o.log_url, target, error)) return nullptr;
    log::etcd::ClientOptions co{target.endpoints, 2'000};
    if (target.tls) co.tls = o.etcd_tls;
    auto client = std::make_shared<log::etcd::Client>(co);
    log::etcd::EtcdLogOptions lo;
    lo.node_id = o.node_id;
    lo.cluster = target.cluster;
    lo.append_lanes = o.append_lanes;
    auto etcd_log = std::make_unique<log::etcd::EtcdLog>(std::move(client), lo);
    node->etcd_ = etcd_log.get();
    node->log_ = std::move(etcd_log);
    spdlog::info("log: etcd cluster '{}' at {}", target.cluster, fmt::join(target.endpoints, ","));
  }
  auto say = [&o](const std::string& what) {
    if (o.progress) o.progress(what);
  };
  auto stopping = [&o] { return o.stop_requested != nullptr && o.stop_requested->load(); };
  say(node->etcd_ != nullptr ? "connecting to etcd" : "opened the log");
  auto recovered_head = node->log_->head();
  for (auto waited = std::chrono::steady_clock::now(); !recovered_head.ok() && node->etcd_ != nullptr;) {
    auto elapsed = std::chrono::steady_clock::now() - waited;
    if (elapsed > std::chrono::milliseconds(o.log_connect_timeout_ms)) break;
    // The same words each time, so the log folds the repeats (ops/logging.h).
    spdlog::warn("waiting for etcd: {}", recovered_head.error().message);
    say(fmt::format("waiting for etcd ({} s of {} s): {}",
                    std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(),
                    o.log_connect_timeout_ms / 1000, recovered_head.error().message));
    for (int i = 0; i < 10 && !stopping(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (stopping()) {
      error = "stopped while waiting for etcd";
      return nullptr;
    }
    recovered_head = node->log_->head();
  }
  if (!recovered_head.ok()) {
    error = "cannot read the log head: " + recovered_head.error().message +
            (node->etcd_ != nullptr ? "; check that a quorum of the etcd members is up and reachable"
                                    : "");
    return nullptr;
  }

  // An empty file log beside snapshots: the log directory was lost or
  // replaced. Starting would set every snapshot aside and serve an empty
  // book, taking writes.
  if (node->etcd_ == nullptr && recovered_head.value().value == 0) {
    std::vector<uint64_t> kept = node->snapshots_->list();
    if (!kept.empty()) {
      error = "the log in " + o.data_dir + "/log is empty, but " + o.data_dir +
              "/snapshots holds snapshots up to index " + std::to_string(kept.back()) +
              ": the log was lost or replaced, and starting would serve an empty book. Restore the "
              "data directory (log and snapshots together) from a backup "
              "(docs/runbooks/restore-wiped-node.md)";
      return nullptr;
    }
  }
  LoadedSnapshot snap = node->snapshots_->load_latest(recovered_head.value().value);
  for (const std::string& p : snap.problems) spdlog::error("snapshot skipped: {}", p);
  if (snap.state) {
    spdlog::info("loaded snapshot {} at index {}", snap.path, snap.index);
  }
  say(fmt::format("applying the log from index {} to {}", snap.state ? snap.index + 1 : 1,
                  recovered_head.value().value));

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
  uint64_t replayed = 0;
  if (node->etcd_ == nullptr) {
    const uint64_t to = recovered_head.value().value;
    replayed = node->applier_->replay(stopping, [&] {
      say(fmt::format("replaying the log: applied index {} of {}", node->applier_->applied(), to));
    });
    if (stopping()) {
      error = fmt::format("stopped while replaying the log, at index {} of {}", node->applier_->applied(), to);
      return nullptr;
    }
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
  } else {
    // Cluster: the snapshots it keeps tell the cluster what it still needs;
    // a position compacted away makes it bootstrap from a peer's snapshot.
    std::vector<uint64_t> kept = node->snapshots_->list();
    if (!kept.empty()) node->log_->compact(log::Position{kept.front() + 1});
    Node* n = node.get();
    node->applier_->set_compacted_handler([n](const log::Error& why) { return n->bootstrap(why); });
    uint64_t target = recovered_head.value().value;
    spdlog::info("catching up from index {} to the log head {}", node->applier_->applied(), target);
    node->applier_->catch_up(target, INT32_MAX, [n, target, &say] {
      spdlog::info("catching up: applied index {} of {}", n->applier_->applied(), target);
      say(fmt::format("catching up: applied index {} of {}", n->applier_->applied(), target));
    }, stopping);
    if (stopping()) {
      error = fmt::format("stopped while catching up, at index {} of {}", node->applier_->applied(), target);
      return nullptr;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (node->etcd_ == nullptr) {
    ops::log(spdlog::level::info,
             fmt::format("replayed {} commands up to index {} in {:.3f} s ({:.0f} commands/s)", replayed,
                         node->applier_->applied(), secs, secs > 0 ? replayed / secs : 0.0),
             {{"event", "replayed"}, {"commands", replayed}, {"applied_index", node->applier_->applied()},
              {"ms", static_cast<int64_t>(secs * 1000)}});
  } else {
    ops::log(spdlog::level::info, fmt::format("caught up to index {} in {:.3f} s", node->applier_->applied(), secs),
             {{"event", "caught_up"}, {"applied_index", node->applier_->applied()},
              {"ms", static_cast<int64_t>(secs * 1000)}});
  }

  SubmitterOptions so;
  so.node_id = o.node_id;
  so.queue_commands_max = o.queue_commands_max;
  so.batch_commands_max = o.batch_commands_max;
  so.batch_linger_us = o.batch_linger_us;
  so.batch_linger_commands = o.batch_linger_commands;
  Applier* applier = node->applier_.get();
  so.anchors = [applier](uint64_t after) { return applier->anchors_after(after); };
  node->submitter_ = std::make_unique<Submitter>(so, *node->log_, node->waiters_, metrics);

  Node* n = node.get();
  node->callbacks_.push_back(metrics.gauge_callback(
      "betcore_applied_index", "The last log position this node applied", {},
      [n] { return static_cast<double>(n->applier_->applied()); }));
  node->callbacks_.push_back(metrics.gauge_callback(
      "betcore_log_head_index",
      "The last log position committed, as this node last read it (head - applied: the lag)", {},
      [n] { return static_cast<double>(n->status().log_head); }));
  // The data directory's file system: a rule predicts when it fills
  // (deploy/prometheus/betcore.rules.yml, BetcoreDiskFillPredicted).
  const std::string data_dir = o.data_dir;
  node->callbacks_.push_back(
      metrics.gauge_callback("betcore_data_filesystem_avail_bytes",
                             "Bytes free to this node on the file system of its data directory", {},
                             [data_dir] { return filesystem_bytes(data_dir, false); }));
  node->callbacks_.push_back(metrics.gauge_callback(
      "betcore_data_filesystem_size_bytes", "Size of the file system of the data directory", {},
      [data_dir] { return filesystem_bytes(data_dir, true); }));
  node->callbacks_.push_back(metrics.gauge_callback(
      "betcore_submit_queue_limit_commands",
      "The submit queue's bound in force (the guard may lower it under a surge)", {},
      [n] { return static_cast<double>(n->submitter_->queue_limit()); }));
  node->callbacks_.push_back(metrics.gauge_callback(
      "betcore_submit_queue_commands", "Commands waiting in the submit queue", {},
      [n] { return static_cast<double>(n->submitter_->queued()); }));
  if (node->archive_watch_) {
    // The archive as this node sees it (docs/backup.md, "Metrics").
    auto lags = [n] {
      return n->archive_watch_->lags(wall_ms(), n->applier_->applied(),
                                     [n](uint64_t p) { return n->stamp_at(p); });
    };
    node->callbacks_.push_back(metrics.gauge_callback(
        "betcore_archive_position", "The last log position the archiver reported archived", {},
        [lags] { return static_cast<double>(lags().archived); }));
    node->callbacks_.push_back(metrics.gauge_callback(
        "betcore_archive_lag_seconds",
        "Age of the oldest applied batch the archiver has not archived (0: none; the RPO at risk)", {},
        [lags] { return lags().archive_lag_seconds; }));
    node->callbacks_.push_back(metrics.gauge_callback(
        "betcore_archive_remote_lag_seconds",
        "Age of the oldest applied batch the archive's remote copy has not confirmed", {},
        [lags] { return lags().remote_lag_seconds; }));
    node->callbacks_.push_back(metrics.gauge_callback(
        "betcore_archive_report_age_seconds", "Seconds since the archiver last read the log", {},
        [lags] { return lags().report_age_seconds; }));
  }
  node->callbacks_.push_back(metrics.gauge_callback(
      "betcore_waiting_requests", "Write requests waiting for their command to apply", {},
      [n] { return static_cast<double>(n->waiters_.size()); }));
  return node;
}

void Node::start() {
  // Before the cluster member: its record reads the guard's latency.
  if (options_.guard.sample_ms > 0) {
    actuator_ = make_guard_actuator();
    guard_ = std::make_unique<Guard>(options_.guard, options_.node_id, *actuator_, metrics_);
  }
  snap_thread_ = std::thread([this] { snapshot_loop(); });
  applier_->start();
  submitter_->start();
  if (etcd_ != nullptr) {
    ClusterMemberOptions co;
    co.node_id = options_.node_id;
    co.address = options_.advertise_address;
    co.defrag_free_bytes_min = options_.etcd_defrag_min_free_bytes;
    ClusterMemberSources src;
    src.applied = [this] { return applier_->applied(); };
    src.checkpoints = [this] { return applier_->recent_checkpoints(); };
    src.snapshot_index = [this] {
      std::vector<uint64_t> kept = snapshots_->list();
      return kept.empty() ? uint64_t{0} : kept.back();
    };
    src.local_problem = [this] {
      return submitter_->healthy() ? out_of_rotation() : submitter_->failure();
    };
    src.append_latency_s = [this] {
      return guard_ ? guard_->recent_append_latency_s() : std::numeric_limits<double>::quiet_NaN();
    };
    cluster_ = std::make_unique<ClusterMember>(co, *etcd_, std::move(src), metrics_);
    cluster_->start();
    head_thread_ = std::thread([this] { head_loop(); });
  }
  if (guard_) guard_->start([this] { return guard_sample(); });
  started_.store(true);
}

void Node::stop() {
  fetch_cancelled_.store(true);  // a bootstrap's fetch on the applier thread gives up at once
  if (!started_.exchange(false)) return;
  if (guard_) guard_->stop();
  if (cluster_) cluster_->stop();
  {
    std::lock_guard lock(head_mu_);
    head_stopping_ = true;
  }
  head_cv_.notify_all();
  if (head_thread_.joinable()) head_thread_.join();
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
    std::unique_lock files(snapshot_files_mu_);
    if (sealed.empty() || !snapshots_->write(index, sealed, error)) {
      snapshot_failures_.inc();
      spdlog::error("snapshot at index {} failed: {}", index, sealed.empty() ? "compression failed" : error);
      continue;
    }
    snapshot_seconds_.observe(std::chrono::steady_clock::now() - t0);
    snapshots_written_.inc();
    compact_below_snapshots();
    spdlog::info("snapshot at index {} written ({} bytes)", index, sealed.size());
  }
}

SubmitStatus Node::submit(std::string encoded, WriteDone done, codec::Actor actor) {
  if (cluster_ && cluster_->divergent()) return SubmitStatus::unavailable;
  return submitter_->submit(std::move(encoded), std::move(done), std::move(actor));
}

SubmitStatus Node::submit_all(std::vector<std::string> encoded, std::vector<WriteDone> done,
                              const codec::Actor& actor) {
  if (cluster_ && cluster_->divergent()) return SubmitStatus::unavailable;
  return submitter_->submit_all(std::move(encoded), std::move(done), actor);
}

void Node::read(Consistency consistency, uint64_t min_index, ReadFn fn) {
  uint64_t required = min_index;
  if (consistency == Consistency::linearizable && etcd_ != nullptr) {
    {
      std::lock_guard lock(head_mu_);
      if (!head_stopping_) {
        head_waiters_.push_back(HeadWaiter{min_index, std::move(fn)});
        head_cv_.notify_one();
        return;
      }
    }
    fn(nullptr);
    return;
  }
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

void Node::head_loop() {
  std::vector<HeadWaiter> taken;
  for (;;) {
    {
      std::unique_lock lock(head_mu_);
      head_cv_.wait(lock, [&] { return head_stopping_ || !head_waiters_.empty(); });
      taken.swap(head_waiters_);
      if (head_stopping_) {
        lock.unlock();
        for (HeadWaiter& w : taken) w.fn(nullptr);
        return;
      }
    }
    // Read after every waiter in `taken` arrived: its revision covers every
    // write acknowledged before any of them.
    auto head = log_->head();
    for (HeadWaiter& w : taken) {
      if (!head.ok()) {
        w.fn(nullptr);
      } else {
        applier_->read(std::max(w.min_index, head.value().value), options_.read_timeout_ms,
                       std::move(w.fn));
      }
    }
    taken.clear();
  }
}

NodeStatus Node::status() const {
  NodeStatus s;
  s.applied_index = applier_->applied();
  s.cluster = etcd_ != nullptr;
  // Cluster mode: the head sampled by the cluster member (a quorum read every
  // tick), so a health check never waits on etcd.
  auto head = cluster_ ? cluster_->last_head() : log_->head();
  s.log_head = std::max(s.applied_index, head.ok() ? head.value().value : 0);
  s.checkpoint = applier_->last_checkpoint();
  s.queued = submitter_->queued();
  applier_->chain_head(s.chain_position, s.chain);
  if (!started_.load()) {
    s.not_ready_reason = "starting";
  } else if (!submitter_->healthy()) {
    s.not_ready_reason = submitter_->failure();
  } else if (!head.ok()) {
    s.not_ready_reason = "log unreachable: " + head.error().message;
  } else if (std::string why = cluster_ ? cluster_->not_ready_reason() : ""; !why.empty()) {
    s.not_ready_reason = why;
  } else if (std::string out = out_of_rotation(); !out.empty() && !options_.haproxy_agent) {
    // Without an agent check, a drain is a failed readiness check.
    s.not_ready_reason = out;
  } else {
    s.ready = true;
  }
  return s;
}

ClusterView Node::cluster_view() const {
  ClusterView v;
  v.backend = etcd_ != nullptr ? "etcd" : "file";
  if (etcd_ == nullptr) return v;
  if (cluster_) v.nodes = cluster_->peers();
  auto members = etcd_->client().members();
  if (members.ok()) {
    v.members = std::move(members.value());
  } else {
    v.members_error = members.error().message;
  }
  return v;
}

void Node::compact_below_snapshots() {
  // Everything at or below the oldest kept snapshot is no longer needed to
  // restart; the archiver may still need some of it (its hold).
  std::vector<uint64_t> kept = snapshots_->list();
  if (kept.empty()) return;
  uint64_t before = kept.front() + 1;
  if (archive_watch_) {
    if (std::optional<uint64_t> held = archive_watch_->hold(wall_ms())) before = std::min(before, *held);
  }
  log_->compact(log::Position{before});
}

std::optional<int64_t> Node::stamp_at(uint64_t position) const {
  auto got = log_->read(log::Position{position}, 1, 1, 0);
  if (!got.ok() || got.value().empty() || got.value().front().position.value != position) return std::nullopt;
  codec::DecodedBatch b = codec::decode_batch(got.value().front().batch);
  if (b.error != codec::BatchError::none) return std::nullopt;
  return b.header.stamped_ms;
}

log::Result<std::vector<log::Entry>> Node::read_log_for_archive(const ArchiveReport& report,
                                                                size_t bytes_max, int wait_ms) {
  if (!archive_watch_) {
    return log::Error{log::Errc::invalid_argument,
                      "this node's log is an etcd cluster: run `betcore backup run --etcd ...` "
                      "against etcd instead of a node"};
  }
  archive_watch_->report(report, wall_ms());
  return log_->read(log::Position{report.from}, 4'096, bytes_max, wait_ms);
}

std::vector<ArchiveAlert> Node::archive_alerts() const {
  if (cluster_) return hold_alerts(cluster_->holds(), options_.archive, wall_ms());
  if (!archive_watch_) return {};
  return archive_watch_->alerts(wall_ms(), applier_->applied(),
                                [this](uint64_t p) { return stamp_at(p); });
}

std::vector<std::string> Node::alerts() const {
  return cluster_ ? cluster_->alerts() : std::vector<std::string>{};
}

bool Node::newest_snapshot(std::string& bytes, uint64_t& index, std::string& error) const {
  std::lock_guard files(snapshot_files_mu_);
  return snapshots_->read_newest(bytes, index, error);
}

std::unique_ptr<domain::State> Node::bootstrap(const log::Error& why) {
  if (!options_.fetch_snapshot) {
    spdlog::error("cannot bootstrap ({}): no way to fetch a peer's snapshot", why.message);
    return nullptr;
  }
  // The peers (read directly: this node may not be registered yet, and its
  // cluster member may not run).
  auto peers = read_peer_records(*etcd_);
  if (!peers.ok()) {
    spdlog::error("bootstrap: cannot list the peers: {}", peers.error().message);
    return nullptr;
  }
  std::vector<PeerSnapshot> offered;
  for (const PeerRecord& p : peers.value()) {
    if (p.id != options_.node_id) offered.push_back(PeerSnapshot{p.address, p.snapshot_index});
  }
  // The store is locked only to keep the fetched snapshot, never across the
  // fetch (minutes at worst): the snapshot writer and GET /v1/snapshot go on.
  BootstrapHooks hooks;
  hooks.progress = options_.progress;
  hooks.cancelled = [this] {
    return fetch_cancelled_.load() ||
           (options_.stop_requested != nullptr && options_.stop_requested->load());
  };
  return bootstrap_from_peers(offered, applier_->applied(), why.position, options_.fetch_snapshot,
                              *snapshots_, *log_, &snapshot_files_mu_, hooks);
}

}  // namespace betcore::node
