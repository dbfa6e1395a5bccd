#include "node/applier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <exception>
#include <optional>
#include <span>
#include <vector>

#include "codec/batch.h"
#include "codec/chain.h"
#include "codec/snapshot.h"
#include "domain/assert.h"
#include "domain/ledger.h"
#include "ops/request_stage.h"

namespace betcore::node {
namespace {

// Collects the events of one command; they are rendered once it is done.
struct CollectingSink final : domain::EventSink {
  std::vector<domain::DomainEvent> events;
  void emit(const domain::DomainEvent& e) override { events.push_back(e); }
};

// One read of the log, every batch decoded: what the replay's reader hands
// the applying thread.
struct DecodedSlice {
  std::vector<log::Entry> entries;
  std::vector<codec::DecodedBatch> batches;  // batches[i] decodes entries[i]
  std::optional<log::Error> error;           // the read failed (nothing else is set)
};

// Between the replay's reader and the applying thread: one slice decoded
// ahead, and the slices applied going back to the reader, so that their
// memory is freed on its thread too. At most about four slices (each up to
// 1,024 entries and 8 MiB of log, and their decoded commands) exist at once:
// one being applied, one queued, one the reader decodes and one applied but
// not yet freed.
class SliceQueue {
 public:
  // Waits for room. False once the applying side closed the queue.
  bool push(DecodedSlice slice) {
    std::vector<DecodedSlice> spent;  // freed here, on the reader's thread
    bool open = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closed_ || ready_.size() < kAhead; });
      spent.swap(spent_);
      open = !closed_;
      if (open) ready_.push_back(std::move(slice));
    }
    cv_.notify_all();
    return open;
  }
  // Frees the slices applied so far (the reader, before its next read).
  void drop_spent() {
    std::vector<DecodedSlice> spent;
    std::lock_guard lock(mu_);
    spent.swap(spent_);
  }
  // The reader is done: pop() answers nothing once the queue is empty.
  void finish() {
    {
      std::lock_guard lock(mu_);
      finished_ = true;
    }
    cv_.notify_all();
  }
  std::optional<DecodedSlice> pop() {
    std::optional<DecodedSlice> out;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return finished_ || !ready_.empty(); });
      if (ready_.empty()) return out;
      out = std::move(ready_.front());
      ready_.pop_front();
    }
    cv_.notify_all();
    return out;
  }
  void recycle(DecodedSlice slice) {
    std::lock_guard lock(mu_);
    spent_.push_back(std::move(slice));
  }
  // The applying side gives up: the reader's next push() answers false.
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  static constexpr size_t kAhead = 1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<DecodedSlice> ready_;   // guarded by mu_
  std::vector<DecodedSlice> spent_;  // guarded by mu_
  bool finished_ = false;            // guarded by mu_
  bool closed_ = false;              // guarded by mu_
};

}  // namespace

Applier::Applier(ApplierOptions options, log::Log& log, Waiters& waiters, ops::Registry& metrics,
                 std::unique_ptr<domain::State> initial)
    : options_(std::move(options)),
      log_(log),
      waiters_(waiters),
      commands_(metrics.counter("betcore_commands_applied_total", "Commands applied")),
      batches_(metrics.counter("betcore_batches_applied_total", "Batches applied")),
      refused_(metrics.counter("betcore_batches_refused_total",
                               "Log entries that failed their checks and were not applied")),
      apply_seconds_(metrics.histogram("betcore_batch_apply_seconds",
                                       "Time to apply one batch, answers included")),
      stage_apply_(ops::request_stage(metrics, "apply")),
      chain_refused_(metrics.counter("betcore_audit_chain_refusals_total",
                                     "Batches refused because an anchor disagreed with this replica's "
                                     "audit chain (docs/audit.md)")),
      anchors_checked_(metrics.counter("betcore_audit_anchors_checked_total",
                                       "Batch anchors compared with this replica's audit chain")),
      anchors_unchecked_(metrics.counter(
          "betcore_audit_anchors_unchecked_total",
          "Batch anchors older than the chain window")),
      chain_begun_(metrics.gauge("betcore_audit_chain_begun",
                                 "1 once the log holds a version 2 batch, where the audit chain "
                                 "begins (docs/audit.md)")),
      business_(metrics) {
  if (initial) machine_.reset(std::move(initial));
  machine_.set_full_check_after_each_command(options_.full_ledger_check);
  applied_.store(machine_.state().applied.value);
  checkpoint_.index = machine_.state().applied.value;
  checkpoint_.commands = machine_.state().commands_applied;
  checkpoint_.digest = codec::state_digest(machine_.state());
  chain_begun_.set(machine_.state().audit.begun() ? 1 : 0);
  publish_anchors(true);
}

