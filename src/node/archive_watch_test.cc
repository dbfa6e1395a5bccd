// The node's view of its archiver, alone: the hold, its expiry and its file,
// and the alerts.
#include "node/archive_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace betcore::node {
namespace {

// Batch n is stamped at n seconds.
std::optional<int64_t> stamp(uint64_t position) { return static_cast<int64_t>(position) * 1000; }

TEST(ArchiveWatch, HoldsTheLogFromWhatTheArchiverStillNeedsUntilItExpires) {
  ArchiveWatchOptions o;
  o.hold_ms = 10'000;
  ArchiveWatch w(o);
  EXPECT_FALSE(w.active());
  EXPECT_FALSE(w.hold(0).has_value());
  w.report({.from = 51, .archived = 40, .shipped = std::nullopt}, 1'000);
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
    w.report({.from = 101, .archived = 100, .shipped = std::nullopt}, 5'000);
  }
  ArchiveWatch again(o);
  EXPECT_TRUE(again.active());
  EXPECT_EQ(again.hold(6'000), 101u);
  EXPECT_FALSE(again.hold(70'000).has_value());
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
  w.report({.from = 91, .archived = 90, .shipped = 70}, 100'000);
  std::vector<std::string> names;
  for (const ArchiveAlert& a : w.alerts(100'000, 100, stamp)) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"archive_rpo_exceeded", "archive_remote_behind"}));
  auto lags = w.lags(100'000, 100, stamp);
  EXPECT_DOUBLE_EQ(lags.archive_lag_seconds, 9.0);
  EXPECT_DOUBLE_EQ(lags.remote_lag_seconds, 29.0);
  // Caught up: no lag alerts; then silent for 16 s.
  w.report({.from = 101, .archived = 100, .shipped = 100}, 100'000);
  EXPECT_TRUE(w.alerts(100'500, 100, stamp).empty());
  names.clear();
  for (const ArchiveAlert& a : w.alerts(116'001, 100, stamp)) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"archive_silent"}));
}

}  // namespace
}  // namespace betcore::node
