// The guard's disk action in a real node: its data directory on a small
// tmpfs that something else fills; the guard predicts the full disk, keeps
// only the newest snapshot and compacts the log below it, and says so in
// GET /v1/incidents. Needs root (the tmpfs), as CI runs it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "crash/bet_load.h"
#include "crash/crash_node.h"
#include "support/support.h"

namespace betcore::ops_test {
namespace {

using crash::JsonClient;
using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kDiskBytes = 64ull << 20;

// A tmpfs at `path` for the test's life.
class SmallDisk {
 public:
  explicit SmallDisk(const fs::path& path) : path_(path) {
    fs::create_directories(path_);
    const std::string opts = "size=" + std::to_string(kDiskBytes);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, opts.c_str()) != 0) error_ = std::strerror(errno);
  }
  ~SmallDisk() {
    if (error_.empty()) ::umount2(path_.c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }

 private:
  fs::path path_;
  std::string error_;
};

uint64_t free_bytes(const fs::path& p) {
  struct statvfs v {};
  return ::statvfs(p.c_str(), &v) == 0 ? static_cast<uint64_t>(v.f_bavail) * v.f_frsize : 0;
}

size_t snapshot_files(const fs::path& data) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(data / "snapshots")) {
    n += e.path().filename().string().ends_with(".bcs") ? 1 : 0;
  }
  return n;
}

TEST(GuardDisk, AFillingDiskIsPredictedAndTheGuardPrunesSnapshotsAndCompactsTheLog) {
  test::TempDir dir("betcore-guard-disk");
  const fs::path data = dir / "data";
  SmallDisk disk(data);
  ASSERT_EQ(disk.error(), "") << "cannot mount a tmpfs at " << data << " (run the tests as root)";
  const test::TestTokens tokens = test::write_tokens_file(dir.path(), crash::account_ids());
  crash::NodeRunner node(
      crash::NodeConfig{data, tokens.file, dir / "logs", {"--checkpoint-every-commands", "100"}});
  std::string why;
  // First without the guard: the bets that make the snapshots grow the log,
  // and the guard must see only the filler's growth.
  ASSERT_TRUE(node.start(why, {"--guard-sample-ms", "0"})) << why;
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(node.port(), tokens));
  // Bets until the node keeps two snapshots (its default).
  {
    crash::Load load(7, node.port(), tokens, "disk");
    load.start();
    const bool two = test::eventually(std::chrono::seconds(30), [&] { return snapshot_files(data) >= 2; });
    load.finish();
    ASSERT_TRUE(two) << "the node wrote no two snapshots\n" << test::last_lines(node.last_log());
  }
  node.stop();
  ASSERT_TRUE(node.start(why, {"--guard-sample-ms", "200", "--guard-warmup-samples", "5",
                               "--guard-disk-trend-min-s", "2"}))
      << why;
  ASSERT_EQ(snapshot_files(data), 2u);

  // Something else fills the disk, 1 MiB every 100 ms, leaving 8 MiB.
  std::atomic<bool> stop{false};
  std::thread filler([&] {
    const std::string mib(1 << 20, 'x');
    int fd = ::open((data / "filler").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    while (fd >= 0 && !stop.load() && free_bytes(data) > (8u << 20)) {
      if (::write(fd, mib.data(), mib.size()) < 0) break;
      ::fsync(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (fd >= 0) ::close(fd);
  });
  json incident;
  const bool acted = test::eventually(std::chrono::seconds(40), [&] {
    crash::Reply r = JsonClient(node.port()).get("/v1/incidents", tokens.admin);
    if (r.status != 200) return false;
    for (const json& i : r.json["incidents"]) {
      if (i.value("signal", "") != "disk_free" || i.value("action", "").empty()) continue;
      incident = i;
      return true;
    }
    return false;
  });
  stop.store(true);
  filler.join();
  ASSERT_TRUE(acted) << "no disk_free incident with an action\n" << test::last_lines(node.last_log());

  EXPECT_EQ(incident.value("kind", ""), "exhaustion");
  EXPECT_NE(incident.value("seen", "").find("full in about"), std::string::npos) << incident.dump(2);
  EXPECT_EQ(incident.value("action", ""), "pruned snapshots and compacted the log");
  EXPECT_NE(incident.value("action_effect", "").find("MiB freed"), std::string::npos) << incident.dump(2);
  EXPECT_EQ(incident.value("runbook", ""), "docs/runbooks/disk-full.md");
  bool said = false;
  for (const json& e : incident["timeline"]) {
    said = said || e.value("what", "").starts_with("action: kept only the newest snapshot");
  }
  EXPECT_TRUE(said) << incident.dump(2);
  // The newest snapshot only, and the node still serves.
  EXPECT_EQ(snapshot_files(data), 1u);
  fs::remove(data / "filler");
  EXPECT_EQ(JsonClient(node.port()).get("/health/ready", "").status, 200);
}

}  // namespace
}  // namespace betcore::ops_test
