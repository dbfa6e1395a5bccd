// Archive files and retention, alone: sealing, every kind of damage, keys.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "backup/archive_file.h"
#include "backup/retention.h"
#include "log/entry_frames.h"

namespace betcore::backup {
namespace {

FileHeader segment_header() {
  FileHeader h;
  h.kind = FileKind::segment;
  h.first = 11;
  h.last = 20;
  h.prev = 10;
  h.count = 10;
  h.time_ms = 1'700'000'000'000;
  h.commands = 1234;
  h.digest = "0123456789abcdef0123456789abcdef";
  return h;
}

TEST(ArchiveFile, SealedFileOpensToItsPayloadAndHeader) {
  Key key = generate_key();
  std::string payload(100'000, 'x');
  std::string file = seal_file(segment_header(), payload, key);
  EXPECT_LT(file.size(), payload.size());  // compressed
  OpenedFile o = open_file(file, key);
  ASSERT_EQ(o.error, "");
  EXPECT_EQ(o.payload, payload);
  EXPECT_EQ(o.header.first, 11u);
  EXPECT_EQ(o.header.last, 20u);
  EXPECT_EQ(o.header.prev, 10u);
  EXPECT_EQ(o.header.count, 10u);
  EXPECT_EQ(o.header.time_ms, 1'700'000'000'000);
  EXPECT_EQ(o.header.commands, 1234u);
  EXPECT_EQ(o.header.digest, segment_header().digest);
}

TEST(ArchiveFile, EveryFlippedBitIsRefusedNeverGarbage) {
  Key key = generate_key();
  std::string file = seal_file(segment_header(), "some batches", key);
  for (size_t byte = 0; byte < file.size(); ++byte) {
    for (int bit = 0; bit < 8; bit += 3) {
      std::string damaged = file;
      damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << bit));
      OpenedFile o = open_file(damaged, key);
      EXPECT_NE(o.error, "") << "byte " << byte << " bit " << bit;
      EXPECT_EQ(o.payload, "") << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(ArchiveFile, ATruncatedFileIsRefused) {
  Key key = generate_key();
  std::string file = seal_file(segment_header(), "some batches", key);
  for (size_t n = 0; n < file.size(); n += 7) {
    EXPECT_NE(open_file(file.substr(0, n), key).error, "") << n;
  }
}

TEST(ArchiveFile, AnotherKeyIsToldApartFromDamage) {
  Key key = generate_key();
  Key other = generate_key();
  OpenedFile o = open_file(seal_file(segment_header(), "x", key), other);
  EXPECT_TRUE(o.wrong_key);
  EXPECT_NE(o.error.find("another key"), std::string::npos) << o.error;
  EXPECT_NE(o.error.find(other.id_hex()), std::string::npos) << o.error;
}

TEST(ArchiveFile, TheHeaderIsReadableWithoutTheKey) {
  Key key = generate_key();
  FileHeader h;
  std::string why;
  ASSERT_TRUE(read_header(seal_file(segment_header(), "x", key), h, why)) << why;
  EXPECT_EQ(h.last, 20u);
  EXPECT_EQ(h.key_id, key.id());
}

class KeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("betcore-keyfile-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(KeyFile, WrittenKeyLoadsBackAndIsNeverOverwritten) {
  Key key = generate_key();
  std::string error;
  ASSERT_TRUE(write_key_file(path("k"), key, error)) << error;
  Key loaded;
  ASSERT_TRUE(load_key(path("k"), loaded, error)) << error;
  EXPECT_EQ(loaded.bytes, key.bytes);
  EXPECT_FALSE(write_key_file(path("k"), generate_key(), error));
  EXPECT_NE(error.find("never overwritten"), std::string::npos) << error;
}

TEST_F(KeyFile, MissingUnsafeOrGarbageKeysAreRefusedWithWhatToDo) {
  Key key;
  std::string error;
  EXPECT_FALSE(load_key(path("absent"), key, error));
  EXPECT_NE(error.find("--key"), std::string::npos) << error;
  ASSERT_TRUE(write_key_file(path("k"), generate_key(), error)) << error;
  ::chmod(path("k").c_str(), 0644);
  EXPECT_FALSE(load_key(path("k"), key, error));
  EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
  {
    std::ofstream(path("g")) << "not a key\n";
  }
  ::chmod(path("g").c_str(), 0600);
  EXPECT_FALSE(load_key(path("g"), key, error));
  EXPECT_NE(error.find("64 hex digits"), std::string::npos) << error;
}

TEST(EntryFrames, RoundTripAndRefuseDamage) {
  std::vector<log::Entry> in = {{log::Position{5}, "abc"}, {log::Position{9}, ""}, {log::Position{10}, "z"}};
  std::string bytes = log::encode_entry_frames(in);
  std::vector<log::Entry> out;
  std::string error;
  ASSERT_TRUE(log::decode_entry_frames(bytes, out, error)) << error;
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].batch, "abc");
  EXPECT_EQ(out[2].position.value, 10u);
  EXPECT_FALSE(log::decode_entry_frames(bytes.substr(0, bytes.size() - 1), out, error));
  std::vector<log::Entry> backwards = {{log::Position{5}, "a"}, {log::Position{5}, "b"}};
  EXPECT_FALSE(log::decode_entry_frames(log::encode_entry_frames(backwards), out, error));
}

constexpr int64_t kDay = 86'400'000;

TEST(Retention, KeepsRecentDailyAndWeeklyAndAlwaysTheNewest) {
  // One snapshot every 6 hours for 30 days from a Monday (day 20395 since
  // the epoch): snapshot i (position (i + 1) * 100) is on day i / 4.
  const int64_t monday = 20'395 * kDay;
  std::vector<SnapshotTime> s;
  for (int i = 0; i < 30 * 4; ++i) s.push_back({static_cast<uint64_t>(i + 1) * 100, monday + i * kDay / 4});
  std::vector<uint64_t> keep = snapshots_to_keep(s, RetentionPolicy{2, 3, 2});
  // recent 2: i 119, 118; daily 3: the newest of days 29, 28, 27 (i 119,
  // 115, 111); weekly 2: the newest of the weeks of days 28-34 and 21-27
  // (i 119, 111).
  EXPECT_EQ(keep, (std::vector<uint64_t>{11'200, 11'600, 11'900, 12'000}));
}

TEST(Retention, OneSnapshotIsKept) {
  EXPECT_EQ(snapshots_to_keep({{7, 0}}, RetentionPolicy{1, 0, 0}), std::vector<uint64_t>{7});
  EXPECT_TRUE(snapshots_to_keep({}, RetentionPolicy{}).empty());
}

}  // namespace
}  // namespace betcore::backup
