// The journal of committed domain events behind GET /v1/stream: every event
// of every applied batch as one rendered JSON line, keyed by (index, seq),
// kept in memory up to a byte bound. It is rebuilt on restart by the replay
// after the snapshot, so it holds the events of every batch since the newest
// snapshot at least; a consumer further behind is told so and must resync
// from the API (docs/stream.md).
//
// Thread-safe: the applier appends and publishes; stream sessions read.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace betcore::node {

struct StreamCursor {
  uint64_t index = 0;  // events strictly after (index, seq) are next
  uint32_t seq = 0;
};

class EventJournal {
 public:
  explicit EventJournal(size_t bytes_max) : bytes_max_(bytes_max) {}

  // Events of batches before `index` were never journaled (they are in the
  // snapshot this node started from).
  void set_first_covered(uint64_t index);
  // Forgets every event: the state was replaced by a snapshot at
  // `first_covered - 1` (a bootstrap). Streams before it see a gap.
  void restart_at(uint64_t first_covered);

  // Applier thread: one rendered line (ending in '\n') for event (index, seq).
  void append(uint64_t index, uint32_t seq, std::string line);

  // Applier thread, after each batch: wakes every live subscriber.
  void publish();

  // Appends to `out` the lines after `cursor`, at most about `bytes_max`
  // (always whole lines, at least one if any), and returns the cursor after
  // the last one copied. Sets `*gap` (and copies nothing) when lines after
  // `cursor` were dropped. Thread-safe.
  StreamCursor read_after(StreamCursor cursor, std::string& out, size_t bytes_max, bool* gap) const;

  // The smallest index from which every event is still kept.
  uint64_t first_covered() const;

  // True when an event after `cursor` was dropped to keep the byte bound: a
  // reader there would skip it, so it must resync instead.
  bool dropped_after(StreamCursor cursor) const;

  // `wake` runs on the applier thread after each batch until it returns
  // false (its subscriber is gone); it may hold its subscriber alive.
  void subscribe(std::function<bool()> wake);

 private:
  struct Line {
    uint64_t index;
    uint32_t seq;
    std::string text;
  };

  const size_t bytes_max_;
  mutable std::mutex mu_;
  std::deque<Line> lines_;        // guarded by mu_, ordered by (index, seq)
  size_t bytes_ = 0;              // guarded by mu_
  bool dropped_any_ = false;      // guarded by mu_
  StreamCursor dropped_through_;  // guarded by mu_: the last line dropped
  uint64_t first_covered_ = 1;    // guarded by mu_
  std::vector<std::function<bool()>> subs_;  // guarded by mu_
};

}  // namespace betcore::node
