#include "sim/simulation.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>

#include "codec/batch.h"
#include "codec/command_codec.h"
#include "codec/snapshot.h"
#include "domain/ledger.h"
#include "domain/state.h"
#include "log/file/file_log.h"
#include "node/applier.h"
#include "node/node.h"
#include "node/snapshot_store.h"
#include "node/submitter.h"
#include "node/waiters.h"
#include "ops/metrics.h"
#include "sim/history_check.h"
#include "sim/model.h"
#include "sim/sim_disk.h"
#include "sim/sim_log.h"
#include "sim/world.h"

namespace betcore::sim {
namespace fs = std::filesystem;
using domain::Code;

const char* topology_name(Topology t) {
  switch (t) {
    case Topology::cluster: return "cluster";
    case Topology::embedded: return "embedded";
    default: return "automatic";
  }
}

namespace {

constexpr int64_t kStartMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr uint64_t kCheckpointEvery = 150;       // commands between checkpoints
constexpr int64_t kClientTimeoutMs = 400;
constexpr int64_t kReadTimeoutMs = 300;
constexpr int64_t kDrainLimitMs = 120'000;       // healed runs must converge within this

// ---- what travels between clients and nodes --------------------------------------

enum class AnswerKind {
  applied,      // a write's definite answer: code, duplicate, count, index
  read,         // a read's answer: found, balance, index
  refused,      // connection refused: the node is down
  unavailable,  // 503
  overloaded,   // 429
  unknown,      // 504 outcome_unknown
  read_timeout, // 504 on a read
};

const char* answer_kind_name(AnswerKind k) {
  switch (k) {
    case AnswerKind::applied: return "applied";
    case AnswerKind::read: return "read";
    case AnswerKind::refused: return "connection_refused";
    case AnswerKind::unavailable: return "503_unavailable";
    case AnswerKind::overloaded: return "429_overloaded";
    case AnswerKind::unknown: return "504_outcome_unknown";
    case AnswerKind::read_timeout: return "504_read_timeout";
  }
  return "?";
}

struct Answer {
  AnswerKind kind = AnswerKind::refused;
  Code code = Code::ok;
  bool duplicate = false;
  uint32_t count = 0;
  uint64_t index = 0;
  bool found = false;
  int64_t balance = 0;
};

enum class OpKind { write, read };

struct Op {
  OpKind kind = OpKind::write;
  int client = 0;
  std::string what;            // for a person: "bet b12 on m3"
  std::string encoded;         // writes: the encoded command (its identity)
  domain::Command command;     // writes
  std::string account;         // reads
  int64_t first_sent = -1;
  int64_t answered_at = -1;
  uint64_t attempt = 0;        // the attempt in flight
  uint32_t tries = 0;
  bool done = false;
  Answer answer;               // the definite one
  uint64_t head_at_send = 0;   // reads: the last acknowledged position when sent
};

// ---- the full committed history, as nodes read it ---------------------------------

struct History {
  std::map<uint64_t, std::string> entries;  // position -> batch
  std::vector<std::pair<int64_t, uint64_t>> acked;  // (time, position): appends answered durable
  std::vector<std::string>* failures = nullptr;

  void record(uint64_t position, const std::string& batch) {
    auto [it, inserted] = entries.emplace(position, batch);
    if (!inserted && it->second != batch && failures != nullptr && failures->size() < 20) {
      failures->push_back("the log entry at position " + std::to_string(position) +
                          " changed after a node had read (and applied) it");
    }
  }
  uint64_t acked_head_at(int64_t t) const {
    uint64_t best = 0;
    for (const auto& [at, pos] : acked) {
      if (at > t) break;
      best = std::max(best, pos);
    }
    return best;
  }
};

// Passes every call to the node's log and records what was durably appended
// and what was read, for the checker.
class RecordingLog final : public log::Log {
 public:
  RecordingLog(log::Log& inner, History& history, World& world, bool* skip_one_entry)
      : inner_(inner), history_(history), world_(world), skip_one_entry_(skip_one_entry) {}
  log::Result<log::Position> append(std::string_view batch) override {
    auto r = inner_.append(batch);
    if (r.ok()) history_.acked.emplace_back(world_.now(), r.value().value);
    return r;
  }
  log::Result<std::vector<log::Entry>> read(log::Position from, size_t entries_max, size_t bytes_max,
                                            int wait_ms) override {
    auto r = inner_.read(from, entries_max, bytes_max, wait_ms);
    if (r.ok() && *skip_one_entry_ && r.value().size() >= 2 && r.value()[0].position.value > 40) {
      // Sabotage (checker tests): this node never sees one entry.
      *skip_one_entry_ = false;
      r.value().erase(r.value().begin());
    }
    if (r.ok()) {
      for (const log::Entry& e : r.value()) history_.record(e.position.value, e.batch);
    }
    return r;
  }
  log::Result<log::Position> head() override { return inner_.head(); }
  log::Result<log::Ok> compact(log::Position before) override { return inner_.compact(before); }
  void close() override { inner_.close(); }
  bool append_failure_is_permanent(log::Errc code) const override {
    return inner_.append_failure_is_permanent(code);
  }

 private:
  log::Log& inner_;
  History& history_;
  World& world_;
  bool* skip_one_entry_;
};

// ---- a node ----------------------------------------------------------------------

struct PendingRead {
  uint64_t attempt;
  std::string account;
  uint64_t required;
  int64_t deadline;
};

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
  int64_t clock_offset_ms = 0;   // this node's clock minus true time
  int64_t response_drop_until = 0;
  bool skip_one_entry = false;   // sabotage (checker tests)
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

// ---- clients ---------------------------------------------------------------------

enum class Role { punter, trader, payments };

struct MarketView {
  std::string id;
  std::vector<std::string> selections;
  std::vector<int64_t> odds;
  int status = 0;  // 0 open, 1 suspended, 2 closed, 3 settled (as this client last heard)
  std::vector<domain::LegResult> results;
};

struct Client {
  int number = 0;
  Role role = Role::punter;
  std::vector<std::string> accounts;
  bool idle = true;
  int setup_step = 0;
};

// ---- the simulation --------------------------------------------------------------

class Simulation {
 public:
  explicit Simulation(const SimConfig& config)
      : config_(config), world_(config.seed, kStartMs), disk_(world_), shared_(world_) {
    report_.seed = config.seed;
    history_.failures = &report_.failures;
  }

