// The simulated command log: an in-memory model of the etcd backend (one
// shared, totally ordered log whose positions are revisions with gaps, a
// quorum that can be lost, compaction), seen by each node through its own
// SimLogView, with that node's faults: appends that fail, that time out
// although they committed, or that commit late; watch streams that break;
// delivery that lags; a partition from the log.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "log/log.h"
#include "sim/world.h"

namespace betcore::sim {

class SharedLog {
 public:
  struct Stored {
    uint64_t position;
    int64_t committed_at;
    std::string batch;
  };

  explicit SharedLog(World& world) : world_(world) {}

  // Commits a batch now and returns its position.
  uint64_t commit(std::string batch);
  uint64_t head() const { return entries_.empty() ? 0 : entries_.back().position; }
  // The last position committed at or before `t`.
  uint64_t head_at(int64_t t) const;
  const std::vector<Stored>& entries() const { return entries_; }
  // The index in entries() of the first entry at or after `position`.
  size_t lower_bound(uint64_t position) const;

  // Positions below `first_kept` are gone for readers (etcd compaction).
  uint64_t first_kept() const { return first_kept_; }
  void compact_to(uint64_t before) {
    if (before > first_kept_) first_kept_ = before;
  }

  uint64_t late_pending = 0;  // appends answered outcome_unknown that commit later

  // Quorum lost: no append commits, no head can be read.
  int64_t down_until = 0;
  bool down() const { return world_.now() < down_until; }

 private:
  World& world_;
  std::vector<Stored> entries_;
  uint64_t next_ = 1;
  uint64_t first_kept_ = 1;
};

// One node's link to the shared log, and the faults on it. Outlives the
// node's incarnations (a restarted node keeps its link).
struct LogLink {
  int64_t partitioned_until = 0;     // no append, no head, no read
  int64_t watch_broken_until = 0;    // reads fail (the watch is resumed after)
  int64_t delivery_delay_ms = 1;     // an entry reaches this node this long after its commit
  uint32_t append_fail_pm = 0;       // per mille: refused, not committed (unavailable)
  uint32_t append_unknown_pm = 0;    // committed, but answered outcome_unknown
  uint32_t append_late_pm = 0;       // answered outcome_unknown, committed later
  uint64_t needs_from = 0;           // what this node asked to keep (compact(before))
  // Counters for the report.
  uint64_t appends_failed = 0, appends_unknown = 0, appends_late = 0, reads_refused = 0;
};

class SimLogView final : public log::Log {
 public:
  SimLogView(World& world, SharedLog& shared, LogLink& link) : world_(world), shared_(shared), link_(link) {}

  log::Result<log::Position> append(std::string_view batch) override;
  log::Result<std::vector<log::Entry>> read(log::Position from, size_t entries_max, size_t bytes_max,
                                            int wait_ms) override;
  log::Result<log::Position> head() override;
  log::Result<log::Ok> compact(log::Position before) override;
  void close() override { closed_ = true; }
  bool append_failure_is_permanent(log::Errc code) const override { return code == log::Errc::closed; }

 private:
  bool cut_off() const;

  World& world_;
  SharedLog& shared_;
  LogLink& link_;
  bool closed_ = false;
};

}  // namespace betcore::sim
