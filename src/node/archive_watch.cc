// What an embedded node knows of its archiver: hold, lags, alerts.
#include "node/archive_watch.h"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "log/file/posix_file.h"
#include "node/cluster_member.h"

namespace betcore::node {
namespace {

double age_seconds(int64_t now_ms, uint64_t done, uint64_t head, const StampAt& stamp_at) {
  if (done >= head) return 0;
  std::optional<int64_t> stamp = stamp_at(done + 1);
  if (!stamp) return 0;
  return static_cast<double>(std::max<int64_t>(0, now_ms - *stamp)) / 1000.0;
}

}  // namespace

ArchiveWatch::ArchiveWatch(ArchiveWatchOptions options) : options_(std::move(options)) {
  if (options_.hold_path.empty()) return;
  // "<first position kept> <renewed at, unix ms>"
  std::ifstream in(options_.hold_path);
  uint64_t from = 0;
  int64_t at = 0;
  if (in >> from >> at && from > 0) {
    held_from_ = persisted_from_ = from;
    held_at_ms_ = persisted_at_ms_ = at;
    spdlog::info("archive hold: keeping the log from position {} for the archiver (file {})", from,
                 options_.hold_path);
  }
}

void ArchiveWatch::report(const ArchiveReport& report, int64_t now_ms) {
  std::lock_guard lock(mu_);
  last_ = report;
  last_at_ms_ = now_ms;
  held_from_ = std::max<uint64_t>(1, std::min(report.from, report.archived + 1));
  held_at_ms_ = now_ms;
  // At most once a second when the position moved, and once a minute when
  // it did not (the file's renewal time must not go stale on a quiet log):
  // losing the newest renewal in a crash only makes the hold a little older.
  const int64_t since = now_ms - persisted_at_ms_;
  if ((held_from_ != persisted_from_ && since >= 1'000) || since >= 60'000) persist_locked(now_ms);
}

void ArchiveWatch::persist_locked(int64_t now_ms) {
  if (options_.hold_path.empty()) return;
  auto written = log::file::write_file_atomically(options_.hold_path,
                                                  fmt::format("{} {}\n", held_from_, held_at_ms_));
  if (!written) {
    spdlog::warn("archive hold: cannot write {}: {}", options_.hold_path, written.error().message);
    return;
  }
  persisted_from_ = held_from_;
  persisted_at_ms_ = now_ms;
}

std::optional<uint64_t> ArchiveWatch::hold(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  if (held_from_ == 0 || options_.hold_ms <= 0 || now_ms - held_at_ms_ > options_.hold_ms) {
    return std::nullopt;
  }
  return held_from_;
}

bool ArchiveWatch::active() const {
  std::lock_guard lock(mu_);
  return last_.has_value() || held_from_ != 0;
}

ArchiveWatch::Lags ArchiveWatch::lags(int64_t now_ms, uint64_t head, const StampAt& stamp_at) const {
  std::optional<ArchiveReport> last;
  int64_t at_ms = 0;
  {
    std::lock_guard lock(mu_);
    last = last_;
    at_ms = last_at_ms_;
  }
  Lags l;
  if (!last) return l;
  l.archived = last->archived;
  l.shipped = last->shipped;
  l.report_age_seconds = static_cast<double>(std::max<int64_t>(0, now_ms - at_ms)) / 1000.0;
  // A lag the archiver reported grows with the time since it reported it.
  auto reported = [&](int64_t lag_ms) {
    return lag_ms > 0 ? static_cast<double>(lag_ms) / 1000.0 + l.report_age_seconds : 0.0;
  };
  l.archive_lag_seconds = last->lag_ms ? reported(*last->lag_ms)
                                       : age_seconds(now_ms, last->archived, head, stamp_at);
  if (last->shipped) {
    l.remote_lag_seconds = last->remote_lag_ms ? reported(*last->remote_lag_ms)
                                               : age_seconds(now_ms, *last->shipped, head, stamp_at);
  }
  return l;
}

std::vector<ArchiveAlert> ArchiveWatch::alerts(int64_t now_ms, uint64_t head,
                                               const StampAt& stamp_at) const {
  std::vector<ArchiveAlert> out;
  if (!active()) return out;
  Lags l = lags(now_ms, head, stamp_at);
  const std::string runbook = "see docs/runbooks/archive-behind.md";
  int64_t silent_for_ms = 0;
  {
    std::lock_guard lock(mu_);
    // Before its first read since this node started: since the renewal the
    // hold file recorded.
    silent_for_ms = now_ms - (last_ ? last_at_ms_ : held_at_ms_);
  }
  if (silent_for_ms > options_.silent_ms) {
    out.push_back({"archive_silent",
                   fmt::format("the archiver last read the log {} s ago: acknowledged writes after "
                               "position {} are on this machine only",
                               silent_for_ms / 1000, l.archived),
                   "none automatic: start `betcore backup run`; " + runbook});
  }
  if (l.archive_lag_seconds * 1000 > static_cast<double>(options_.rpo_ms)) {
    out.push_back({"archive_rpo_exceeded",
                   fmt::format("the oldest batch not yet archived is {:.1f} s old (RPO {} ms); archived to "
                               "position {} of {}",
                               l.archive_lag_seconds, options_.rpo_ms, l.archived, head),
                   "none automatic: check the archiver's log and its disk; " + runbook});
  }
  if (l.shipped && l.remote_lag_seconds * 1000 > static_cast<double>(options_.remote_lag_ms)) {
    out.push_back({"archive_remote_behind",
                   fmt::format("the remote copy is {:.0f} s behind (shipped to position {} of {})",
                               l.remote_lag_seconds, *l.shipped, head),
                   "none automatic: the archiver retries; check the SSH target; " + runbook});
  }
  return out;
}

std::vector<ArchiveAlert> hold_alerts(const std::vector<HoldRecord>& holds,
                                      const ArchiveWatchOptions& options, int64_t now_ms) {
  std::vector<ArchiveAlert> out;
  const std::string runbook = "see docs/runbooks/archive-behind.md";
  for (const HoldRecord& h : holds) {
    if (now_ms - h.at_ms > options.silent_ms) {
      out.push_back({"archive_silent",
                     fmt::format("archiver {} last renewed its hold {} s ago: acknowledged writes after "
                                 "position {} may not be archived",
                                 h.name, (now_ms - h.at_ms) / 1000, h.archived),
                     "none automatic: start `betcore backup run`; " + runbook});
    }
    if (h.lag_ms > options.rpo_ms) {
      out.push_back({"archive_rpo_exceeded",
                     fmt::format("archiver {}: the oldest batch not yet archived is {:.1f} s old (RPO {} ms)",
                                 h.name, static_cast<double>(h.lag_ms) / 1000.0, options.rpo_ms),
                     "none automatic: check the archiver's log and its disk; " + runbook});
    }
    if (h.remote_lag_ms > options.remote_lag_ms) {
      out.push_back({"archive_remote_behind",
                     fmt::format("archiver {}: the remote copy is {:.0f} s behind", h.name,
                                 static_cast<double>(h.remote_lag_ms) / 1000.0),
                     "none automatic: the archiver retries; check the SSH target; " + runbook});
    }
  }
  return out;
}

}  // namespace betcore::node
