#include "node/submitter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <unordered_map>

#include "codec/batch.h"
#include "domain/assert.h"
#include "ops/wall_clock.h"
#include "ops/request_stage.h"

namespace betcore::node {
namespace {

// Sequence numbers must never repeat across restarts of this node (a batch
// appended by an earlier run must not answer a request of this one), so they
// start from the wall clock in microseconds times 1024.
uint64_t initial_seq(const std::function<int64_t()>& clock_ms) {
  if (clock_ms) return static_cast<uint64_t>(clock_ms()) * 1000 * 1024;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return static_cast<uint64_t>(us) * 1024;
}

constexpr std::array<double, 14> kBatchBuckets = {1,   2,   4,    8,    16,   32,   64,
                                                  128, 256, 512, 1024, 2048, 4096, 8192};

}  // namespace

Submitter::Submitter(SubmitterOptions options, log::Log& log, Waiters& waiters,
                     ops::Registry& metrics)
    : options_(std::move(options)),
      log_(log),
      waiters_(waiters),
      next_seq_(initial_seq(options_.clock_ms)),
      queue_limit_(options_.queue_commands_max),
      batches_(metrics.counter("betcore_batches_appended_total", "Batches appended to the log")),
      overloaded_(metrics.counter("betcore_submit_overloaded_total",
                                  "Commands refused because the submit queue was full")),
      batch_commands_(metrics.histogram("betcore_batch_commands", "Commands per appended batch",
                                        {}, kBatchBuckets)),
      append_seconds_(metrics.histogram(
          "betcore_log_append_seconds",
          "Time to append one batch durably (write + fsync, or quorum commit)")),
      append_failures_(metrics.counter("betcore_log_append_failures_total", "Failed appends")),
      stage_queue_(ops::request_stage(metrics, "queue")),
      stage_append_(ops::request_stage(metrics, "append")) {
  // A batch's actor indexes are u16 (codec/batch.h).
  BETCORE_ASSERT_MSG(options_.batch_commands_max <= codec::kBatchActorsMax,
                     "batch_commands_max above 65,535");
}

Submitter::~Submitter() { stop(); }

void Submitter::start() {
  const size_t lanes = std::max<size_t>(1, log_.append_lanes());
  for (size_t lane = 0; lane < lanes; ++lane) threads_.emplace_back([this, lane] { run(lane); });
}

void Submitter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  any_cv_.notify_all();
  full_cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  std::vector<Item> left;
  {
    std::lock_guard lock(mu_);
    left.swap(queue_);
  }
  for (Item& item : left) {
    WriteResult r;
    r.kind = WriteResult::Kind::unavailable;
    r.detail = "the node is shutting down";
    item.done(r);
  }
}

size_t Submitter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::string Submitter::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

SubmitStatus Submitter::submit(std::string encoded, WriteDone done, codec::Actor actor) {
  Wake w;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !healthy_.load()) return SubmitStatus::unavailable;
    if (queue_.size() >= queue_limit()) {
      overloaded_.inc();
      return SubmitStatus::overloaded;
    }
    queue_.push_back(Item{std::move(encoded), std::move(done), std::move(actor), std::chrono::steady_clock::now()});
    w = wake_needed();
  }
  wake(w);
  return SubmitStatus::accepted;
}

SubmitStatus Submitter::submit_all(std::vector<std::string> encoded, std::vector<WriteDone> done,
                                   const codec::Actor& actor) {
  BETCORE_ASSERT_MSG(encoded.size() == done.size(), "submit_all: one waiter per command");
  Wake w;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !healthy_.load()) return SubmitStatus::unavailable;
    if (queue_.size() + encoded.size() > queue_limit()) {
      overloaded_.inc(encoded.size());
      return SubmitStatus::overloaded;
    }
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < encoded.size(); ++i) {
      queue_.push_back(Item{std::move(encoded[i]), std::move(done[i]), actor, now});
    }
    w = wake_needed();
  }
  wake(w);
  return SubmitStatus::accepted;
}

int64_t Submitter::now_ms() const { return options_.clock_ms ? options_.clock_ms() : ops::wall_ms(); }

bool Submitter::take_batch(std::vector<Item>& taken, codec::BatchHeader& header) {
  // Take as much as fits in one batch; the rest waits for the next one.
  size_t n = 0;
  size_t bytes = 0;
  while (n < queue_.size() && n < options_.batch_commands_max &&
         (n == 0 || bytes + queue_[n].encoded.size() <= options_.batch_bytes_max)) {
    bytes += queue_[n].encoded.size();
    ++n;
  }
  taken.assign(std::make_move_iterator(queue_.begin()),
               std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(n)));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
  if (n == 0) return false;
  // Under mu_: two lanes never share a sequence number, and anchors move on.
  header = codec::BatchHeader{};
  header.node_id = options_.node_id;
  header.first_seq = next_seq_;
  header.stamped_ms = now_ms();
  next_seq_ += n;
  if (options_.anchors) {
    header.anchors = options_.anchors(anchored_);
    if (!header.anchors.empty()) anchored_ = header.anchors.back().position;
  }
  return true;
}

