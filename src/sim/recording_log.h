// The checker's tap on each node's log: every entry a node read and every
// append answered durable, gathered into one History across all nodes and
// all their incarnations.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "log/log.h"
#include "sim/world.h"

namespace betcore::sim {

// The full committed history, as nodes read it.
struct History {
  std::map<uint64_t, std::string> entries;          // position -> batch
  std::vector<std::pair<int64_t, uint64_t>> acked;  // (time, position): appends answered durable
  std::vector<std::string>* failures = nullptr;

  // An entry that changes after a node read it is a failure (for the file
  // log: a durability bug across crashes).
  void record(uint64_t position, const std::string& batch);
  // The highest position answered durable at or before `t`.
  uint64_t acked_head_at(int64_t t) const;
};

// Passes every call to the node's log and records what was durably appended
// and what was read, for the checker.
class RecordingLog final : public log::Log {
 public:
  RecordingLog(log::Log& inner, History& history, World& world, bool* skip_one_entry)
      : inner_(inner), history_(history), world_(world), skip_one_entry_(skip_one_entry) {}
  log::Result<log::Position> append(std::string_view batch) override;
  log::Result<std::vector<log::Entry>> read(log::Position from, size_t entries_max,
                                            size_t bytes_max, int wait_ms) override;
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
  bool* skip_one_entry_;  // sabotage (checker tests): drop one entry once
};

}  // namespace betcore::sim
