// Requests waiting for their command to be applied, keyed by the submitter's
// sequence number. A waiter is taken exactly once: by the applier when its
// command is applied, or by the submitter when the append failed.
//
// Thread-safe: the submitter registers and fails, the applier takes.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "domain/state_machine.h"
#include "ops/metrics.h"

namespace betcore::node {

struct WriteResult {
  enum class Kind {
    applied,          // outcome and state are set (state right after the command)
    outcome_unknown,  // the append may or may not have committed: retry with the same id
    unavailable,      // the log refused the append: nothing was written
  };
  Kind kind = Kind::applied;
  const domain::Outcome* outcome = nullptr;
  const domain::State* state = nullptr;
  uint64_t index = 0;      // the batch's log position (applied only)
  std::string detail;      // for a person, on failures
};

// Runs on the applier thread (applied) or the submitter thread (failures).
// Must not block: render the answer and hand it to the network thread.
using WriteDone = std::function<void(const WriteResult&)>;

class Waiters {
 public:
  void add(uint64_t seq, WriteDone done) {
    std::lock_guard lock(mu_);
    map_.emplace(seq, std::move(done));
  }
  // The waiter for `seq`, removed; empty if none (already answered, or a
  // command from another process).
  WriteDone take(uint64_t seq) {
    std::lock_guard lock(mu_);
    auto it = map_.find(seq);
    if (it == map_.end()) return {};
    WriteDone d = std::move(it->second);
    map_.erase(it);
    return d;
  }
  // Every waiter (a bootstrap jumped past their batches: their fate is unknown
  // to this node, and a retry with the same id tells).
  std::vector<WriteDone> take_all() {
    std::lock_guard lock(mu_);
    std::vector<WriteDone> out;
    for (auto& [seq, done] : map_) out.push_back(std::move(done));
    map_.clear();
    return out;
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return map_.size();
  }

  // The commit_to_applied stage (ops/request_stage.h) of this node's
  // batches, named by their first sequence number: the submitter says when
  // the append was answered, the applier when it applied the batch (only
  // batches with a waiter: not those of earlier runs it replays). The second
  // of the two observes applied - committed, 0 when the applier came first
  // (the watch delivered the batch before the put's answer arrived).
  // Without a histogram, nothing.
  using Clock = std::chrono::steady_clock;
  void set_stage_histogram(ops::Histogram* h) { stage_ = h; }
  void committed(uint64_t first_seq, Clock::time_point at) { meet(first_seq, at, true); }
  void applied(uint64_t first_seq, Clock::time_point at) { meet(first_seq, at, false); }

 private:
  struct Half {
    Clock::time_point at;
    bool committed;
  };
  void meet(uint64_t first_seq, Clock::time_point at, bool committed) {
    if (stage_ == nullptr) return;
    std::lock_guard lock(stage_mu_);
    auto [it, first] = halves_.try_emplace(first_seq, Half{at, committed});
    if (first) {
      // A batch whose other half never comes (a failed append that landed
      // after all, a bootstrap past it) must not pile up.
      if (halves_.size() > kHalvesMax) {
        halves_.clear();
        halves_.emplace(first_seq, Half{at, committed});
      }
      return;
    }
    if (it->second.committed != committed) {
      const Clock::time_point committed_at = committed ? at : it->second.at;
      const Clock::time_point applied_at = committed ? it->second.at : at;
      stage_->observe(std::max(Clock::duration::zero(), applied_at - committed_at));
    }
    halves_.erase(it);
  }

  static constexpr size_t kHalvesMax = 4096;
  mutable std::mutex mu_;
  absl::flat_hash_map<uint64_t, WriteDone> map_;  // guarded by mu_
  ops::Histogram* stage_ = nullptr;  // set before the submitter and applier start
  std::mutex stage_mu_;
  absl::flat_hash_map<uint64_t, Half> halves_;  // guarded by stage_mu_
};

}  // namespace betcore::node