void Submitter::run(size_t lane) {
  std::vector<Item> taken;
  codec::BatchHeader header;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (lane == 0) {
        ++idle_;
        any_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        --idle_;
        if (stopping_) return;
        linger(lock);
      } else {
        // An overflow lane: only a full batch, which queued while the
        // lanes before it append. A second lane that took whatever was
        // queued halved the batches and cost the CPU-bound cluster 12 % of
        // its throughput (README, "Performance").
        ++overflow_waiting_;
        full_cv_.wait(lock, [&] { return stopping_ || queue_.size() >= linger_commands(); });
        --overflow_waiting_;
      }
      if (stopping_) return;
      // Another lane may have taken the queue meanwhile.
      if (!take_batch(taken, header)) continue;
      // A batch's worth left behind (batch_commands_max, batch_bytes_max)
      // is a full batch for an overflow lane now, not at the next submit.
      if (overflow_waiting_ > 0 && queue_.size() >= linger_commands()) full_cv_.notify_all();
    }
    append_batch(taken, header, lane);
    taken.clear();
  }
}

// Under load only: when the last batch carried at least
// batch_linger_after_commands, the next waits for batch_linger_commands to
// queue, at most batch_linger_us and never longer than the last append took.
// Fewer, bigger appends: each etcd put costs its three members about the
// same whatever it carries (measured: 2.2 ms of CPU a put on the 2-core
// machine), so a CPU-bound cluster carries more. At low load batches are
// small and nothing waits.
void Submitter::linger(std::unique_lock<std::mutex>& lock) {
  if (options_.batch_linger_us <= 0 || last_batch_commands_ < options_.batch_linger_after_commands) return;
  const auto limit = std::min<std::chrono::steady_clock::duration>(
      std::chrono::microseconds(options_.batch_linger_us), last_append_);
  if (queue_.size() >= linger_commands() || limit <= limit.zero()) return;
  ++lingering_;
  full_cv_.wait_for(lock, limit, [&] { return stopping_ || queue_.size() >= linger_commands(); });
  --lingering_;
}

// The batch that ends a linger: never more than a batch or the queue holds.
size_t Submitter::linger_commands() const {
  return std::max<size_t>(1, std::min({options_.batch_linger_commands, options_.batch_commands_max, queue_limit()}));
}

// A wake is a syscall and a context switch: only of a submitter thread that
// waits for this. One that appends looks at the queue on its own once done;
// lane 0 idle waits for any command (any_cv_); lane 0 lingering and the
// overflow lanes wait for a full batch (full_cv_), so a request at low load
// wakes lane 0 alone.
Submitter::Wake Submitter::wake_needed() const {
  const bool full = (lingering_ > 0 || overflow_waiting_ > 0) && queue_.size() >= linger_commands();
  return Wake{idle_ > 0, full};
}

void Submitter::wake(Wake w) {
  if (w.any) any_cv_.notify_one();  // lane 0 is its only waiter
  if (w.full) full_cv_.notify_all();
}

bool Submitter::pump() {
  std::vector<Item> taken;
  codec::BatchHeader header;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !take_batch(taken, header)) return false;
  }
  append_batch(taken, header, 0);
  return true;
}

// The batch's actor table: each distinct actor once, and each command's
// index into it. None when no command has an actor.
void Submitter::add_actors(const std::vector<Item>& items, codec::BatchHeader& header) {
  bool any = false;
  for (const Item& item : items) any = any || !item.actor.role.empty() || !item.actor.token_id.empty();
  if (!any) return;
  std::unordered_map<std::string, uint16_t> index;
  header.actor_of.reserve(items.size());
  for (const Item& item : items) {
    std::string key = item.actor.role + '\n' + item.actor.token_id;
    auto [it, fresh] = index.try_emplace(std::move(key), static_cast<uint16_t>(header.actors.size()));
    if (fresh) header.actors.push_back(item.actor);
    header.actor_of.push_back(it->second);
  }
}

void Submitter::append_batch(std::vector<Item>& items, codec::BatchHeader& header, size_t lane) {
  // The queue stage, observed outside mu_ (submits wait on it).
  const auto taken_at = std::chrono::steady_clock::now();
  for (const Item& item : items) stage_queue_.observe(taken_at - item.queued_at);
  add_actors(items, header);

  std::vector<std::string> encoded;
  encoded.reserve(items.size());
  // Register every waiter before the append: the applier may apply the batch
  // before append() even returns here.
  for (size_t i = 0; i < items.size(); ++i) {
    encoded.push_back(std::move(items[i].encoded));
    waiters_.add(header.first_seq + i, std::move(items[i].done));
  }
  std::string batch = codec::encode_batch(header, encoded);

  auto t0 = std::chrono::steady_clock::now();
  log::Result<log::Position> pos = log_.append_on(lane, batch);
  const auto t1 = std::chrono::steady_clock::now();
  append_seconds_.observe(t1 - t0);
  stage_append_.observe(t1 - t0);
  {
    std::lock_guard lock(mu_);
    last_append_ = t1 - t0;
    last_batch_commands_ = items.size();
  }
  batch_commands_.observe(static_cast<double>(items.size()));
  if (pos.ok()) {
    batches_.inc();
    waiters_.committed(header.first_seq, t1);
    return;
  }
  append_failures_.inc();
  const log::Error& err = pos.error();
  WriteResult r;
  r.kind = err.code == log::Errc::outcome_unknown ? WriteResult::Kind::outcome_unknown
                                                  : WriteResult::Kind::unavailable;
  r.detail = err.message;
  // The file log is failed for good after an fsync failure
  // (docs/log-format.md); etcd fails one batch and takes the next one.
  if (log_.append_failure_is_permanent(err.code)) {
    spdlog::error("log append failed: {}; this node takes no more writes until it is restarted",
                  err.message);
    std::lock_guard lock(mu_);
    failure_ = "log append failed: " + err.message + "; restart the node";
    healthy_.store(false);
  } else {
    spdlog::warn("log append failed: {}", err.message);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (WriteDone done = waiters_.take(header.first_seq + i)) done(r);
  }
}

}  // namespace betcore::node
