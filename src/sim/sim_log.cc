#include "sim/sim_log.h"

#include <algorithm>

namespace betcore::sim {

uint64_t SharedLog::commit(std::string batch) {
  // etcd revisions also count puts to other keys (node records): gaps.
  uint64_t position = next_;
  next_ += 1 + world_.rng.below(3);
  entries_.push_back(Stored{position, world_.now(), std::move(batch)});
  world_.trace(position);
  return position;
}

uint64_t SharedLog::head_at(int64_t t) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), t,
                             [](int64_t v, const Stored& s) { return v < s.committed_at; });
  return it == entries_.begin() ? 0 : std::prev(it)->position;
}

size_t SharedLog::lower_bound(uint64_t position) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), position,
                             [](const Stored& s, uint64_t v) { return s.position < v; });
  return static_cast<size_t>(it - entries_.begin());
}

bool SimLogView::cut_off() const { return world_.now() < link_.partitioned_until || shared_.down(); }

log::Result<log::Position> SimLogView::append(std::string_view batch) {
  if (closed_) return log::Error{log::Errc::closed, "the log is closed"};
  if (cut_off()) {
    ++link_.appends_failed;
    return log::Error{log::Errc::unavailable, "etcd unreachable (simulated partition or lost quorum)"};
  }
  uint64_t roll = world_.rng.below(1000);
  if (roll < link_.append_fail_pm) {
    ++link_.appends_failed;
    return log::Error{log::Errc::unavailable, "append refused (simulated)"};
  }
  roll -= link_.append_fail_pm;
  if (roll < link_.append_unknown_pm) {
    ++link_.appends_unknown;
    shared_.commit(std::string(batch));
    return log::Error{log::Errc::outcome_unknown, "append timed out; it committed (simulated)"};
  }
  roll -= link_.append_unknown_pm;
  if (roll < link_.append_late_pm) {
    ++link_.appends_late;
    SharedLog* shared = &shared_;
    ++shared_.late_pending;
    world_.after(world_.rng.between(1, 400), [shared, b = std::string(batch)]() mutable {
      --shared->late_pending;
      shared->commit(std::move(b));
    });
    return log::Error{log::Errc::outcome_unknown, "append timed out; it commits later (simulated)"};
  }
  return log::Position{shared_.commit(std::string(batch))};
}

log::Result<std::vector<log::Entry>> SimLogView::read(log::Position from, size_t entries_max,
                                                      size_t bytes_max, int /*wait_ms*/) {
  if (closed_) return log::Error{log::Errc::closed, "the log is closed"};
  if (world_.now() < link_.partitioned_until || world_.now() < link_.watch_broken_until) {
    ++link_.reads_refused;
    return log::Error{log::Errc::unavailable, "watch broken (simulated); resuming"};
  }
  if (from.value < shared_.first_kept()) {
    log::Error e{log::Errc::compacted, "position " + std::to_string(from.value) +
                                           " was compacted; the log starts at " +
                                           std::to_string(shared_.first_kept())};
    e.position = shared_.first_kept();
    return e;
  }
  std::vector<log::Entry> out;
  const auto& all = shared_.entries();
  size_t bytes = 0;
  int64_t visible_until = world_.now() - link_.delivery_delay_ms;
  for (size_t i = shared_.lower_bound(from.value); i < all.size() && out.size() < entries_max; ++i) {
    if (all[i].committed_at > visible_until) break;
    if (!out.empty() && bytes + all[i].batch.size() > bytes_max) break;
    bytes += all[i].batch.size();
    out.push_back(log::Entry{log::Position{all[i].position}, all[i].batch});
  }
  return out;
}

log::Result<log::Position> SimLogView::head() {
  if (closed_) return log::Error{log::Errc::closed, "the log is closed"};
  if (cut_off()) return log::Error{log::Errc::unavailable, "etcd unreachable (simulated)"};
  return log::Position{shared_.head()};
}

log::Result<log::Ok> SimLogView::compact(log::Position before) {
  if (closed_) return log::Error{log::Errc::closed, "the log is closed"};
  link_.needs_from = before.value;
  return log::Ok{};
}

}  // namespace betcore::sim
