// The nodes' life and death: building them, starting an incarnation on its
// log and snapshots, crashing it (with power loss), restarting it, and the
// background work of each tick (applier, submitter, snapshots, compaction).
#include "sim/nodes.h"

#include <algorithm>
#include <filesystem>

#include "codec/snapshot.h"
#include "log/file/file_log.h"
#include "log/file/posix_file.h"
#include "node/node.h"

namespace betcore::sim {
namespace fs = std::filesystem;

namespace {
constexpr uint64_t kCheckpointEvery = 150;  // commands between checkpoints
}  // namespace

void Nodes::build() {
  const SimConfig& config = run_.config;
  topology_ = config.topology;
  if (topology_ == Topology::automatic) {
    topology_ = run_.world.rng.chance(700) ? Topology::cluster : Topology::embedded;
  }
  run_.report.topology = topology_name(topology_);
  int node_count = cluster() ? 3 : 1;
  for (int i = 0; i < node_count; ++i) {
    auto n = std::make_unique<SimNode>();
    n->number = i + 1;
    n->id = "node-" + std::to_string(i + 1);
    n->dir = config.dir + "/" + n->id;
    fs::create_directories(n->dir);
    n->disk = &disk_.add(n->dir);
    n->link.delivery_delay_ms = run_.world.rng.between(0, 3);
    n->skip_one_entry = config.sabotage == "skip_entry" && i == node_count - 1;
    nodes_.push_back(std::move(n));
  }
}

// The shared log through this node's link (cluster), or its own file log.
std::string Nodes::open_log(SimNode& n) {
  if (cluster()) {
    n.inner = std::make_unique<SimLogView>(run_.world, shared_, n.link);
  } else {
    log::FileLog::Options lo;
    lo.segment_bytes_max = 16 * 1024;  // small segments: rolls and compaction happen
    lo.cache_bytes_max = 64 * 1024;    // small cache: reads go to disk too
    lo.truncate_corrupt_tail = n.truncate_corrupt_tail;
    auto opened = log::FileLog::open(n.dir + "/log", lo);
    if (!opened.ok()) return "cannot open the log: " + opened.error().message;
    n.inner = std::move(opened.value());
  }
  n.log = std::make_unique<RecordingLog>(*n.inner, history_, run_.world, &n.skip_one_entry);
  return {};
}

std::string Nodes::start(SimNode& n) {
  ++n.incarnation;
  n.caught_up = false;
  n.metrics = std::make_unique<ops::Registry>();
  n.waiters = std::make_unique<node::Waiters>();
  n.store = std::make_unique<node::SnapshotStore>(n.dir + "/snapshots", 2);
  std::string error;
  if (!n.store->init(error)) return error;
  if (error = open_log(n); !error.empty()) return error;
  auto head = n.log->head();
  if (!head.ok()) return "cannot read the log head: " + head.error().message;
  node::LoadedSnapshot snap = n.store->load_latest(head.value().value);
  for (const std::string& p : snap.problems) run_.fault("snapshot_set_aside", n.id + ": " + p);

  node::ApplierOptions ao;
  ao.node_id = n.id;
  ao.checkpoint_every_commands = kCheckpointEvery;
  ao.full_ledger_check = true;
  ao.pause = [](int) {};  // the simulation schedules the retries
  ao.replay_reader_thread = false;  // one thread: the run's report is not shared
  n.applier =
      std::make_unique<node::Applier>(ao, *n.log, *n.waiters, *n.metrics, std::move(snap.state));
  SimNode* np = &n;
  n.applier->set_checkpoint_sink(
      [this, np](uint64_t index, std::string encoded) { on_checkpoint(*np, index, encoded); });
  if (cluster()) {
    std::vector<uint64_t> kept = n.store->list();
    if (!kept.empty()) n.log->compact(log::Position{kept.front() + 1});
    n.applier->set_compacted_handler(
        [this, np](const log::Error& why) { return bootstrap(*np, why); });
    n.start_head = head.value().value;
  } else {
    n.applier->replay();
    if (n.applier->applied() < head.value().value) {
      return "the log has a gap after index " + std::to_string(n.applier->applied()) + " (head " +
             std::to_string(head.value().value) + ")";
    }
    n.start_head = 0;
  }
  n.caught_up = n.applier->applied() >= n.start_head;

  node::SubmitterOptions so;
  so.node_id = n.id;
  so.queue_commands_max = 512;
  so.batch_commands_max = 64;
  so.clock_ms = [this, np] { return node_now(*np); };
  // Audit anchors, as a node's submitter writes them: every replica checks
  // them, so the simulated cluster checks the chain under every fault.
  node::Applier* applier = n.applier.get();
  so.anchors = [applier](uint64_t after) { return applier->anchors_after(after); };
  n.submitter = std::make_unique<node::Submitter>(so, *n.log, *n.waiters, *n.metrics);
  n.up = true;
  n.next_append_at = run_.world.now();
  return {};
}

void Nodes::crash(SimNode& n, const std::string& why, bool restart) {
  if (!n.up) return;
  n.up = false;
  n.down_since = run_.world.now();
  // A crash: nothing is answered, nothing is flushed; the objects go.
  n.submitter.reset();
  n.applier.reset();
  n.log.reset();
  n.inner.reset();
  n.store.reset();
  n.waiters.reset();
  n.metrics.reset();
  n.reads.clear();
  n.outbox.clear();
  n.snapshot_pending = false;
  n.snapshot_encoded.clear();
  n.disk->crash_at_next_sync = false;
  n.disk->crashing = false;
  int torn = finished_ ? 0 : disk_.power_loss(*n.disk);
  if (torn > 0) {
    run_.fault("torn_write", n.id + ": " + std::to_string(torn) + " file(s) torn at the crash");
  }
  run_.note(n.id + " down (" + why + ")");
  if (restart) schedule_restart(n, run_.world.rng.between(5, 300));
}

void Nodes::schedule_restart(SimNode& n, int64_t delay_ms) {
  SimNode* np = &n;
  uint64_t inc = n.incarnation;
  run_.world.after(delay_ms, [this, np, inc] { restart(*np, inc); });
}

void Nodes::restart(SimNode& m, uint64_t incarnation) {
  if (m.up || m.incarnation != incarnation) return;
  std::string error = start(m);
  if (error.empty()) {
    m.start_failures = 0;
    m.truncate_corrupt_tail = false;  // for this one start only
    disk_.forget_flips(*m.disk);
    run_.note(m.id + " up at index " + std::to_string(m.applier->applied()));
    schedule_tick(m);
    return;
  }
  after_failed_start(m, error);
}

// What the operator does about a node that would not start, then try again.
void Nodes::after_failed_start(SimNode& m, const std::string& error) {
  int64_t now = run_.world.now();
  // Drop what the failed attempt built.
  m.up = true;
  crash(m, "start failed", false);
  ++m.start_failures;
  bool disk_trouble = now < m.disk->full_until || now < m.disk->write_errors_until ||
                      now < m.disk->sync_errors_until;
  bool log_trouble = now < m.link.partitioned_until || shared_.down();
  if (!m.disk->flipped.empty()) {
    // Detected, never applied: the operator restores the damaged file
    // from a backup and starts the node again.
    run_.fault("corruption_detected", m.id + " refused to start: " + error);
    disk_.repair_flips(*m.disk);
  } else if (error.find("--truncate-corrupt-tail") != std::string::npos &&
             !m.truncate_corrupt_tail) {
    // A complete last record with damage and nothing flipped: the power
    // loss zeroed the last sectors of a record whose append never
    // returned. The runbook's step: accept the loss of that one batch
    // (the checker proves it was never acknowledged).
    run_.fault("operator_truncated_tail", m.id + ": " + error.substr(0, 160));
    m.truncate_corrupt_tail = true;
  } else if (!disk_trouble && !log_trouble && m.start_failures > 3) {
    run_.fail(m.id + " cannot start with no fault active: " + error);
  }
  schedule_restart(m, 50);
}

void Nodes::schedule_tick(SimNode& n) {
  SimNode* np = &n;
  uint64_t inc = n.incarnation;
  run_.world.after(run_.world.rng.between(1, 3), [this, np, inc] { tick(*np, inc); });
}

void Nodes::tick(SimNode& n, uint64_t incarnation) {
  if (!n.up || n.incarnation != incarnation) return;
  // The applier: apply what the log delivered.
  for (int i = 0; i < 8 && n.up && n.applier->poll(); ++i) {
  }
  if (!n.caught_up && n.applier->applied() >= n.start_head) n.caught_up = true;
  // Honest replicas never disagree on the audit chain (docs/audit.md): a
  // refusal means one of them applied another history.
  if (n.applier->chain_refusals() > 0 && !chain_refusal_reported_) {
    chain_refusal_reported_ = true;
    run_.fail("replicas disagree on the audit chain: " + n.id + " refused a batch whose anchors "
              "disagree with its chain at index " + std::to_string(n.applier->applied()));
  }
  // The submitter: one append in flight at a time.
  if (n.up && run_.world.now() >= n.next_append_at && n.submitter->pump()) {
    n.next_append_at = run_.world.now() + run_.world.rng.between(1, 6);
  }
  answer_reads(n);
  if (n.disk->crashing) {
    run_.fault("crash_mid_io", n.id + " died in an fsync");
    crash(n, "crashed in the middle of an append or a snapshot", true);
    return;
  }
  if (!n.submitter->healthy() && n.up) {
    // The file log failed for good (an fsync failed): the supervisor restarts it.
    crash(n, "restarted by its supervisor: " + n.submitter->failure(), true);
    return;
  }
  flush(n);
  schedule_tick(n);
}

void Nodes::on_checkpoint(SimNode& n, uint64_t index, const std::string& encoded) {
  std::string digest = codec::digest_of_encoding(encoded);
  auto [it, inserted] = checkpoints_.emplace(index, digest);
  if (!inserted && it->second != digest) {
    run_.fail("replicas disagree at checkpoint " + std::to_string(index) + ": " + n.id +
              " has digest " + digest + ", another replica had " + it->second);
  }
  // The snapshot writer is a background thread in the node: modelled as an
  // event a little later (a crash before it loses the snapshot).
  bool already = n.snapshot_pending;
  n.snapshot_pending = true;
  n.snapshot_index = index;
  n.snapshot_encoded = encoded;
  if (!already) {
    SimNode* np = &n;
    uint64_t inc = n.incarnation;
    run_.world.after(run_.world.rng.between(1, 40), [this, np, inc] { write_snapshot(*np, inc); });
  }
}

void Nodes::write_snapshot(SimNode& n, uint64_t incarnation) {
  if (!n.up || n.incarnation != incarnation || !n.snapshot_pending) return;
  n.snapshot_pending = false;
  std::string sealed = codec::seal_snapshot(n.snapshot_encoded, n.snapshot_index);
  n.snapshot_encoded.clear();
  std::string error;
  if (n.store->write(n.snapshot_index, sealed, error)) {
    std::vector<uint64_t> kept = n.store->list();
    if (!kept.empty()) n.log->compact(log::Position{kept.front() + 1});
  }
  if (n.disk->crashing) {
    run_.fault("crash_mid_io", n.id + " died while writing a snapshot");
    crash(n, "crashed in the middle of a snapshot", true);
  }
}

std::unique_ptr<domain::State> Nodes::bootstrap(SimNode& n, const log::Error& why) {
  // The peers' records: their newest snapshot (a peer that is down does not
  // answer its HTTP endpoint).
  std::vector<node::PeerSnapshot> peers;
  for (auto& p : nodes_) {
    if (p.get() == &n || !p->up) continue;
    std::vector<uint64_t> kept = p->store->list();
    if (!kept.empty()) peers.push_back(node::PeerSnapshot{p->id, kept.back()});
  }
  // The peer's newest file, copied whole into the fetcher's file.
  node::FetchSnapshot fetch = [this](const node::SnapshotFetch& f, std::string& error) {
    for (auto& p : nodes_) {
      if (p->id == f.address && p->up) {
        std::string body;
        uint64_t index = 0;
        if (!p->store->read_newest(body, index, error)) return false;
        if (auto written = log::file::write_file_atomically(f.to_path, body); !written) {
          error = written.error().message;
          return false;
        }
        return true;
      }
    }
    error = "connection refused";
    return false;
  };
  auto state = node::bootstrap_from_peers(peers, n.applier->applied(), why.position, fetch,
                                          *n.store, *n.log);
  if (state) {
    run_.fault("bootstrap",
               n.id + " loaded a peer's snapshot at index " + std::to_string(state->applied.value));
    // The start head may be below the snapshot: it is caught up once past it.
  }
  return state;
}

void Nodes::maintain() {
  // The cluster member with the lowest id compacts the log below what every
  // live node still needs (a node down long enough has lost its lease).
  if (cluster() && !finished_) {
    uint64_t min_need = UINT64_MAX;
    for (auto& n : nodes_) {
      if (n->up && n->link.needs_from > 0) min_need = std::min(min_need, n->link.needs_from);
      if (n->up && n->link.needs_from == 0) min_need = 0;
    }
    if (min_need != UINT64_MAX && min_need > 0) shared_.compact_to(min_need);
  }
  if (!finished_) run_.world.after(100, [this] { maintain(); });
}

void Nodes::revive_long_down() {
  int64_t now = run_.world.now();
  for (auto& n : nodes_) {
    if (!n->up && now - n->down_since > 1'000) {
      disk_.repair_flips(*n->disk);
      n->down_since = now;
      schedule_restart(*n, 0);
    }
  }
}

bool Nodes::drained(std::string& why) {
  if (shared_.late_pending > 0) {
    why = std::to_string(shared_.late_pending) + " late commits still pending";
    return false;
  }
  uint64_t head = cluster() ? shared_.head() : 0;
  if (!cluster()) {
    if (!nodes_[0]->up) {
      why = "the node is down";
      return false;
    }
    auto h = nodes_[0]->log->head();
    head = h.ok() ? h.value().value : UINT64_MAX;
  }
  for (auto& n : nodes_) {
    if (!n->up || !n->caught_up) {
      why = n->id + " is not up and caught up";
      return false;
    }
    if (n->applier->applied() != head) {
      why = n->id + " applied " + std::to_string(n->applier->applied()) + " of " +
            std::to_string(head);
      return false;
    }
    if (n->submitter->queued() > 0 || n->snapshot_pending) {
      why = n->id + " still has work queued";
      return false;
    }
  }
  return true;
}

void Nodes::shut_down() {
  for (auto& n : nodes_) {
    n->up = true;
    crash(*n, "end of run", false);
  }
}

const domain::State* Nodes::final_state(SimNode& n, std::string& digest) {
  const domain::State* out = nullptr;
  n.applier->read(n.applier->applied(), 0, [&](const domain::State* s) { out = s; });
  if (out != nullptr) digest = codec::state_digest(*out);
  return out;
}

uint64_t Nodes::acked_head_at(int64_t t) const {
  return cluster() ? shared_.head_at(t) : history_.acked_head_at(t);
}

}  // namespace betcore::sim
