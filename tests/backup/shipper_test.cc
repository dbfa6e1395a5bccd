// The SSH shipper against a real sshd on this machine (sshd_fixture.h):
// files arrive whole and byte-identical, are not sent twice, wait out a
// target that is down and drain afterwards on their own, a damaged remote
// copy is sent again, and pruned files are deleted remotely.
#include "backup/shipper.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "backup/archive.h"
#include "backup/archive_file.h"
#include "backup/sshd_fixture.h"
#include "ops/metrics.h"
#include "support/net.h"
#include "support/temp_dir.h"
#include "tools/splitmix.h"

namespace betcore::backup {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Generous: a loaded 2-core machine. No test measures time.
constexpr auto kWait = 120s;
constexpr int kWaitMs = 120'000;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::string noise(size_t bytes, uint64_t seed) {
  tools::SplitMix64 rng(seed);
  std::string out(bytes, '\0');
  for (char& c : out) c = static_cast<char>(rng.next() & 0xff);
  return out;
}

int64_t mtime_ns(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

class ShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(site.ready()) << site.why();
    key = generate_key();
    std::string error;
    ASSERT_TRUE(archive.open((local / "archive").string(), key, true, error)) << error;
  }

  ShipperOptions options() const {
    ShipperOptions o;
    o.target = site.target();
    o.port = site.port();
    o.identity_file = site.identity_file();
    o.known_hosts = site.known_hosts();
    o.backoff_base_ms = 50;
    o.backoff_cap_ms = 1'000;
    return o;
  }

  // A sealed file (the shipper ships any bytes; scan() wants snapshot headers).
  std::string write_file(FileKind kind, uint64_t first, uint64_t last, size_t payload_bytes) {
    FileHeader h;
    h.kind = kind;
    h.first = first;
    h.last = last;
    const std::string name =
        kind == FileKind::segment ? segment_name(first, last) : snapshot_name(first);
    std::string error;
    EXPECT_TRUE(
        archive.write(name, seal_file(h, noise(payload_bytes, first * 31 + last), key), error))
        << error;
    return name;
  }
  std::string segment(uint64_t first, uint64_t last, size_t bytes = 4096) {
    return write_file(FileKind::segment, first, last, bytes);
  }
  std::string snapshot(uint64_t position) {
    return write_file(FileKind::snapshot, position, position, 2048);
  }

  fs::path remote(const std::string& name) const { return fs::path(site.remote_dir()) / name; }

  // Every name, and archive.json, is on the remote byte for byte.
  void expect_remote_has(const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      ASSERT_TRUE(fs::exists(remote(name))) << name << " is not on the remote";
      EXPECT_EQ(read_file(remote(name)), read_file(archive.path(name))) << name << " differs";
    }
    EXPECT_EQ(read_file(remote("archive.json")), read_file(archive.path("archive.json")));
  }

  // Shipper declared by the tests after `site`, so it goes first.
  test::TempDir local{"betcore-ship"};
  test::SshdSite site;
  Key key;
  Archive archive;
};