Applier::~Applier() { stop(); }

void Applier::start() {
  {
    std::shared_lock lock(state_mu_);
    business_.recount(machine_.state());
  }
  live_ = true;
  thread_ = std::thread([this] { run(); });
}

void Applier::stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  serve_reads(true);
}

uint64_t Applier::replay(const std::function<bool()>& stop, const std::function<void()>& progress) {
  // Every command in the log counts, accepted or not: this is the replay's work.
  uint64_t before = commands_.value();
  auto said = std::chrono::steady_clock::now();
  auto tick = [&] {
    if (progress && std::chrono::steady_clock::now() - said > std::chrono::milliseconds(500)) {
      progress();
      said = std::chrono::steady_clock::now();
    }
  };
  if (!options_.replay_reader_thread) {
    while (!(stop && stop()) && step(0)) tick();
    return commands_.value() - before;
  }
  while (!(stop && stop())) {
    std::optional<log::Error> failed = replay_pipelined(stop, tick);
    // The log's end (or a stop); or a failed read, handled as step() does:
    // a compacted log bootstraps from a peer's snapshot and goes on.
    if (!failed || !read_failed(*failed, log::Position{applied() + 1})) break;
  }
  return commands_.value() - before;
}

// A reader thread reads the log and decodes each batch while this thread
// applies the slice before: on two cores the reads, checksums and decoding
// (allocations included) leave the applying thread. The reads are the ones
// step() would make, in the same order, so a replay's result is the same.
// Returns the failed read that ended it; nothing at the log's end or on stop.
std::optional<log::Error> Applier::replay_pipelined(const std::function<bool()>& stop,
                                                    const std::function<void()>& tick) {
  SliceQueue queue;
  std::thread reader([&] {
    try {
      log::Position from{applied() + 1};
      for (;;) {
        queue.drop_spent();  // before the next read: fewer slices in memory at once
        auto entries = log_.read(from, 1024, 8 << 20, 0);
        DecodedSlice slice;
        if (!entries.ok()) {
          slice.error = entries.error();
          queue.push(std::move(slice));
          break;
        }
        if (entries.value().empty()) break;
        slice.entries = std::move(entries.value());
        slice.batches.reserve(slice.entries.size());
        for (const log::Entry& e : slice.entries) slice.batches.push_back(codec::decode_batch(e.batch));
        from = log::Position{slice.entries.back().position.value + 1};
        if (!queue.push(std::move(slice))) break;  // the applying side gave up
      }
    } catch (const std::exception& e) {  // e.g. out of memory: the replay ends as after a failed read
      DecodedSlice slice;
      slice.error = log::Error{log::Errc::io_error, std::string("the replay's reader failed: ") + e.what()};
      queue.push(std::move(slice));
    }
    queue.finish();
  });
  // However this thread leaves (a stop, an exception), the reader is let go
  // and joined first.
  struct Join {
    SliceQueue& queue;
    std::thread& reader;
    ~Join() {
      queue.close();
      reader.join();
    }
  } join{queue, reader};
  while (std::optional<DecodedSlice> slice = queue.pop()) {
    if (slice->error) return std::move(slice->error);
    for (size_t i = 0; i < slice->entries.size(); ++i) {
      apply_decoded(slice->entries[i], slice->batches[i], std::chrono::steady_clock::now());
      tick();
    }
    queue.recycle(std::move(*slice));
    if (stop && stop()) break;
  }
  return std::nullopt;
}

