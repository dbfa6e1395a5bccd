// What an embedded node knows of its archiver (`betcore backup run`,
// docs/backup.md): the log it must keep for it, how far it has archived and
// shipped off the machine, and the alerts that follow from that.
//
// The archiver reads the log through GET /v1/log and says, on each read, the
// last position it has archived and the last one its remote copy confirmed.
// The node keeps its log from the first position the archiver still needs
// (a hold) for `hold_ms` after the archiver's last read, across restarts (the
// hold is kept in a file), so an archiver that was down for a while resumes
// without a gap. The wall clock is read here, never in the state machine.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace betcore::node {

struct ArchiveWatchOptions {
  std::string hold_path;                         // "" keeps the hold in memory only (tests)
  int64_t hold_ms = 24ll * 3600 * 1000;          // an archiver silent this long loses its hold
  int64_t rpo_ms = 5'000;                        // oldest unarchived batch older: alert
  int64_t remote_lag_ms = 60'000;                // oldest unshipped batch older: alert
  int64_t silent_ms = 15'000;                    // no read from the archiver this long: alert
};

struct ArchiveReport {
  uint64_t from = 0;                    // the position it reads from
  uint64_t archived = 0;                // last position durably in its archive
  std::optional<uint64_t> shipped;      // last position its remote copy confirmed (none: no remote)
  // The archiver's own measure of its lags, when it sends them (it knows
  // its pending batches' stamps even where this node's log was compacted).
  std::optional<int64_t> lag_ms;
  std::optional<int64_t> remote_lag_ms;
};

struct ArchiveAlert {
  std::string name;
  std::string summary;
  std::string action;
};

// The batch stamp (ms) at a position, or nullopt when the log has no batch there.
using StampAt = std::function<std::optional<int64_t>(uint64_t position)>;

class ArchiveWatch {
 public:
  explicit ArchiveWatch(ArchiveWatchOptions options);

  // Thread-safe.
  void report(const ArchiveReport& report, int64_t now_ms);
  // The first log position to keep for the archiver, if it holds one now.
  std::optional<uint64_t> hold(int64_t now_ms) const;
  // Whether an archiver has ever reported to this node (or held its log).
  bool active() const;

  struct Lags {
    uint64_t archived = 0;
    std::optional<uint64_t> shipped;
    double archive_lag_seconds = 0;  // age of the oldest batch not yet archived (0: none)
    double remote_lag_seconds = 0;   // age of the oldest batch not yet shipped
    double report_age_seconds = 0;   // since the archiver's last read
  };
  Lags lags(int64_t now_ms, uint64_t head, const StampAt& stamp_at) const;
  std::vector<ArchiveAlert> alerts(int64_t now_ms, uint64_t head, const StampAt& stamp_at) const;

 private:
  void persist_locked(int64_t now_ms);

  const ArchiveWatchOptions options_;
  mutable std::mutex mu_;
  std::optional<ArchiveReport> last_;  // guarded by mu_
  int64_t last_at_ms_ = 0;             // guarded by mu_
  uint64_t held_from_ = 0;             // guarded by mu_ (0: no hold)
  int64_t held_at_ms_ = 0;             // guarded by mu_: when the hold was last renewed
  int64_t persisted_at_ms_ = 0;        // guarded by mu_
  uint64_t persisted_from_ = 0;        // guarded by mu_
};

struct HoldRecord;
// Cluster mode: the same alerts from the archivers' hold records in etcd.
std::vector<ArchiveAlert> hold_alerts(const std::vector<HoldRecord>& holds,
                                      const ArchiveWatchOptions& options, int64_t now_ms);

}  // namespace betcore::node
