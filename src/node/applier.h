// The applier: the one thread that owns the state machine. It tails the log,
// decodes each batch (a batch that fails its checks is refused loudly and
// skipped by every replica alike, never applied), applies its commands in
// order, answers this node's waiting requests, serves reads that wait for a
// position, and takes checkpoints (digest + snapshot) at deterministic
// points: whenever commands_applied crosses a multiple of the interval.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>

#include "codec/chain.h"
#include "domain/state_machine.h"
#include "log/log.h"
#include "node/business_metrics.h"
#include "node/event_journal.h"
#include "node/waiters.h"
#include "ops/metrics.h"

namespace betcore::node {

// Runs with the state at or after the required position (state null on
// timeout or shutdown). Runs on the applier thread or on the caller's, under
// a shared lock: must not block and must not keep the pointer.
using ReadFn = std::function<void(const domain::State*)>;

struct Checkpoint {
  uint64_t index = 0;           // log position of the checkpoint
  uint64_t commands = 0;        // commands_applied at it
  std::string digest;           // state digest at it
};

struct ApplierOptions {
  std::string node_id;
  uint64_t checkpoint_every_commands = 1'000'000;
  bool full_ledger_check = false;  // verify_ledger after every command (tests)
  // Waits `ms` before retrying after a failed log read or bootstrap. Empty:
  // sleeps the thread. The simulator passes a no-op (it schedules retries).
  std::function<void(int ms)> pause;
  // replay() reads and decodes on a second thread. The simulator turns it
  // off: its log records each read into the run's report, which its own
  // thread also writes.
  bool replay_reader_thread = true;
};

// Receives the encoded state at each checkpoint (on the applier thread; it
// must return quickly, e.g. hand the bytes to another thread).
using CheckpointSink = std::function<void(uint64_t index, std::string encoded)>;

// Called on the applier thread when the log no longer holds the position
// this node needs (compacted): returns a peer's state at or past the
// compaction point (a bootstrap), or null to try again later.
using CompactedHandler = std::function<std::unique_ptr<domain::State>(const log::Error& error)>;

// Renders one committed event as a JSON line (ending in '\n') with the state
// right after the command that emitted it. Applier thread.
using EventRenderer = std::function<void(const domain::DomainEvent& event, const domain::State& state,
                                         uint64_t index, uint32_t seq, std::string& out)>;

class Applier {
 public:
  Applier(ApplierOptions options, log::Log& log, Waiters& waiters, ops::Registry& metrics,
          std::unique_ptr<domain::State> initial);
  ~Applier();

  void set_checkpoint_sink(CheckpointSink sink) { checkpoint_sink_ = std::move(sink); }
  void set_compacted_handler(CompactedHandler handler) { compacted_handler_ = std::move(handler); }
  // Journals every event from now on (set before replay to cover it too).
  void set_event_journal(EventJournal* journal, EventRenderer renderer) {
    journal_ = journal;
    renderer_ = std::move(renderer);
  }

  // Applies everything in the log now, on the calling thread (startup
  // replay), while a second thread reads and decodes the slice after (the
  // log is read as step() reads it, in the same order). Returns the number
  // of commands in the batches it applied. Gives up between two slices once
  // `stop()` holds; calls `progress` about every 0.5 s.
  uint64_t replay(const std::function<bool()>& stop = {}, const std::function<void()>& progress = {});
  // Starts the applier thread. From here on the business series
  // (business_metrics.h) count what is applied.
  void start();
  void stop();

  // Without start(): applies what the log has now, on the calling thread.
  // False when nothing came (or the read failed). The simulator's step.
  bool poll() { return step(0); }

  // The last log position applied. It moves to an entry as the entry's apply
  // begins (under state_mu_, before its first answer leaves), so it is never
  // behind an answer; a reader of the state waits for the entry to finish.
  uint64_t applied() const { return applied_.load(std::memory_order_acquire); }

  // Runs fn once this node has applied `required` (or at timeout with null).
  // Thread-safe.
  void read(uint64_t required, int timeout_ms, ReadFn fn);