TEST_F(ShipperTest, ShipsEveryFileWholeAndByteIdentical) {
  ASSERT_TRUE(site.start()) << site.why();
  std::vector<std::string> names = {segment(1, 10), segment(11, 20, 3 << 20), snapshot(20),
                                    segment(21, 25)};
  ops::Registry metrics;
  Shipper shipper(options(), archive, metrics);
  shipper.start();
  ASSERT_TRUE(shipper.wait_until_shipped(kWaitMs))
      << "not shipped: " << shipper.status().last_error << "\nsshd log:\n"
      << site.log();
  expect_remote_has(names);
  for (const std::string& name : names) EXPECT_TRUE(shipper.confirmed(name)) << name;
  EXPECT_TRUE(shipper.confirmed("archive.json"));
  const ShipperStatus s = shipper.status();
  EXPECT_EQ(s.backlog_files, 0u);
  EXPECT_EQ(s.backlog_bytes, 0u);
  EXPECT_EQ(s.files_shipped, 5u);  // and archive.json
  EXPECT_EQ(s.shipped_position, 25u);
  EXPECT_TRUE(s.connected);
  EXPECT_EQ(s.last_error, "");
  // No temporary file is left behind.
  for (const auto& e : fs::recursive_directory_iterator(site.remote_dir())) {
    EXPECT_FALSE(e.path().string().ends_with(".tmp")) << e.path();
  }
  const std::string text = metrics.expose();
  EXPECT_NE(text.find("betcore_backup_remote_backlog_files 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("betcore_backup_remote_backlog_bytes 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("betcore_backup_remote_files_shipped_total 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("betcore_backup_remote_connected 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("betcore_backup_remote_ship_failures_total"), std::string::npos) << text;
  EXPECT_NE(text.find("betcore_backup_remote_shipped_position 25\n"), std::string::npos) << text;
}

TEST_F(ShipperTest, WhatTheRemoteHoldsIsNotSentAgainAfterARestart) {
  ASSERT_TRUE(site.start()) << site.why();
  std::vector<std::string> names = {segment(1, 10), snapshot(10), segment(11, 20)};
  {
    ops::Registry metrics;
    Shipper first(options(), archive, metrics);
    first.start();
    ASSERT_TRUE(first.wait_until_shipped(kWaitMs)) << first.status().last_error;
  }
  std::map<std::string, int64_t> stamps;
  for (const std::string& name : names) stamps[name] = mtime_ns(remote(name));

  ops::Registry metrics;
  Shipper second(options(), archive, metrics);
  second.start();
  ASSERT_TRUE(second.wait_until_shipped(kWaitMs)) << second.status().last_error;
  EXPECT_EQ(second.status().files_shipped, 0u) << "files already remote were sent again";
  for (const std::string& name : names) {
    EXPECT_TRUE(second.confirmed(name)) << name;
    EXPECT_EQ(mtime_ns(remote(name)), stamps[name]) << name << " was rewritten";
  }
  // A new file is shipped, and only it.
  names.push_back(segment(21, 30));
  second.notify();
  ASSERT_TRUE(second.wait_until_shipped(kWaitMs)) << second.status().last_error;
  EXPECT_EQ(second.status().files_shipped, 1u);
  expect_remote_has(names);
}

TEST_F(ShipperTest, KeepsTheBacklogWhileTheTargetIsDownAndDrainsItWhenItIsBack) {
  ASSERT_TRUE(site.start()) << site.why();
  std::vector<std::string> names = {segment(1, 10)};
  ops::Registry metrics;
  Shipper shipper(options(), archive, metrics);
  shipper.start();
  ASSERT_TRUE(shipper.wait_until_shipped(kWaitMs)) << shipper.status().last_error;

  const uint64_t failures_before = shipper.status().failures;
  site.stop();
  const std::vector<std::string> pending = {segment(11, 20), snapshot(20), segment(21, 30)};
  shipper.notify();
  // Several failed attempts: the backlog is counted and kept, never confirmed.
  ASSERT_TRUE(test::eventually(kWait,
                               [&] {
                                 const ShipperStatus s = shipper.status();
                                 return s.backlog_files == 3 && !s.connected &&
                                        s.failures >= failures_before + 3 && !s.last_error.empty();
                               }))
      << "status while down: backlog " << shipper.status().backlog_files << ", failures "
      << shipper.status().failures << ", last error '" << shipper.status().last_error << "'";
  const ShipperStatus down = shipper.status();
  EXPECT_GT(down.backlog_bytes, 0u);
  EXPECT_EQ(down.shipped_position, 10u);
  for (const std::string& name : pending) {
    EXPECT_FALSE(shipper.confirmed(name)) << name;
    EXPECT_FALSE(fs::exists(remote(name))) << name;
  }
  const std::string text = metrics.expose();
  EXPECT_NE(text.find("betcore_backup_remote_backlog_files 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("betcore_backup_remote_connected 0\n"), std::string::npos) << text;

  // Back up: the backlog drains with nobody calling anything.
  ASSERT_TRUE(site.start()) << site.why();
  ASSERT_TRUE(test::eventually(kWait, [&] { return shipper.status().backlog_files == 0; }))
      << "the backlog did not drain: " << shipper.status().last_error;
  const ShipperStatus up = shipper.status();
  EXPECT_TRUE(up.connected);
  EXPECT_EQ(up.last_error, "");
  EXPECT_EQ(up.shipped_position, 30u);
  for (const std::string& name : pending) EXPECT_TRUE(shipper.confirmed(name)) << name;
  names.insert(names.end(), pending.begin(), pending.end());
  expect_remote_has(names);
}

TEST_F(ShipperTest, StartsWhileTheTargetIsDownAndShipsOnceItIsUp) {
  const std::vector<std::string> names = {segment(1, 10), segment(11, 12)};
  ops::Registry metrics;
  Shipper shipper(options(), archive, metrics);
  shipper.start();
  ASSERT_TRUE(test::eventually(kWait,
                               [&] {
                                 const ShipperStatus s = shipper.status();
                                 return s.failures >= 2 && !s.connected && s.backlog_files == 3;
                               }))
      << "failures " << shipper.status().failures << ", backlog " << shipper.status().backlog_files;
  EXPECT_FALSE(shipper.confirmed(names[0]));
  ASSERT_TRUE(site.start()) << site.why();
  ASSERT_TRUE(test::eventually(kWait, [&] { return shipper.status().backlog_files == 0; }))
      << shipper.status().last_error;
  expect_remote_has(names);
}

TEST_F(ShipperTest, ADamagedRemoteCopyIsNotConfirmedAndIsSentAgain) {
  ASSERT_TRUE(site.start()) << site.why();
  const std::vector<std::string> names = {segment(1, 10), segment(11, 20), snapshot(20)};
  {
    ops::Registry metrics;
    Shipper first(options(), archive, metrics);
    first.start();
    ASSERT_TRUE(first.wait_until_shipped(kWaitMs)) << first.status().last_error;
  }
  const std::string damaged = names[1];
  {
    std::fstream f(remote(damaged), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(200);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x01);
    f.seekp(200);
    f.write(&c, 1);
  }
  ASSERT_NE(read_file(remote(damaged)), read_file(archive.path(damaged)));

  ops::Registry metrics;
  Shipper second(options(), archive, metrics);
  second.start();
  ASSERT_TRUE(second.wait_until_shipped(kWaitMs)) << second.status().last_error;
  EXPECT_EQ(second.status().files_shipped, 1u) << "only the damaged file is sent again";
  EXPECT_EQ(second.status().shipped_position, 20u);
  expect_remote_has(names);
}

TEST_F(ShipperTest, RemoveRemoteDeletesTheRemoteCopyRetryingWhileTheTargetIsDown) {
  ASSERT_TRUE(site.start()) << site.why();
  const std::vector<std::string> names = {segment(1, 10), snapshot(10), segment(11, 20),
                                          snapshot(20)};
  ops::Registry metrics;
  Shipper shipper(options(), archive, metrics);
  shipper.start();
  ASSERT_TRUE(shipper.wait_until_shipped(kWaitMs)) << shipper.status().last_error;

  std::string error;
  ASSERT_TRUE(archive.remove(names[1], error)) << error;
  shipper.remove_remote(names[1]);
  ASSERT_TRUE(test::eventually(kWait, [&] { return !fs::exists(remote(names[1])); }))
      << names[1] << " is still on the remote: " << shipper.status().last_error;
  EXPECT_FALSE(shipper.confirmed(names[1]));

  // While the target is down the deletion waits, and happens once it is back.
  const uint64_t failures_before = shipper.status().failures;
  site.stop();
  ASSERT_TRUE(archive.remove(names[0], error)) << error;
  shipper.remove_remote(names[0]);
  ASSERT_TRUE(
      test::eventually(kWait, [&] { return shipper.status().failures >= failures_before + 2; }));
  EXPECT_TRUE(fs::exists(remote(names[0])));
  ASSERT_TRUE(site.start()) << site.why();
  ASSERT_TRUE(test::eventually(kWait, [&] { return !fs::exists(remote(names[0])); }))
      << names[0] << " is still on the remote: " << shipper.status().last_error;
  EXPECT_TRUE(fs::exists(remote(names[2])));
  EXPECT_TRUE(fs::exists(remote(names[3])));
}

TEST_F(ShipperTest, ARemotePathHoldingAnotherArchiveGetsNothing) {
  ASSERT_TRUE(site.start()) << site.why();
  const std::string name = segment(1, 10);
  fs::create_directories(site.remote_dir());
  const std::string foreign = "{\"format\": \"betcore-archive-1\", \"key_id\": \"another\"}\n";
  {
    std::ofstream out(remote("archive.json"));
    out << foreign;
  }
  ops::Registry metrics;
  Shipper shipper(options(), archive, metrics);
  shipper.start();
  ASSERT_TRUE(test::eventually(kWait, [&] {
    return shipper.status().last_error.find("another archive") != std::string::npos;
  })) << shipper.status().last_error;
  EXPECT_FALSE(shipper.wait_until_shipped(1'000));
  EXPECT_FALSE(fs::exists(remote(name)));
  EXPECT_EQ(read_file(remote("archive.json")), foreign);
  EXPECT_FALSE(shipper.confirmed(name));
}

TEST(ShipperOptionsTest, ATargetMustBeHostAndAbsolutePathAndTheKeyReadable) {
  test::TempDir dir{"betcore-ship-options"};
  const std::string key = (dir / "key").string();
  std::ofstream(key) << "not really a key\n";
  ShipperOptions o;
  o.identity_file = key;
  std::string error;
  for (const char* bad : {"host", "host:relative/path", ":/path", "-oProxyCommand=x:/path"}) {
    o.target = bad;
    EXPECT_FALSE(check_shipper_options(o, error)) << bad;
  }
  for (const char* good : {"host:/backups/betcore", "me@10.0.0.2:/b", "me@[::1]:/b"}) {
    o.target = good;
    EXPECT_TRUE(check_shipper_options(o, error)) << good << ": " << error;
  }
  o.identity_file = (dir / "missing").string();
  EXPECT_FALSE(check_shipper_options(o, error));
  EXPECT_NE(error.find("identity"), std::string::npos) << error;
}

}  // namespace
}  // namespace betcore::backup
