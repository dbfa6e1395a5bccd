// The submitter: a bounded queue of encoded commands (admission control) and
// a thread per append lane of the log (log::Log::append_lanes: one for the
// file log, EtcdLogOptions::append_lanes for etcd) that turns everything
// queued into one batch, appends it (one fsync or one quorum write for many
// requests: group commit), and lets the waiters hear from the applier once
// their batch is applied. Lane 0 takes whatever is queued; the other lanes
// (overflow lanes) take only a full batch (batch_linger_commands) that queued
// while the lanes before them append, so a second lane never splits the
// batches a CPU-bound cluster needs big.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "codec/batch.h"
#include "log/log.h"
#include "node/waiters.h"
#include "ops/metrics.h"

namespace betcore::node {

struct SubmitterOptions {
  std::string node_id;
  size_t queue_commands_max = 16'384;     // beyond this: 429 overloaded
  size_t batch_commands_max = 4'096;
  size_t batch_bytes_max = 1 << 20;
  // Group commit under load (Submitter::linger): after a batch of at least
  // batch_linger_after_commands, the next one waits up to batch_linger_us
  // (and never longer than the last append took) for batch_linger_commands
  // to queue. 0: never waits.
  int batch_linger_us = 0;
  size_t batch_linger_commands = 64;
  size_t batch_linger_after_commands = 4;
  // Wall-clock milliseconds: stamps each batch and seeds the sequence
  // numbers. Empty: the system clock. The simulator passes its node's clock.
  std::function<int64_t()> clock_ms;
  // The audit anchors for the next batch: the chain after each position
  // applied after the given one (Applier::anchors_after). Empty: none.
  std::function<std::vector<codec::ChainAnchor>(uint64_t after)> anchors;
};

enum class SubmitStatus { accepted, overloaded, unavailable };

class Submitter {
 public:
  Submitter(SubmitterOptions options, log::Log& log, Waiters& waiters, ops::Registry& metrics);
  ~Submitter();

  // Queues one encoded command; `done` is called exactly once (by the applier
  // or, if the append fails, by the submitter). On anything but `accepted`,
  // `done` is not called and nothing was queued.
  // Thread-safe.
  // `actor`: who sent it, recorded in the batch for the audit trail.
  SubmitStatus submit(std::string encoded_command, WriteDone done, codec::Actor actor = {});
  // Queues all of `encoded` (done[i] for encoded[i]) together and in order,
  // or none: they stand next to each other in the queue, so they go into the
  // same batch unless it is full (batch_commands_max, batch_bytes_max); the
  // two batches may then go out on two lanes and commit in either order.
  // REQUIRES: encoded.size() == done.size(). Thread-safe.
  SubmitStatus submit_all(std::vector<std::string> encoded, std::vector<WriteDone> done,
                          const codec::Actor& actor = {});

  void start();
  void stop();  // fails whatever is still queued as unavailable

  // Without start(): takes what is queued (one batch's worth) and appends it
  // on the calling thread. False when nothing was queued. The simulator
  // drives the submitter this way, one step at a time.
  bool pump();

  size_t queued() const;
  // The admission bound in force: options' queue_commands_max unless the
  // guard tightened it (guard.h). Thread-safe.
  size_t queue_limit() const { return queue_limit_.load(std::memory_order_relaxed); }
  // REQUIRES: 1 <= limit. Thread-safe; requests already queued stay queued.
  void set_queue_limit(size_t limit) { queue_limit_.store(limit, std::memory_order_relaxed); }
  // Commands this node appended (its own commit rate), for the guard.
  uint64_t commands_appended() const { return static_cast<uint64_t>(batch_commands_.snapshot().sum); }
  // Append latency (write + fsync, or the quorum commit), for the guard.
  const ops::Histogram& append_seconds() const { return append_seconds_; }
  // False once an append failed in a way that needs a restart (file log).
  bool healthy() const { return healthy_.load(); }
  std::string failure() const;

 private:
  struct Item {
    std::string encoded;
    WriteDone done;
    codec::Actor actor;
    std::chrono::steady_clock::time_point queued_at;
  };
  void run(size_t lane);
  // Takes one batch's worth of the queue and gives it its sequence numbers,
  // stamp and audit anchors. False when the queue is empty. REQUIRES: mu_
  // held; it calls options_.anchors (which takes the applier's anchors lock:
  // the lock order is mu_, then that one, never the other way round).
  bool take_batch(std::vector<Item>& taken, codec::BatchHeader& header);
  void linger(std::unique_lock<std::mutex>& lock);  // REQUIRES: lock holds mu_
  // Which waiting submitter threads a new command must wake.
  struct Wake {
    bool any = false;   // lane 0, waiting for any command (any_cv_)
    bool full = false;  // lane 0 lingering, overflow lanes: a full batch is queued (full_cv_)
  };
  Wake wake_needed() const;  // REQUIRES: mu_ held
  void wake(Wake w);         // without mu_
  size_t linger_commands() const;
  int64_t now_ms() const;
  void append_batch(std::vector<Item>& items, codec::BatchHeader& header, size_t lane);
  static void add_actors(const std::vector<Item>& items, codec::BatchHeader& header);

  const SubmitterOptions options_;
  log::Log& log_;
  Waiters& waiters_;
  uint64_t next_seq_;      // guarded by mu_
  uint64_t anchored_ = 0;  // the last position this node anchored; guarded by mu_
  // The last append: how long it took and what it carried; guarded by mu_.
  std::chrono::steady_clock::duration last_append_{};
  size_t last_batch_commands_ = 0;

  std::atomic<size_t> queue_limit_;
  mutable std::mutex mu_;
  std::condition_variable any_cv_;   // lane 0 waits for any command
  std::condition_variable full_cv_;  // lane 0 lingers and the overflow lanes wait for a full batch
  std::vector<Item> queue_;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  size_t idle_ = 0;              // lane 0 waiting for any command; guarded by mu_
  size_t lingering_ = 0;         // lane 0 waiting for a fuller batch; guarded by mu_
  size_t overflow_waiting_ = 0;  // lanes 1.. waiting for a full batch; guarded by mu_
  std::string failure_;      // guarded by mu_
  std::atomic<bool> healthy_{true};
  std::vector<std::thread> threads_;  // one per append lane

  ops::Counter& batches_;
  ops::Counter& overloaded_;
  ops::Histogram& batch_commands_;
  ops::Histogram& append_seconds_;
  ops::Counter& append_failures_;
  ops::Histogram& stage_queue_;
  ops::Histogram& stage_append_;
};

}  // namespace betcore::node