  Checkpoint last_checkpoint() const;
  // The checkpoints this node took most recently, oldest first (at most 8).
  std::vector<Checkpoint> recent_checkpoints() const;
  // Applies `steps` until applied() >= target, `timeout_ms` passes or `stop`
  // says so (startup catch-up, on the calling thread). True when it got there.
  bool catch_up(uint64_t target, int timeout_ms, const std::function<void()>& progress,
                const std::function<bool()>& stop = nullptr);
  uint64_t batches_refused() const { return refused_.value(); }
  uint64_t chain_refusals() const { return chain_refused_.value(); }
  // The audit anchors for this node's next batch: the chain after each
  // position applied after `after` (codec/chain.h). Thread-safe.
  std::vector<codec::ChainAnchor> anchors_after(uint64_t after) const;
  // The audit chain after the newest batch applied, as hex (0 and "" while
  // unknown or before the first batch). Thread-safe.
  void chain_head(uint64_t& position, std::string& chain) const;
  uint64_t commands_applied() const { return commands_.value(); }
  const BusinessMetrics& business() const { return business_; }

 private:
  struct PendingRead {
    uint64_t required;
    std::chrono::steady_clock::time_point deadline;
    ReadFn fn;
  };

  void run();
  // Reads and applies what is available; false when nothing came.
  bool step(int wait_ms);
  // A failed read: true when the state was replaced (a compacted log, a
  // peer's snapshot) and reading goes on from applied() + 1.
  bool read_failed(const log::Error& error, log::Position from);
  // replay()'s loop: reads and decodes on a second thread, applies here.
  std::optional<log::Error> replay_pipelined(const std::function<bool()>& stop,
                                             const std::function<void()>& tick);
  void pause(int ms);
  void apply_entry(const log::Entry& entry);
  // `t0`: when the entry's apply stage began (for the stage histogram).
  void apply_decoded(const log::Entry& entry, const codec::DecodedBatch& batch,
                     std::chrono::steady_clock::time_point t0);
  // Copies the chain's newest points where the submitter reads them
  // (anchors_after) without waiting for a batch to finish applying.
  void publish_anchors(bool whole);
  void refuse_for_chain(uint64_t position, const codec::DecodedBatch& batch,
                        const codec::AnchorCheck& anchors);
  void serve_reads(bool shutting_down);
  void maybe_checkpoint();
  void replace_state(std::unique_ptr<domain::State> state);

  const ApplierOptions options_;
  log::Log& log_;
  Waiters& waiters_;
  domain::StateMachine machine_;  // applier thread (and readers under state_mu_)
  CheckpointSink checkpoint_sink_;
  CompactedHandler compacted_handler_;
  EventJournal* journal_ = nullptr;
  EventRenderer renderer_;

  mutable std::shared_mutex state_mu_;  // exclusive while applying a batch
  std::atomic<uint64_t> applied_{0};
  std::atomic<bool> stopping_{false};
  std::function<bool()> catch_up_stop_;  // catch_up's `stop`, while it runs (its thread only)
  std::thread thread_;

  std::mutex reads_mu_;
  std::deque<PendingRead> reads_;  // guarded by reads_mu_
  std::atomic<size_t> reads_waiting_{0};

  mutable std::mutex anchors_mu_;
  domain::AuditChain anchors_;  // guarded by anchors_mu_: the newest kBatchAnchorsMax points

  mutable std::mutex checkpoint_mu_;
  Checkpoint checkpoint_;  // guarded by checkpoint_mu_
  std::deque<Checkpoint> recent_;  // guarded by checkpoint_mu_

  ops::Counter& commands_;
  ops::Counter& batches_;
  ops::Counter& refused_;
  ops::Histogram& apply_seconds_;
  ops::Histogram& stage_apply_;
  ops::Counter& chain_refused_;
  ops::Counter& anchors_checked_;
  ops::Counter& anchors_unchecked_;
  ops::Gauge& chain_begun_;
  BusinessMetrics business_;
  bool live_ = false;  // set by start() before the thread runs; read by it
};

}  // namespace betcore::node