void Applier::run() {
  while (!stopping_.load()) {
    // A short wait keeps waiting reads' timeouts prompt.
    step(reads_waiting_.load() > 0 ? 2 : 20);
    serve_reads(false);
  }
}

bool Applier::step(int wait_ms) {
  log::Position from{applied() + 1};
  auto entries = log_.read(from, 1024, 8 << 20, wait_ms);
  if (!entries.ok()) return read_failed(entries.error(), from);
  if (entries.value().empty()) return false;
  for (const log::Entry& e : entries.value()) apply_entry(e);
  return true;
}

bool Applier::read_failed(const log::Error& error, log::Position from) {
  if (error.code == log::Errc::compacted && compacted_handler_) {
    spdlog::warn("this node needs position {} but {}; bootstrapping from a peer's snapshot",
                 from.value, error.message);
    if (std::unique_ptr<domain::State> state = compacted_handler_(error)) {
      replace_state(std::move(state));
      return true;
    }
    pause(1000);
    return false;
  }
  if (error.code != log::Errc::closed) {
    spdlog::error("reading the log at {} failed: {}", from.value, error.message);
    pause(100);
  }
  return false;
}

void Applier::pause(int ms) {
  if (options_.pause) {
    options_.pause(ms);
    return;
  }
  // In slices, so that a stop (the applier's, or catch_up's caller's) ends it.
  for (int waited = 0; waited < ms; waited += 50) {
    if (stopping_.load() || (catch_up_stop_ && catch_up_stop_())) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, ms - waited)));
  }
}

void Applier::apply_entry(const log::Entry& entry) {
  const auto t0 = std::chrono::steady_clock::now();
  apply_decoded(entry, codec::decode_batch(entry.batch), t0);
}

void Applier::apply_decoded(const log::Entry& entry, const codec::DecodedBatch& batch,
                            std::chrono::steady_clock::time_point t0) {
  std::unique_lock lock(state_mu_);
  // Positions advance even for a refused entry: every replica refuses it
  // alike, so skipping it keeps them identical.
  machine_.begin_batch(domain::LogIndex{entry.position.value}, domain::TimeMs{batch.header.stamped_ms});
  // Before the first answer leaves: a client told "applied at N" must never
  // then see applied_index < N (/v1/cluster, X-Betcore-Index; the crash
  // drill caught it, 1 run in ~100). Readers of the state take state_mu_,
  // held until the whole entry is applied, so none sees half of it.
  applied_.store(entry.position.value, std::memory_order_release);
  const codec::AnchorCheck anchors =
      codec::chain_entry(machine_, entry.position.value, entry.batch, batch);
  publish_anchors(false);
  chain_begun_.set(machine_.state().audit.begun() ? 1 : 0);
  anchors_checked_.inc(anchors.checked);
  anchors_unchecked_.inc(anchors.unchecked);
  if (batch.error != codec::BatchError::none) {
    refused_.inc();
    spdlog::error("log entry at {} refused, not applied: {} ({})", entry.position.value,
                  codec::batch_error_name(batch.error), batch.detail);
  } else if (!anchors.ok) {
    refuse_for_chain(entry.position.value, batch, anchors);
  } else {
    const bool mine = batch.header.node_id == options_.node_id;
    CollectingSink sink;
    uint32_t seq = 0;
    const std::span<const domain::Command> commands(batch.commands);
    for (size_t i = 0; i < commands.size(); ++i) {
      machine_.prefetch_before(commands, i);
      domain::Outcome out =
          machine_.apply(batch.commands[i], journal_ != nullptr || live_ ? &sink : nullptr);
      if (live_) business_.observe(batch.commands[i], out, sink.events, machine_.state());
      if (journal_ != nullptr) {
        for (const domain::DomainEvent& e : sink.events) {
          std::string line;
          renderer_(e, machine_.state(), entry.position.value, ++seq, line);
          journal_->append(entry.position.value, seq, std::move(line));
        }
      }
      sink.events.clear();
      if (!mine) continue;
      if (WriteDone done = waiters_.take(batch.header.first_seq + i)) {
        if (i == 0) waiters_.applied(batch.header.first_seq, std::chrono::steady_clock::now());
        WriteResult r;
        r.outcome = &out;
        r.state = &machine_.state();
        r.index = entry.position.value;
        done(r);
      }
    }
    commands_.inc(batch.commands.size());
  }
  batches_.inc();
  maybe_checkpoint();
  lock.unlock();
  if (journal_ != nullptr) journal_->publish();
  const auto took = std::chrono::steady_clock::now() - t0;
  apply_seconds_.observe(took);
  stage_apply_.observe(took);
}