  SimReport run();

 private:
  // setup and topology
  void build();
  // nodes
  std::string start_node(SimNode& n);
  void crash_node(SimNode& n, const std::string& why, bool restart);
  void schedule_restart(SimNode& n, int64_t delay);
  void schedule_tick(SimNode& n);
  void tick(SimNode& n, uint64_t incarnation);
  void write_snapshot(SimNode& n, uint64_t incarnation);
  void flush(SimNode& n);
  void on_checkpoint(SimNode& n, uint64_t index, const std::string& encoded);
  std::unique_ptr<domain::State> bootstrap(SimNode& n, const log::Error& why);
  void arrive(SimNode& n, uint64_t attempt);
  void maintain();
  // clients
  void next_op(Client& c);
  void issue(Client& c, Op op);
  void send(size_t op_index);
  void answer(uint64_t attempt, Answer a);
  void respond(SimNode& n, uint64_t attempt, Answer a);
  Op write_op(int client, std::string what, domain::Command command);
  void punter_op(Client& c);
  void trader_op(Client& c);
  void payments_op(Client& c);
  // faults
  void nemesis();
  void inject();
  void fault(const std::string& kind, const std::string& detail);
  // the end
  void heal();
  bool converged(std::string& why);
  void check();
  const domain::State* final_state(SimNode& n, std::string& digest);

  int64_t net() { return world_.rng.between(0, 3); }
  int64_t node_now(const SimNode& n) const { return world_.now() + n.clock_offset_ms; }
  bool cluster() const { return topology_ == Topology::cluster; }
  bool workload_done() const { return issued_ >= config_.ops; }

