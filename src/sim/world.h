// The simulator's world: one seeded random source and one clock, and a queue
// of events run in (time, order of scheduling) order, all on one thread. The
// same seed gives the same run, event for event (docs/simulation.md).
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <vector>

#include "tools/splitmix.h"

namespace betcore::sim {

// The run's one random source (tools/splitmix.h, header-only: betcore_sim
// does not link betcore_tools).
using Rng = tools::SplitMix64;

class World {
 public:
  explicit World(uint64_t seed, int64_t start_ms) : rng(seed), now_(start_ms), start_(start_ms) {}

  Rng rng;

  int64_t now() const { return now_; }
  int64_t elapsed() const { return now_ - start_; }

  // Runs fn at now() + delay_ms (>= 0), after everything already scheduled
  // for that same moment.
  void after(int64_t delay_ms, std::function<void()> fn) {
    queue_.push(Item{now_ + (delay_ms < 0 ? 0 : delay_ms), order_++, std::move(fn)});
  }

  // Runs the next event; false when there is none.
  bool step() {
    if (queue_.empty()) return false;
    Item item = queue_.top();
    queue_.pop();
    now_ = item.at;
    ++events_;
    // Every event goes into the trace hash: two runs of one seed must
    // produce the same (time, order) sequence.
    trace_ = (trace_ ^ static_cast<uint64_t>(item.at)) * 0x100000001b3ULL;
    trace_ = (trace_ ^ item.order) * 0x100000001b3ULL;
    item.fn();
    return true;
  }
  bool empty() const { return queue_.empty(); }

  // Mixes an observation (an answer, a fault) into the trace.
  void trace(uint64_t v) { trace_ = (trace_ ^ v) * 0x100000001b3ULL; }
  uint64_t trace_hash() const { return trace_; }
  uint64_t events() const { return events_; }

 private:
  struct Item {
    int64_t at;
    uint64_t order;
    std::function<void()> fn;
    bool operator<(const Item& o) const {  // priority_queue: the largest first
      return at != o.at ? at > o.at : order > o.order;
    }
  };
  std::priority_queue<Item> queue_;
  int64_t now_;
  int64_t start_;
  uint64_t order_ = 0;
  uint64_t events_ = 0;
  uint64_t trace_ = 0xcbf29ce484222325ULL;
};

}  // namespace betcore::sim
