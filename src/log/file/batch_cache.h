// The most recently appended batches, kept in memory so that the applier,
// which tails what the submitter just appended, reads them without touching
// the disk. Bounded in bytes; the oldest batches are evicted first.
//
// Not thread-safe: FileLog guards it with its mutex.
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "domain/assert.h"
#include "log/log.h"

namespace betcore::log::file {

class BatchCache {
 public:
  explicit BatchCache(size_t bytes_max) : bytes_max_(bytes_max) {}

  // Adds the newest batch and evicts the oldest ones until the cache fits in
  // bytes_max (a batch larger than bytes_max is not kept at all).
  // REQUIRES: empty() or entry.position == last position + 1.
  void push(Entry entry);

  // True when push() would keep a batch of `batch_bytes` (a bigger one would
  // only empty the cache): lets the caller skip copying it.
  bool keeps(size_t batch_bytes) const { return batch_bytes + sizeof(Entry) <= bytes_max_; }

  // Forgets everything (a batch too big to keep breaks the contiguous run).
  void clear();

  // True when the batch at `position` is in the cache.
  bool contains(Position position) const;

  // Appends batches from `from` on to `out`: at most `entries_max`, and no
  // more than `bytes_max` payload bytes, except that it adds one batch to an
  // empty `out` whatever its size (a read returns at least one entry).
  // REQUIRES: contains(from).
  void copy_from(Position from, size_t entries_max, size_t bytes_max,
                 std::vector<Entry>& out) const;

  // Forgets batches below `position` (they were compacted).
  void drop_below(Position position);

  bool empty() const { return entries_.empty(); }
  // REQUIRES: !empty().
  Position first() const {
    BETCORE_ASSERT(!entries_.empty());
    return entries_.front().position;
  }
  Position last() const {
    BETCORE_ASSERT(!entries_.empty());
    return entries_.back().position;
  }
  size_t bytes() const { return bytes_; }

 private:
  // What an entry costs: its payload and its bookkeeping.
  static size_t cost_bytes(const Entry& entry) { return entry.batch.size() + sizeof(Entry); }
  void pop_front();

  std::deque<Entry> entries_;  // contiguous positions, oldest first
  size_t bytes_ = 0;           // sum of cost_bytes over entries_
  const size_t bytes_max_;  // immutable: keeps() may be called without the lock
};

}  // namespace betcore::log::file
