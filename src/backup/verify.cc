// `betcore backup verify`: replay everything, restore every restore point.
#include "backup/verify.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "backup/archiver.h"
#include "backup/restore.h"
#include "codec/snapshot.h"
#include "log/file/file_log.h"
#include "node/snapshot_store.h"

namespace betcore::backup {
namespace fs = std::filesystem;

std::string VerifyReport::to_json() const {
  nlohmann::json j = {{"ok", ok},
                      {"error", error},
                      {"segments", segments},
                      {"snapshots", snapshots},
                      {"batches", batches},
                      {"digests_checked", digests_checked},
                      {"restore_points", restore_points},
                      {"first_position", first_position},
                      {"last_position", last_position},
                      {"warnings", warnings},
                      {"seconds", seconds},
                      {"finished_at_ms", finished_at_ms}};
  return j.dump();
}

bool check_data_dir(const std::string& dir, uint64_t position, const std::string& digest,
                    std::string& error) {
  auto opened = log::FileLog::open(dir + "/log", log::FileLog::Options{});
  if (!opened.ok()) {
    error = "the restored log does not open: " + opened.error().message;
    return false;
  }
  auto head = opened.value()->head();
  if (!head.ok() || head.value().value != position) {
    error = fmt::format("the restored log's head is {}, not {}", head.ok() ? head.value().value : 0,
                        position);
    return false;
  }
  node::SnapshotStore store(dir + "/snapshots");
  node::LoadedSnapshot snap = store.load_latest(position);
  if (!snap.state || snap.index != position) {
    error = fmt::format("the restored data directory has no usable snapshot at {}", position);
    return false;
  }
  if (codec::state_digest(*snap.state) != digest) {
    error = fmt::format("the restored snapshot at {} does not have digest {}", position, digest);
    return false;
  }
  return true;
}

namespace {

constexpr int kAttemptsMax = 3;

// The archive's files now, for "did it change while verify ran".
std::vector<std::string> file_names(const Archive& archive) {
  Catalog c = archive.scan();
  std::vector<std::string> names;
  for (const SegmentRef& s : c.segments) names.push_back(s.name);
  for (const SnapshotRef& s : c.snapshots) names.push_back(s.name);
  return names;
}

// Restores `target` into DIR and opens it; false with report.error set.
bool restore_point(const Archive& archive, const Key& key, const RestoreTarget& target,
                   const std::string& dir, VerifyReport& report) {
  RestoreReport r = restore_state(archive, key, target);
  if (!r.ok) {
    report.error = "restore to " + target.describe() + ": " + r.error;
    return false;
  }
  if (!r.warnings.empty()) {
    report.error = "restore to " + target.describe() + ": " + r.warnings.front();
    return false;
  }
  if (!r.digest_checked && target.kind != RestoreTarget::Kind::latest) {
    report.error = "restore to " + target.describe() + ": digest " + r.proof;
    return false;
  }
  std::string error;
  if (!write_data_dir(dir, r.encoded, r.position, error) ||
      !check_data_dir(dir, r.position, r.digest, error)) {
    report.error = "restore to " + target.describe() + ": " + error;
    return false;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  ++report.restore_points;
  return true;
}

// Long: the checks in order, each failing the verify with what it found.
bool run_checks(const Archive& archive, const Key& key, const std::string& scratch,
                VerifyReport& report) {
  Catalog catalog = archive.scan();
  report.segments = catalog.segments.size();
  report.snapshots = catalog.snapshots.size();
  RestoreOptions everything;
  everything.check_everything = true;
  RestoreReport walk = restore_state(archive, key, RestoreTarget{}, everything);
  report.warnings = walk.warnings;
  if (!walk.ok) {
    report.error = walk.error;
    return false;
  }
  if (!walk.warnings.empty()) {
    report.error = walk.warnings.front();
    return false;
  }
  report.batches = walk.batches_replayed;
  report.digests_checked = walk.digests_checked;
  report.first_position = walk.base == "the log's start" || catalog.snapshots.empty()
                              ? 0
                              : catalog.snapshots.front().position;
  report.last_position = walk.position;
  for (const SnapshotRef& s : catalog.snapshots) {
    RestoreTarget t;
    t.kind = RestoreTarget::Kind::position;
    t.position = s.position;
    if (!restore_point(archive, key, t, fmt::format("{}/point-{}", scratch, s.position), report))
      return false;
  }
  return restore_point(archive, key, RestoreTarget{}, scratch + "/point-latest", report);
}

}  // namespace

VerifyReport verify_archive(const Archive& archive, const Key& key, const std::string& scratch_in) {
  const auto t0 = std::chrono::steady_clock::now();
  VerifyReport report;
  std::string scratch = scratch_in;
  std::error_code ec;
  if (scratch.empty()) {
    scratch = (fs::temp_directory_path(ec) / fmt::format("betcore-verify-{}", ::getpid())).string();
  }
  if (fs::exists(scratch, ec) && !fs::is_empty(scratch, ec)) {
    report.error = scratch + " is not empty: give verify an empty scratch directory";
  } else {
    fs::create_directories(scratch, ec);
    // A running archiver writes and prunes while verify reads: a file that
    // vanished under it fails a check that the archive itself would pass.
    // A failure is final only when the archive did not change meanwhile.
    for (int attempt = 1;; ++attempt) {
      const std::vector<std::string> before = file_names(archive);
      report = VerifyReport{};
      report.ok = run_checks(archive, key, scratch, report);
      for (const auto& e : fs::directory_iterator(scratch, ec)) fs::remove_all(e.path(), ec);
      if (report.ok || attempt == kAttemptsMax || file_names(archive) == before) break;
      spdlog::info("verify: the archive changed while it was checked (its archiver wrote or pruned); "
                   "checking again");
    }
    if (scratch_in.empty()) {
      fs::remove_all(scratch, ec);
    } else {
      for (const auto& e : fs::directory_iterator(scratch, ec)) fs::remove_all(e.path(), ec);
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report.finished_at_ms = wall_ms();
  std::string error;
  if (!write_file_durably(archive.path("last-verify.json"), report.to_json() + "\n", error)) {
    spdlog::warn("verify: cannot record the result: {}", error);
  }
  return report;
}

}  // namespace betcore::backup