void Applier::refuse_for_chain(uint64_t position, const codec::DecodedBatch& batch,
                               const codec::AnchorCheck& anchors) {
  refused_.inc();
  chain_refused_.inc();
  spdlog::error("log entry at {} from node {} refused, not applied: its audit anchors disagree with this "
                "replica's chain: {}. The log was altered at or before that position, or this replica's "
                "history differs from the submitter's: run `betcore audit verify` on the data directory "
                "or the archive to find the first altered position (docs/runbooks/audit-chain.md)",
                position, batch.header.node_id, anchors.detail);
  if (batch.header.node_id != options_.node_id) return;
  WriteResult r;
  r.kind = WriteResult::Kind::unavailable;
  r.detail = "the batch was refused by the audit chain check; nothing was applied";
  for (size_t i = 0; i < batch.commands.size(); ++i) {
    if (WriteDone done = waiters_.take(batch.header.first_seq + i)) done(r);
  }
}

std::vector<codec::ChainAnchor> Applier::anchors_after(uint64_t after) const {
  std::lock_guard lock(anchors_mu_);
  return codec::anchors_after(anchors_, after);
}

void Applier::chain_head(uint64_t& position, std::string& chain) const {
  std::lock_guard lock(anchors_mu_);
  if (anchors_.recent.empty()) return;
  position = anchors_.recent.back().position;
  chain = codec::chain_hex(anchors_.recent.back().chain);
}

void Applier::publish_anchors(bool whole) {
  const domain::AuditChain& a = machine_.state().audit;
  std::lock_guard lock(anchors_mu_);
  anchors_.head = a.head;
  if (whole) anchors_.recent.clear();
  if (a.recent.empty()) return;
  if (whole) {
    const size_t n = std::min(a.recent.size(), codec::kBatchAnchorsMax);
    anchors_.recent.assign(a.recent.end() - static_cast<std::ptrdiff_t>(n), a.recent.end());
    return;
  }
  anchors_.recent.push_back(a.recent.back());
  if (anchors_.recent.size() > codec::kBatchAnchorsMax) anchors_.recent.pop_front();
}

void Applier::maybe_checkpoint() {
  const domain::State& s = machine_.state();
  uint64_t every = options_.checkpoint_every_commands;
  if (every == 0) return;
  uint64_t last;
  {
    std::lock_guard lock(checkpoint_mu_);
    last = checkpoint_.commands;
  }
  if (s.commands_applied / every == last / every) return;
  // A deterministic point: every replica crosses it at the same position.
  auto t0 = std::chrono::steady_clock::now();
  domain::LedgerCheck check = domain::verify_ledger(s);
  BETCORE_ASSERT_MSG(check.ok, check.problem.c_str());
  std::string encoded = codec::encode_state(s);
  Checkpoint c{s.applied.value, s.commands_applied, codec::digest_of_encoding(encoded)};
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  spdlog::info("checkpoint at index {} ({} commands): digest {}, ledger ok, {} ms", c.index,
               c.commands, c.digest, ms.count());
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_ = c;
    recent_.push_back(c);
    if (recent_.size() > 8) recent_.pop_front();
  }
  if (checkpoint_sink_) checkpoint_sink_(c.index, std::move(encoded));
}