  SimConfig config_;
  World world_;
  SimDisk disk_;
  SharedLog shared_;
  History history_;
  SimReport report_;
  Topology topology_ = Topology::cluster;

  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<Client> clients_;
  std::deque<Op> ops_;                       // every operation, in the order issued
  std::map<uint64_t, size_t> attempts_;      // attempt -> index in ops_
  uint64_t attempt_seq_ = 0;
  uint64_t issued_ = 0;
  uint64_t id_seq_ = 0;
  std::vector<MarketView> markets_;          // as the trader created them
  std::deque<std::pair<std::string, std::string>> withdrawals_;  // (id, account) to complete
  std::map<uint64_t, std::string> checkpoints_;  // index -> digest, across every node
  bool healed_ = false;
  int64_t healed_at_ = 0;
  bool finished_ = false;
};

// ---- building the world ----------------------------------------------------------

void Simulation::build() {
  topology_ = config_.topology;
  if (topology_ == Topology::automatic) {
    topology_ = world_.rng.chance(700) ? Topology::cluster : Topology::embedded;
  }
  report_.topology = topology_name(topology_);
  int node_count = cluster() ? 3 : 1;
  for (int i = 0; i < node_count; ++i) {
    auto n = std::make_unique<SimNode>();
    n->number = i + 1;
    n->id = "node-" + std::to_string(i + 1);
    n->dir = config_.dir + "/" + n->id;
    fs::create_directories(n->dir);
    n->disk = &disk_.add(n->dir);
    n->link.delivery_delay_ms = world_.rng.between(0, 3);
    n->skip_one_entry = config_.sabotage == "skip_entry" && i == node_count - 1;
    nodes_.push_back(std::move(n));
  }
  // Punters own accounts; one trader runs the markets; one payments client
  // completes or fails withdrawals.
  int punters = 6;
  for (int i = 0; i < punters + 2; ++i) {
    Client c;
    c.number = i;
    c.role = i < punters ? Role::punter : (i == punters ? Role::trader : Role::payments);
    if (c.role == Role::punter) {
      for (int a = 0; a < 4; ++a) c.accounts.push_back("a" + std::to_string(i) + "-" + std::to_string(a));
    }
    clients_.push_back(std::move(c));
  }
}

// ---- nodes -----------------------------------------------------------------------

std::string Simulation::start_node(SimNode& n) {
  ++n.incarnation;
  n.caught_up = false;
  n.metrics = std::make_unique<ops::Registry>();
  n.waiters = std::make_unique<node::Waiters>();
  n.store = std::make_unique<node::SnapshotStore>(n.dir + "/snapshots", 2);
  std::string error;
  if (!n.store->init(error)) return error;
  if (cluster()) {
    n.inner = std::make_unique<SimLogView>(world_, shared_, n.link);
  } else {
    log::FileLog::Options lo;
    lo.segment_bytes_max = 16 * 1024;  // small segments: rolls and compaction happen
    lo.cache_bytes_max = 64 * 1024;    // small cache: reads go to disk too
    lo.truncate_corrupt_tail = n.truncate_corrupt_tail;
    auto opened = log::FileLog::open(n.dir + "/log", lo);
    if (!opened.ok()) return "cannot open the log: " + opened.error().message;
    n.inner = std::move(opened.value());
  }
  n.log = std::make_unique<RecordingLog>(*n.inner, history_, world_, &n.skip_one_entry);
  auto head = n.log->head();
  if (!head.ok()) return "cannot read the log head: " + head.error().message;
  node::LoadedSnapshot snap = n.store->load_latest(head.value().value);
  for (const std::string& p : snap.problems) fault("snapshot_set_aside", n.id + ": " + p);

  node::ApplierOptions ao;
  ao.node_id = n.id;
  ao.checkpoint_every_commands = kCheckpointEvery;
  ao.full_ledger_check = true;
  ao.pause = [](int) {};  // the simulation schedules the retries
  n.applier = std::make_unique<node::Applier>(ao, *n.log, *n.waiters, *n.metrics, std::move(snap.state));
  SimNode* np = &n;
  n.applier->set_checkpoint_sink([this, np](uint64_t index, std::string encoded) {
    on_checkpoint(*np, index, encoded);
  });
  if (cluster()) {
    std::vector<uint64_t> kept = n.store->list();
    if (!kept.empty()) n.log->compact(log::Position{kept.front() + 1});
    n.applier->set_compacted_handler([this, np](const log::Error& why) { return bootstrap(*np, why); });
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
  n.submitter = std::make_unique<node::Submitter>(so, *n.log, *n.waiters, *n.metrics);
  n.up = true;
  n.next_append_at = world_.now();
  return {};
}

void Simulation::crash_node(SimNode& n, const std::string& why, bool restart) {
  if (!n.up) return;
  n.up = false;
  n.down_since = world_.now();
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
  if (torn > 0) fault("torn_write", n.id + ": " + std::to_string(torn) + " file(s) torn at the crash");
  if (config_.verbose) report_.timeline.push_back(std::to_string(world_.elapsed()) + " ms: " + n.id + " down (" + why + ")");
  if (restart) schedule_restart(n, world_.rng.between(5, 300));
}

void Simulation::schedule_restart(SimNode& n, int64_t delay) {
  SimNode* np = &n;
  uint64_t inc = n.incarnation;
  world_.after(delay, [this, np, inc] {
    SimNode& m = *np;
    if (m.up || m.incarnation != inc) return;
    std::string error = start_node(m);
    if (error.empty()) {
      m.start_failures = 0;
      m.truncate_corrupt_tail = false;  // for this one start only
      disk_.forget_flips(*m.disk);
      if (config_.verbose) {
        report_.timeline.push_back(std::to_string(world_.elapsed()) + " ms: " + m.id + " up at index " +
                                   std::to_string(m.applier->applied()));
      }
      schedule_tick(m);
      return;
    }
    // Could not start: drop what the failed attempt built.
    m.up = true;
    crash_node(m, "start failed", false);
    ++m.start_failures;
    bool disk_trouble = world_.now() < m.disk->full_until || world_.now() < m.disk->write_errors_until ||
                        world_.now() < m.disk->sync_errors_until;
    bool log_trouble = world_.now() < m.link.partitioned_until || shared_.down();
    if (!m.disk->flipped.empty()) {
      // Detected, never applied: the operator restores the damaged file
      // from a backup and starts the node again.
      fault("corruption_detected", m.id + " refused to start: " + error);
      disk_.repair_flips(*m.disk);
    } else if (error.find("--truncate-corrupt-tail") != std::string::npos && !m.truncate_corrupt_tail) {
      // A complete last record with damage and nothing flipped: the power
      // loss zeroed the last sectors of a record whose append never
      // returned. The runbook's step: accept the loss of that one batch
      // (the checker proves it was never acknowledged).
      fault("operator_truncated_tail", m.id + ": " + error.substr(0, 160));
      m.truncate_corrupt_tail = true;
    } else if (!disk_trouble && !log_trouble && m.start_failures > 3) {
      if (report_.failures.size() < 20) {
        report_.failures.push_back(m.id + " cannot start with no fault active: " + error);
      }
    }
    schedule_restart(m, 50);
  });
}

void Simulation::schedule_tick(SimNode& n) {
  SimNode* np = &n;
  uint64_t inc = n.incarnation;
  world_.after(world_.rng.between(1, 3), [this, np, inc] { tick(*np, inc); });
}

void Simulation::tick(SimNode& n, uint64_t incarnation) {
  if (!n.up || n.incarnation != incarnation) return;
  // The applier: apply what the log delivered.
  for (int i = 0; i < 8 && n.up && n.applier->poll(); ++i) {
  }
  if (!n.caught_up && n.applier->applied() >= n.start_head) n.caught_up = true;
  // The submitter: one append in flight at a time.
  if (n.up && world_.now() >= n.next_append_at && n.submitter->pump()) {
    n.next_append_at = world_.now() + world_.rng.between(1, 6);
  }
  // Reads that waited for a position.
  if (n.up && !n.reads.empty()) {
    std::vector<PendingRead> waiting;
    for (PendingRead& r : n.reads) {
      if (n.applier->applied() >= r.required) {
        Answer a;
        a.kind = AnswerKind::read;
        n.applier->read(r.required, 0, [&](const domain::State* s) {
          a.index = s->applied.value;
          domain::AccountIdx idx = s->account_ids.find(r.account);
          a.found = idx.valid();
          if (a.found) a.balance = s->accounts[idx.value].balance.minor;
        });
        n.outbox.push_back(Outgoing{r.attempt, a});
      } else if (world_.now() >= r.deadline) {
        n.outbox.push_back(Outgoing{r.attempt, Answer{AnswerKind::read_timeout}});
      } else {
        waiting.push_back(r);
      }
    }
    n.reads.swap(waiting);
  }
  if (n.disk->crashing) {
    fault("crash_mid_io", n.id + " died in an fsync");
    crash_node(n, "crashed in the middle of an append or a snapshot", true);
    return;
  }
  if (!n.submitter->healthy() && n.up) {
    // The file log failed for good (an fsync failed): the supervisor restarts it.
    crash_node(n, "restarted by its supervisor: " + n.submitter->failure(), true);
    return;
  }
  flush(n);
  schedule_tick(n);
}

void Simulation::on_checkpoint(SimNode& n, uint64_t index, const std::string& encoded) {
  std::string digest = codec::digest_of_encoding(encoded);
  auto [it, inserted] = checkpoints_.emplace(index, digest);
  if (!inserted && it->second != digest && report_.failures.size() < 20) {
    report_.failures.push_back("replicas disagree at checkpoint " + std::to_string(index) + ": " + n.id +
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
    world_.after(world_.rng.between(1, 40), [this, np, inc] { write_snapshot(*np, inc); });
  }
}

void Simulation::write_snapshot(SimNode& n, uint64_t incarnation) {
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
    fault("crash_mid_io", n.id + " died while writing a snapshot");
    crash_node(n, "crashed in the middle of a snapshot", true);
  }
}

std::unique_ptr<domain::State> Simulation::bootstrap(SimNode& n, const log::Error& why) {
  // The peers' records: their newest snapshot (a peer that is down does not
  // answer its HTTP endpoint).
  std::vector<node::PeerSnapshot> peers;
  for (auto& p : nodes_) {
    if (p.get() == &n || !p->up) continue;
    std::vector<uint64_t> kept = p->store->list();
    if (!kept.empty()) peers.push_back(node::PeerSnapshot{p->id, kept.back()});
  }
  node::FetchSnapshot fetch = [this](const std::string& address, std::string& body, std::string& error) {
    for (auto& p : nodes_) {
      if (p->id == address && p->up) {
        uint64_t index = 0;
        return p->store->read_newest(body, index, error);
      }
    }
    error = "connection refused";
    return false;
  };
  auto state = node::bootstrap_from_peers(peers, n.applier->applied(), why.position, fetch, *n.store, *n.log);
  if (state) {
    fault("bootstrap", n.id + " loaded a peer's snapshot at index " + std::to_string(state->applied.value));
    // The start head may be below the snapshot: it is caught up once past it.
  }
  return state;
}

void Simulation::flush(SimNode& n) {
  if (n.outbox.empty()) return;
  // Callbacks ran in hash-map order in places (orphaned waiters): answer in
  // attempt order so the run stays the same for a seed.
  std::vector<Outgoing> out;
  out.swap(n.outbox);
  std::sort(out.begin(), out.end(), [](const Outgoing& a, const Outgoing& b) { return a.attempt < b.attempt; });
  for (Outgoing& o : out) respond(n, o.attempt, o.answer);
}

void Simulation::respond(SimNode& n, uint64_t attempt, Answer a) {
  if (world_.now() < n.response_drop_until && world_.rng.chance(700)) return;  // lost: the client times out
  world_.after(net(), [this, attempt, a] { answer(attempt, a); });
}

void Simulation::arrive(SimNode& n, uint64_t attempt) {
  auto it = attempts_.find(attempt);
  if (it == attempts_.end()) return;
  Op& op = ops_[it->second];
  if (!n.up) {
    world_.after(net(), [this, attempt] { answer(attempt, Answer{AnswerKind::refused}); });
    return;
  }
  if (!n.ready()) {
    respond(n, attempt, Answer{AnswerKind::unavailable});
    return;
  }
  if (op.kind == OpKind::read) {
    auto head = n.log->head();
    if (!head.ok()) {
      respond(n, attempt, Answer{AnswerKind::unavailable});
      return;
    }
    uint64_t required = config_.sabotage == "stale_reads" ? 0 : head.value().value;
    n.reads.push_back(PendingRead{attempt, op.account, required, world_.now() + kReadTimeoutMs});
    return;
  }
  SimNode* np = &n;
  bool ack_unknown = config_.sabotage == "ack_unknown";
  node::SubmitStatus st = n.submitter->submit(op.encoded, [np, attempt, ack_unknown](const node::WriteResult& r) {
    Answer a;
    switch (r.kind) {
      case node::WriteResult::Kind::applied:
        a.kind = AnswerKind::applied;
        a.code = r.outcome->code;
        a.duplicate = r.outcome->duplicate;
        a.count = r.outcome->count;
        a.index = r.index;
        break;
      case node::WriteResult::Kind::outcome_unknown:
        a.kind = ack_unknown ? AnswerKind::applied : AnswerKind::unknown;  // sabotage: claims success
        break;
      case node::WriteResult::Kind::unavailable: a.kind = AnswerKind::unavailable; break;
    }
    np->outbox.push_back(Outgoing{attempt, a});
  });
  if (st == node::SubmitStatus::overloaded) respond(n, attempt, Answer{AnswerKind::overloaded});
  if (st == node::SubmitStatus::unavailable) respond(n, attempt, Answer{AnswerKind::unavailable});
}

void Simulation::maintain() {
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
  if (!finished_) world_.after(100, [this] { maintain(); });
}

// ---- clients ---------------------------------------------------------------------

Op Simulation::write_op(int client, std::string what, domain::Command command) {
  Op op;
  op.kind = OpKind::write;
  op.client = client;
  op.what = std::move(what);
  codec::encode_command(command, op.encoded);
  op.command = std::move(command);
  return op;
}

void Simulation::issue(Client& c, Op op) {
  c.idle = false;
  ++issued_;
  ops_.push_back(std::move(op));
  send(ops_.size() - 1);
}

void Simulation::send(size_t index) {
  Op& op = ops_[index];
  uint64_t attempt = ++attempt_seq_;
  op.attempt = attempt;
  ++op.tries;
  if (op.first_sent < 0) {
    op.first_sent = world_.now();
    op.head_at_send = cluster() ? shared_.head_at(world_.now()) : history_.acked_head_at(world_.now());
  }
  attempts_[attempt] = index;
  // Behind a load balancer: any node, the one that failed included.
  SimNode* n = nodes_[world_.rng.below(nodes_.size())].get();
  world_.after(net(), [this, n, attempt] { arrive(*n, attempt); });
  world_.after(kClientTimeoutMs + world_.rng.between(0, 100), [this, attempt, index] {
    Op& o = ops_[index];
    if (o.done || o.attempt != attempt) return;
    ++report_.client_errors["client_timeout"];
    attempts_.erase(attempt);
    send(index);
  });
}

void Simulation::answer(uint64_t attempt, Answer a) {
  auto it = attempts_.find(attempt);
  if (it == attempts_.end()) return;  // a late answer to an attempt given up
  size_t index = it->second;
  Op& op = ops_[index];
  if (op.done || op.attempt != attempt) return;
  world_.trace(attempt * 31 + static_cast<uint64_t>(a.kind));
  if (a.kind == AnswerKind::applied || a.kind == AnswerKind::read) {
    attempts_.erase(it);
    op.done = true;
    op.answered_at = world_.now();
    op.answer = a;
    Client& c = clients_[static_cast<size_t>(op.client)];
    // What the workload learns from the answer.
    if (a.kind == AnswerKind::applied && a.code == Code::ok) {
      ++report_.writes_acknowledged;
      if (auto* w = std::get_if<domain::RequestWithdrawal>(&op.command)) {
        withdrawals_.emplace_back(w->withdrawal_id, w->account_id);
      }
    }
    c.idle = true;
    Client* cp = &c;
    world_.after(world_.rng.between(0, 8), [this, cp] { next_op(*cp); });
    return;
  }
  // Indefinite: retry with the same id, after a jittered backoff, on any node.
  ++report_.client_errors[answer_kind_name(a.kind)];
  attempts_.erase(it);
  int64_t backoff = std::min<int64_t>(200, 5 << std::min<uint32_t>(op.tries, 5));
  world_.after(world_.rng.between(backoff / 2, backoff), [this, index] { send(index); });
}

void Simulation::next_op(Client& c) {
  if (workload_done()) {
    c.idle = true;
    return;
  }
  switch (c.role) {
    case Role::punter: punter_op(c); break;
    case Role::trader: trader_op(c); break;
    case Role::payments: payments_op(c); break;
  }
}

void Simulation::punter_op(Client& c) {
  auto& rng = world_.rng;
  if (c.setup_step < static_cast<int>(c.accounts.size())) {
    const std::string& a = c.accounts[static_cast<size_t>(c.setup_step++)];
    issue(c, write_op(c.number, "create account " + a, domain::CreateAccount{a, "EUR", domain::Amount{0}}));
    return;
  }
  const std::string& account = c.accounts[rng.below(c.accounts.size())];
  uint64_t roll = rng.below(100);
  std::string id = std::to_string(++id_seq_);
  if (roll < 22) {
    issue(c, write_op(c.number, "deposit d" + id,
                      domain::Deposit{"d" + id, account, domain::Amount{rng.between(100, 10'000)}}));
  } else if (roll < 62 && !markets_.empty()) {
    const MarketView& m = markets_[rng.below(markets_.size())];
    size_t sel = rng.below(m.selections.size());
    domain::PlaceBet bet;
    bet.bet_id = "b" + id;
    bet.account_id = account;
    bet.stake = domain::Amount{rng.between(1, 3'000)};
    bet.legs.push_back(domain::LegSpec{m.id, m.selections[sel], domain::Odds{m.odds[sel]}});
    issue(c, write_op(c.number, "bet b" + id + " on " + m.id, std::move(bet)));
  } else if (roll < 72) {
    issue(c, write_op(c.number, "withdrawal w" + id,
                      domain::RequestWithdrawal{"w" + id, account, domain::Amount{rng.between(1, 4'000)}}));
  } else {
    Op op;
    op.kind = OpKind::read;
    op.client = c.number;
    op.what = "read " + account;
    op.account = account;
    issue(c, std::move(op));
  }
}

void Simulation::trader_op(Client& c) {
  auto& rng = world_.rng;
  if (c.setup_step == 0) {
    ++c.setup_step;
    issue(c, write_op(c.number, "create event e0", domain::CreateEvent{"e0", "Final", domain::TimeMs{kStartMs}}));
    return;
  }
  int open = 0;
  for (const MarketView& m : markets_) open += m.status < 2 ? 1 : 0;
  uint64_t roll = rng.below(100);
  if (open < 3 || roll < 15) {
    MarketView m;
    m.id = "m" + std::to_string(markets_.size());
    domain::CreateMarket cm;
    cm.market_id = m.id;
    cm.event_id = "e0";
    cm.name = "Market " + m.id;
    size_t n = 2 + rng.below(2);
    for (size_t i = 0; i < n; ++i) {
      std::string sid = "s" + std::to_string(i);
      int64_t odds = rng.between(1'100, 6'000);
      cm.selections.push_back(domain::SelectionSpec{sid, "Runner " + sid, domain::Odds{odds}});
      m.selections.push_back(sid);
      m.odds.push_back(odds);
    }
    markets_.push_back(m);
    issue(c, write_op(c.number, "create market " + m.id, std::move(cm)));
    return;
  }
  MarketView& m = markets_[rng.below(markets_.size())];
  std::string tag = std::to_string(++id_seq_);
  if (m.status == 3 || roll < 30) {
    // Settle, or resettle with other results.
    domain::SettleMarket s;
    s.market_id = m.id;
    s.resettle = m.status == 3;
    s.request_id = "r" + tag;  // a retry can never apply twice
    std::vector<domain::LegResult> results(m.selections.size(), domain::LegResult::lose);
    if (rng.chance(100)) {
      for (auto& r : results) r = domain::LegResult::void_;
    } else {
      results[rng.below(results.size())] = domain::LegResult::win;
    }
    if (s.resettle && results == m.results) results[0] = results[0] == domain::LegResult::win ? domain::LegResult::lose : domain::LegResult::win;
    for (size_t i = 0; i < results.size(); ++i) s.results.push_back(domain::ResultSpec{m.selections[i], results[i]});
    m.results = results;
    m.status = 3;
    issue(c, write_op(c.number, std::string(s.resettle ? "resettle " : "settle ") + m.id + " #" + tag, std::move(s)));
    return;
  }
  domain::ChangeMarketStatus cs;
  cs.market_id = m.id;
  cs.reason = "op " + tag;
  cs.request_id = "r" + tag;  // a late retry cannot undo a later change
  if (roll < 60) {
    cs.action = domain::MarketAction::suspend;
    if (m.status < 2) m.status = 1;
  } else if (roll < 90) {
    cs.action = domain::MarketAction::resume;
    if (m.status < 2) m.status = 0;
  } else {
    cs.action = domain::MarketAction::close;
    if (m.status < 3) m.status = 2;
  }
  issue(c, write_op(c.number, "market " + m.id + " action " + std::to_string(static_cast<int>(cs.action)) + " #" + tag,
                    std::move(cs)));
}

void Simulation::payments_op(Client& c) {
  if (withdrawals_.empty()) {
    Client* cp = &c;
    c.idle = true;
    world_.after(20, [this, cp] { next_op(*cp); });
    return;
  }
  auto [id, account] = withdrawals_.front();
  withdrawals_.pop_front();
  if (world_.rng.chance(750)) {
    issue(c, write_op(c.number, "complete " + id, domain::CompleteWithdrawal{id, "gw-" + id}));
  } else {
    issue(c, write_op(c.number, "fail " + id, domain::FailWithdrawal{id, "declined by the bank"}));
  }
}

// ---- faults ----------------------------------------------------------------------

void Simulation::fault(const std::string& kind, const std::string& detail) {
  ++report_.faults[kind];
  world_.trace(std::hash<std::string>{}(kind));
  if (config_.verbose) report_.timeline.push_back(std::to_string(world_.elapsed()) + " ms: " + kind + ": " + detail);
}

void Simulation::nemesis() {
  if (workload_done() || healed_) return;
  inject();
  world_.after(world_.rng.between(20, 160), [this] { nemesis(); });
}

void Simulation::inject() {
  auto& rng = world_.rng;
  SimNode& n = *nodes_[rng.below(nodes_.size())];
  int64_t now = world_.now();
  int64_t window = rng.between(20, 400);
  // Weights differ by topology: the embedded node has the file log on its
  // disk; cluster nodes have the shared log and its failures.
  std::vector<std::pair<std::string, int>> kinds = {
      {"crash", 14},         {"crash_at_next_fsync", 6}, {"disk_write_errors", 5}, {"disk_full", 5},
      {"fsync_errors", 4},   {"flip_snapshot_bit", 4},   {"clock_skew", 5},        {"clock_jump", 4},
      {"responses_lost", 6},
  };
  if (cluster()) {
    kinds.insert(kinds.end(), {{"append_fails", 6},
                               {"append_unknown_committed", 6},
                               {"append_commits_late", 6},
                               {"watch_breaks", 6},
                               {"slow_delivery", 4},
                               {"compaction_overtakes", 4},
                               {"partition_from_log", 4},
                               {"quorum_lost", 2}});
  } else {
    kinds.push_back({"flip_log_bit", 4});
  }
  int total = 0;
  for (auto& [k, w] : kinds) total += w;
  int pick = static_cast<int>(rng.below(static_cast<uint64_t>(total)));
  std::string kind;
  for (auto& [k, w] : kinds) {
    if (pick < w) {
      kind = k;
      break;
    }
    pick -= w;
  }
  std::string ms = std::to_string(window) + " ms";
  if (kind == "crash") {
    if (!n.up) return;
    fault(kind, n.id);
    crash_node(n, "killed", true);
  } else if (kind == "crash_at_next_fsync") {
    if (!n.up) return;
    n.disk->crash_at_next_sync = true;
    fault(kind, n.id + " will die in its next fsync");
  } else if (kind == "disk_write_errors") {
    n.disk->write_errors_until = now + window;
    fault(kind, n.id + " for " + ms);
  } else if (kind == "disk_full") {
    n.disk->full_until = now + window;
    fault(kind, n.id + " for " + ms);
  } else if (kind == "fsync_errors") {
    n.disk->sync_errors_until = now + window;
    fault(kind, n.id + " for " + ms);
  } else if (kind == "flip_snapshot_bit" || kind == "flip_log_bit") {
    // Bits rot at rest: flipped while the node is down, found when it starts.
    if (!n.up) return;
    crash_node(n, "killed to flip a bit on its disk", false);
    std::string what;
    if (disk_.flip_bit(*n.disk, kind == "flip_log_bit" ? "log" : "snapshot", what)) fault(kind, what);
    schedule_restart(n, rng.between(5, 100));
  } else if (kind == "clock_skew") {
    n.clock_offset_ms = rng.between(-600'000, 600'000);
    fault(kind, n.id + " clock off by " + std::to_string(n.clock_offset_ms) + " ms");
  } else if (kind == "clock_jump") {
    n.clock_offset_ms += rng.chance(500) ? rng.between(3'600'000, 90'000'000) : -rng.between(3'600'000, 90'000'000);
    fault(kind, n.id + " clock jumped to offset " + std::to_string(n.clock_offset_ms) + " ms");
  } else if (kind == "responses_lost") {
    n.response_drop_until = now + window;
    fault(kind, n.id + " for " + ms);
  } else if (kind == "append_fails") {
    n.link.append_fail_pm = 500;
    fault(kind, n.id + " for " + ms);
    world_.after(window, [&n] { n.link.append_fail_pm = 0; });
  } else if (kind == "append_unknown_committed") {
    n.link.append_unknown_pm = 500;
    fault(kind, n.id + " for " + ms);
    world_.after(window, [&n] { n.link.append_unknown_pm = 0; });
  } else if (kind == "append_commits_late") {
    n.link.append_late_pm = 500;
    fault(kind, n.id + " for " + ms);
    world_.after(window, [&n] { n.link.append_late_pm = 0; });
  } else if (kind == "watch_breaks") {
    n.link.watch_broken_until = now + window;
    fault(kind, n.id + " for " + ms);
  } else if (kind == "slow_delivery") {
    n.link.delivery_delay_ms = rng.between(50, 800);
    fault(kind, n.id + " entries arrive " + std::to_string(n.link.delivery_delay_ms) + " ms late for " + ms);
    world_.after(window, [&n, this] { n.link.delivery_delay_ms = world_.rng.between(0, 3); });
  } else if (kind == "compaction_overtakes") {
    // Compact past this node: as if its lease had expired while it lagged.
    uint64_t before = 0;
    for (auto& p : nodes_) {
      if (p.get() != &n && p->up) before = std::max(before, p->link.needs_from);
    }
    if (before > shared_.first_kept()) {
      shared_.compact_to(before);
      fault(kind, "log compacted below " + std::to_string(before) + " (" + n.id + " at " +
                      std::to_string(n.up ? n.applier->applied() : 0) + ")");
    }
  } else if (kind == "partition_from_log") {
    n.link.partitioned_until = now + window;
    fault(kind, n.id + " cut off from etcd for " + ms);
  } else if (kind == "quorum_lost") {
    shared_.down_until = now + window;
    fault(kind, "etcd has no quorum for " + ms);
  }
}

// ---- the end ---------------------------------------------------------------------

void Simulation::heal() {
  healed_ = true;
  healed_at_ = world_.now();
  shared_.down_until = 0;
  for (auto& n : nodes_) {
    n->link.partitioned_until = 0;
    n->link.watch_broken_until = 0;
    n->link.append_fail_pm = n->link.append_unknown_pm = n->link.append_late_pm = 0;
    n->link.delivery_delay_ms = 1;
    n->disk->write_errors_until = n->disk->full_until = n->disk->sync_errors_until = 0;
    n->disk->crash_at_next_sync = false;
    n->response_drop_until = 0;
  }
  if (config_.verbose) report_.timeline.push_back(std::to_string(world_.elapsed()) + " ms: every fault healed");
}

bool Simulation::converged(std::string& why) {
  for (const Op& op : ops_) {
    if (!op.done) {
      why = "operation '" + op.what + "' has no definite answer after " + std::to_string(op.tries) + " tries";
      return false;
    }
  }
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
      why = n->id + " applied " + std::to_string(n->applier->applied()) + " of " + std::to_string(head);
      return false;
    }
    if (n->submitter->queued() > 0 || n->snapshot_pending) {
      why = n->id + " still has work queued";
      return false;
    }
  }
  return true;
}

const domain::State* Simulation::final_state(SimNode& n, std::string& digest) {
  const domain::State* out = nullptr;
  n.applier->read(n.applier->applied(), 0, [&](const domain::State* s) { out = s; });
  if (out != nullptr) digest = codec::state_digest(*out);
  return out;
}

void Simulation::check() {
  auto fail = [&](std::string what) {
    if (report_.failures.size() < 20) report_.failures.push_back(std::move(what));
  };
  // 1. The committed log, in order.
  std::vector<std::pair<uint64_t, const std::string*>> log;
  if (cluster()) {
    for (const auto& e : shared_.entries()) log.emplace_back(e.position, &e.batch);
    for (const auto& [pos, batch] : history_.entries) {
      size_t i = shared_.lower_bound(pos);
      if (i >= shared_.entries().size() || shared_.entries()[i].position != pos ||
          shared_.entries()[i].batch != batch) {
        fail("a node applied an entry at " + std::to_string(pos) + " that the log does not hold");
      }
    }
  } else {
    uint64_t expect = 1;
    for (const auto& [pos, batch] : history_.entries) {
      if (pos != expect) {
        fail("the file log's history has a hole at position " + std::to_string(expect));
        break;
      }
      ++expect;
      log.emplace_back(pos, &batch);
    }
    uint64_t head = nodes_[0]->applier->applied();
    if (!log.empty() && log.back().first != head) {
      fail("the history ends at " + std::to_string(log.back().first) + " but the node applied " + std::to_string(head));
    }
  }
  report_.log_entries = log.size();

  // 2-4. The model, fed the log, against every answer (history_check.h).
  Model model;
  std::vector<LogRecord> records;
  records.reserve(log.size());
  for (const auto& [pos, batch] : log) records.push_back(LogRecord{pos, *batch});
  std::vector<HistoryOp> history;
  history.reserve(ops_.size());
  for (const Op& op : ops_) {
    ++report_.ops;
    HistoryOp h;
    h.what = op.what;
    h.read = op.kind == OpKind::read;
    h.account = op.account;
    if (!h.read) h.key = op_key(op.command);
    h.answered = op.done;
    h.first_sent_ms = op.first_sent;
    h.answered_ms = op.answered_at;
    h.code = op.answer.code;
    h.count = op.answer.count;
    h.index = op.answer.index;
    h.found = op.answer.found;
    h.balance = op.answer.balance;
    h.must_include = op.head_at_send;
    history.push_back(std::move(h));
  }
  HistoryCheck hc = check_history(records, history, model, report_.failures);
  report_.reads_checked = hc.reads_checked;

  // 5. Every replica: the same digest, a balanced ledger, and the model's money.
  std::string first_digest;
  for (auto& n : nodes_) {
    std::string digest;
    const domain::State* s = final_state(*n, digest);
    if (s == nullptr) {
      fail(n->id + " has no state to check");
      continue;
    }
    if (first_digest.empty()) first_digest = digest;
    if (digest != first_digest) fail(n->id + " ends with digest " + digest + ", another replica with " + first_digest);
    domain::LedgerCheck lc = domain::verify_ledger(*s);
    if (!lc.ok) fail(n->id + ": the ledger does not balance: " + lc.problem);
    int64_t sum = 0;
    for (const domain::Account& a : s->accounts) {
      if (a.balance.minor < 0 || a.in_play.minor < 0 || a.pending_withdrawals.minor < 0) {
        fail(n->id + ": account " + std::string(a.id) + " has a negative slot");
      }
      sum += a.balance.minor + a.in_play.minor + a.pending_withdrawals.minor + a.receivable.minor;
    }
    int64_t house = 0, deposits = 0, withdrawn = 0;
    for (const domain::CurrencyBook& c : s->currencies) {
      house += c.house.minor;
      deposits += c.deposits_total.minor;
      withdrawn += c.withdrawals_completed_total.minor;
    }
    if (sum + house != deposits - withdrawn) {
      fail(n->id + ": balances + in play + pending + receivable + house = " + std::to_string(sum + house) +
           ", deposits - completed withdrawals = " + std::to_string(deposits - withdrawn));
    }
    if (deposits != model.deposits() || withdrawn != model.withdrawals_completed() || house != model.house()) {
      fail(n->id + ": deposits/withdrawn/house " + std::to_string(deposits) + "/" + std::to_string(withdrawn) +
           "/" + std::to_string(house) + " but the model has " + std::to_string(model.deposits()) + "/" +
           std::to_string(model.withdrawals_completed()) + "/" + std::to_string(model.house()));
    }
    if (s->accounts.size() != model.accounts().size() || s->bets.size() != model.bets()) {
      fail(n->id + ": " + std::to_string(s->accounts.size()) + " accounts and " + std::to_string(s->bets.size()) +
           " bets, the model has " + std::to_string(model.accounts().size()) + " and " + std::to_string(model.bets()));
    }
    for (const auto& [id, ma] : model.accounts()) {
      domain::AccountIdx idx = s->account_ids.find(id);
      if (!idx.valid()) {
        fail(n->id + ": account " + id + " is missing");
        continue;
      }
      const domain::Account& a = s->accounts[idx.value];
      if (a.balance.minor != ma.balance || a.in_play.minor != ma.in_play ||
          a.pending_withdrawals.minor != ma.pending || a.receivable.minor != ma.receivable) {
        fail(n->id + ": account " + id + " has balance/in play/pending/receivable " + std::to_string(a.balance.minor) +
             "/" + std::to_string(a.in_play.minor) + "/" + std::to_string(a.pending_withdrawals.minor) + "/" +
             std::to_string(a.receivable.minor) + ", the model " + std::to_string(ma.balance) + "/" +
             std::to_string(ma.in_play) + "/" + std::to_string(ma.pending) + "/" + std::to_string(ma.receivable));
      }
    }
    for (const domain::Bet& b : s->bets) {
      if (!model.has_bet(std::string(b.id))) fail(n->id + ": bet " + std::string(b.id) + " is not one the model accepted");
    }
  }
}

SimReport Simulation::run() {
  build();
  log::file::set_disk_faults(&disk_);
  for (auto& n : nodes_) {
    std::string error = start_node(*n);
    if (!error.empty()) {
      report_.failures.push_back(n->id + " cannot start on an empty disk: " + error);
      log::file::set_disk_faults(nullptr);
      return report_;
    }
    schedule_tick(*n);
  }
  world_.after(0, [this] { maintain(); });
  world_.after(world_.rng.between(10, 100), [this] { nemesis(); });
  for (Client& c : clients_) {
    Client* cp = &c;
    world_.after(world_.rng.between(0, 10), [this, cp] { next_op(*cp); });
  }
  std::string why;
  int64_t next_check = 0;
  while (world_.step()) {
    if (!healed_ && workload_done()) heal();
    if (healed_ && world_.now() >= next_check) {
      next_check = world_.now() + 50;
      // A node left down by a failed restart comes back once healed.
      for (auto& n : nodes_) {
        if (!n->up && world_.now() - n->down_since > 1'000) {
          disk_.repair_flips(*n->disk);
          n->down_since = world_.now();
          schedule_restart(*n, 0);
        }
      }
      if (converged(why)) break;
      if (world_.now() - healed_at_ > kDrainLimitMs) {
        report_.failures.push_back("the run did not settle within " + std::to_string(kDrainLimitMs / 1000) +
                                   " s of simulated time after every fault healed: " + why);
        break;
      }
    }
    if (!report_.failures.empty() && report_.failures.size() >= 20) break;
  }
  finished_ = true;
  report_.events = world_.events();
  report_.sim_ms = static_cast<uint64_t>(world_.elapsed());
  if (report_.failures.empty()) check();
  report_.trace_hash = world_.trace_hash();
  report_.passed = report_.failures.empty();
  // Drop the nodes before the disk seam goes.
  for (auto& n : nodes_) {
    n->up = true;
    crash_node(*n, "end of run", false);
  }
  log::file::set_disk_faults(nullptr);
  return report_;
}

}  // namespace

SimReport run_seed(const SimConfig& config) {
  SimConfig c = config;
  std::error_code ec;
  fs::remove_all(c.dir, ec);
  fs::create_directories(c.dir, ec);
  auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);  // thousands of faults: the report tells
  SimReport r;
  {
    Simulation sim(c);
    r = sim.run();
  }
  spdlog::set_level(level);
  if (r.passed && !c.keep_files) fs::remove_all(c.dir, ec);
  return r;
}

}  // namespace betcore::sim
