// Which snapshots an archive keeps: recent, daily, weekly.
#include "backup/retention.h"

#include <algorithm>
#include <set>

namespace betcore::backup {
namespace {

constexpr int64_t kDayMs = 86'400'000;

int64_t day_of(int64_t time_ms) {
  return time_ms >= 0 ? time_ms / kDayMs : (time_ms - kDayMs + 1) / kDayMs;
}
// 1970-01-01 was a Thursday: shifting by 3 days starts each week on Monday.
int64_t week_of(int64_t time_ms) {
  int64_t d = day_of(time_ms) + 3;
  return d >= 0 ? d / 7 : (d - 6) / 7;
}

// Keeps the newest snapshot of each of the newest `count` distinct periods.
template <class PeriodOf>
void keep_newest_per_period(const std::vector<SnapshotTime>& s, int count, PeriodOf period_of,
                            std::set<uint64_t>& keep) {
  int periods = 0;
  bool have_last = false;
  int64_t last = 0;
  for (auto it = s.rbegin(); it != s.rend() && periods < count; ++it) {
    const int64_t p = period_of(it->time_ms);
    if (have_last && p == last) continue;
    keep.insert(it->position);
    have_last = true;
    last = p;
    ++periods;
  }
}

}  // namespace

std::vector<uint64_t> snapshots_to_keep(const std::vector<SnapshotTime>& snapshots,
                                        const RetentionPolicy& policy) {
  std::set<uint64_t> keep;
  if (snapshots.empty()) return {};
  keep.insert(snapshots.back().position);
  const int recent = std::max(0, policy.recent);
  for (size_t i = 0; i < snapshots.size() && i < static_cast<size_t>(recent); ++i) {
    keep.insert(snapshots[snapshots.size() - 1 - i].position);
  }
  keep_newest_per_period(snapshots, policy.daily, day_of, keep);
  keep_newest_per_period(snapshots, policy.weekly, week_of, keep);
  return {keep.begin(), keep.end()};
}

}  // namespace betcore::backup