void Applier::replace_state(std::unique_ptr<domain::State> state) {
  Checkpoint c;
  {
    std::unique_lock lock(state_mu_);
    machine_.reset(std::move(state));
    const domain::State& s = machine_.state();
    c = Checkpoint{s.applied.value, s.commands_applied, codec::state_digest(s)};
    applied_.store(s.applied.value, std::memory_order_release);
    chain_begun_.set(s.audit.begun() ? 1 : 0);
    publish_anchors(true);
    if (journal_ != nullptr) journal_->restart_at(s.applied.value + 1);
    if (live_) business_.recount(s);
  }
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_ = c;
  }
  // Writes of this node still waiting may be in the part of the log the
  // snapshot covers: answer them "unknown"; a retry with the same id tells.
  std::vector<WriteDone> orphans = waiters_.take_all();
  for (WriteDone& done : orphans) {
    WriteResult r;
    r.kind = WriteResult::Kind::outcome_unknown;
    r.detail = "this node replaced its state with a peer's snapshot; retry with the same id";
    done(r);
  }
  spdlog::info("state replaced by a snapshot at index {} ({} commands, digest {})", c.index,
               c.commands, c.digest);
}

bool Applier::catch_up(uint64_t target, int timeout_ms, const std::function<void()>& progress,
                       const std::function<bool()>& stop) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto next_report = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  catch_up_stop_ = stop;
  struct Forget {
    std::function<bool()>& stop;
    ~Forget() { stop = nullptr; }
  } forget{catch_up_stop_};
  while (applied() < target) {
    if (std::chrono::steady_clock::now() >= deadline || (stop && stop())) return false;
    step(100);
    if (progress && std::chrono::steady_clock::now() >= next_report) {
      progress();
      next_report += std::chrono::seconds(2);
    }
  }
  return true;
}

std::vector<Checkpoint> Applier::recent_checkpoints() const {
  std::lock_guard lock(checkpoint_mu_);
  return {recent_.begin(), recent_.end()};
}

Checkpoint Applier::last_checkpoint() const {
  std::lock_guard lock(checkpoint_mu_);
  return checkpoint_;
}

void Applier::read(uint64_t required, int timeout_ms, ReadFn fn) {
  if (applied() >= required) {
    // Never block an I/O thread on the applier: if it holds the state (a
    // batch, a checkpoint), queue the read; it is served after that step.
    std::shared_lock lock(state_mu_, std::try_to_lock);
    if (lock.owns_lock()) {
      fn(&machine_.state());
      return;
    }
  }
  {
    std::lock_guard lock(reads_mu_);
    reads_.push_back(PendingRead{required,
                                 std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms),
                                 std::move(fn)});
    reads_waiting_.store(reads_.size());
  }
  // The applier may have passed `required` between the check and the push:
  // it serves the queue after every step, so the read is not lost.
}

void Applier::serve_reads(bool shutting_down) {
  if (reads_waiting_.load() == 0) return;
  std::deque<PendingRead> ready;
  auto now = std::chrono::steady_clock::now();
  uint64_t at = applied();
  {
    std::lock_guard lock(reads_mu_);
    for (auto it = reads_.begin(); it != reads_.end();) {
      if (shutting_down || at >= it->required || now >= it->deadline) {
        ready.push_back(std::move(*it));
        it = reads_.erase(it);
      } else {
        ++it;
      }
    }
    reads_waiting_.store(reads_.size());
  }
  std::shared_lock lock(state_mu_);
  for (PendingRead& r : ready) r.fn(!shutting_down && at >= r.required ? &machine_.state() : nullptr);
}

}  // namespace betcore::node
