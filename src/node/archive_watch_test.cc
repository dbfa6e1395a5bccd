// The node's view of its archiver, alone: the hold, its expiry and its file,
// and the alerts.
#include "node/archive_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace betcore::node {
namespace {

ArchiveReport rep(uint64_t from, uint64_t archived, std::optional<uint64_t> shipped) {
  ArchiveReport r;
  r.from = from;
  r.archived = archived;
  r.shipped = shipped;
  return r;
}

// Batch n is stamped at n seconds.
std::optional<int64_t> stamp(uint64_t position) { return static_cast<int64_t>(position) * 1000; }

TEST(ArchiveWatch, HoldsTheLogFromWhatTheArchiverStillNeedsUntilItExpires) {
  ArchiveWatchOptions o;
  o.hold_ms = 10'000;
  ArchiveWatch w(o);
  EXPECT_FALSE(w.active());
  EXPECT_FALSE(w.hold(0).has_value());
  w.report(rep(51, 40, std::nullopt), 1'000);
  EXPECT_TRUE(w.active());
  EXPECT_EQ(w.hold(5'000), 41u);  // archived + 1: batches read but not archived are still needed
  EXPECT_FALSE(w.hold(11'001).has_value());
}

TEST(ArchiveWatch, TheHoldSurvivesARestartThroughItsFile) {
  const std::string path = std::filesystem::temp_directory_path() / ("archive-hold-" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  ArchiveWatchOptions o;
  o.hold_path = path;
  o.hold_ms = 60'000;
  {
    ArchiveWatch w(o);
    w.report(rep(101, 100, std::nullopt), 5'000);
  }
  ArchiveWatch again(o);
  EXPECT_TRUE(again.active());
  EXPECT_EQ(again.hold(6'000), 101u);
  EXPECT_FALSE(again.hold(70'000).has_value());
  // A quiet log: the same position renewed two minutes later is written
  // again, so a restart then still holds it.
  again.report(rep(101, 100, std::nullopt), 125'000);
  ArchiveWatch third(o);
  EXPECT_EQ(third.hold(180'000), 101u);
  std::filesystem::remove(path);
}

TEST(ArchiveWatch, AlertsOnRpoRemoteLagAndSilence) {
  ArchiveWatchOptions o;
  o.rpo_ms = 5'000;
  o.remote_lag_ms = 20'000;
  o.silent_ms = 15'000;
  ArchiveWatch w(o);
  EXPECT_TRUE(w.alerts(100'000, 100, stamp).empty()) << "no archiver has ever reported";
  // Archived to 90 of 100 at t = 100 s: batch 91 is 9 s old; shipped to 70: batch 71 is 29 s old.
  w.report(rep(91, 90, 70), 100'000);
  std::vector<std::string> names;
  for (const ArchiveAlert& a : w.alerts(100'000, 100, stamp)) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"archive_rpo_exceeded", "archive_remote_behind"}));
  auto lags = w.lags(100'000, 100, stamp);
  EXPECT_DOUBLE_EQ(lags.archive_lag_seconds, 9.0);
  EXPECT_DOUBLE_EQ(lags.remote_lag_seconds, 29.0);
  // Caught up: no lag alerts; then silent for 16 s.
  w.report(rep(101, 100, 100), 100'000);
  EXPECT_TRUE(w.alerts(100'500, 100, stamp).empty());
  names.clear();
  for (const ArchiveAlert& a : w.alerts(116'001, 100, stamp)) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"archive_silent"}));
}

// Where the node's log no longer holds the batch after the archive's
// position (compacted), the archiver's own lags, aged since its report, tell.
TEST(ArchiveWatch, TheArchiversOwnLagsCountWhereTheLogCannotTell) {
  ArchiveWatchOptions o;
  o.remote_lag_ms = 20'000;
  ArchiveWatch w(o);
  ArchiveReport r = rep(101, 100, 10);
  r.lag_ms = 0;
  r.remote_lag_ms = 25'000;
  w.report(r, 100'000);
  auto no_stamp = [](uint64_t) { return std::optional<int64_t>(); };
  auto lags = w.lags(102'000, 100, no_stamp);
  EXPECT_DOUBLE_EQ(lags.archive_lag_seconds, 0.0);
  EXPECT_DOUBLE_EQ(lags.remote_lag_seconds, 27.0);
  std::vector<std::string> names;
  for (const ArchiveAlert& a : w.alerts(102'000, 100, no_stamp)) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"archive_remote_behind"}));
}

}  // namespace
}  // namespace betcore::node
