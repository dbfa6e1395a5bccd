// The checker's tap on each node's log (recording_log.h).
#include "sim/recording_log.h"

#include <algorithm>

namespace betcore::sim {

void History::record(uint64_t position, const std::string& batch) {
  auto [it, inserted] = entries.emplace(position, batch);
  if (!inserted && it->second != batch && failures != nullptr && failures->size() < 20) {
    failures->push_back("the log entry at position " + std::to_string(position) +
                        " changed after a node had read (and applied) it");
  }
}

uint64_t History::acked_head_at(int64_t t) const {
  uint64_t best = 0;
  for (const auto& [at, pos] : acked) {
    if (at > t) break;
    best = std::max(best, pos);
  }
  return best;
}

log::Result<log::Position> RecordingLog::append(std::string_view batch) {
  auto r = inner_.append(batch);
  if (r.ok()) history_.acked.emplace_back(world_.now(), r.value().value);
  return r;
}

log::Result<std::vector<log::Entry>> RecordingLog::read(log::Position from, size_t entries_max,
                                                        size_t bytes_max, int wait_ms) {
  auto r = inner_.read(from, entries_max, bytes_max, wait_ms);
  if (r.ok() && *skip_one_entry_ && r.value().size() >= 2 && r.value()[0].position.value > 40) {
    // Sabotage (checker tests): this node never sees one entry.
    *skip_one_entry_ = false;
    r.value().erase(r.value().begin());
  }
  if (r.ok()) {
    for (const log::Entry& e : r.value()) history_.record(e.position.value, e.batch);
  }
  return r;
}

}  // namespace betcore::sim
