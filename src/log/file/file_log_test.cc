// Tests of the file log on real files in a temporary directory under /tmp.
// Durability-related tests keep fsync on (the default).
#include "log/file/file_log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "log/file/record.h"
#include "log/file/segment.h"

namespace betcore::log {
namespace {

namespace fs = std::filesystem;
using file::kHeaderSize;
using Outcome = FileLog::RecoveryReport::Outcome;

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/betcore-file-log-XXXXXX";
    const char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Distinct, checkable contents for each position; sizes vary with it.
std::string batch_for(uint64_t position, size_t bytes = 0) {
  if (bytes == 0) bytes = 40 + (position * 37) % 200;
  std::string out = fmt::format("batch {} |", position);
  while (out.size() < bytes) out += static_cast<char>('a' + (position + out.size()) % 26);
  out.resize(bytes);
  return out;
}

uint64_t record_bytes_for(uint64_t position, size_t bytes = 0) {
  return kHeaderSize + batch_for(position, bytes).size();
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (file::parse_segment_file_name(entry.path().filename().string())) {
      names.push_back(entry.path().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

uint64_t size_of(const std::string& path) { return fs::file_size(path); }

void truncate_to(const std::string& path, uint64_t bytes) { fs::resize_file(path, bytes); }

void overwrite(const std::string& path, uint64_t offset, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

std::string read_bytes(const std::string& path, uint64_t offset, size_t bytes) {
  std::string out(bytes, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::pread(fd, out.data(), bytes, static_cast<off_t>(offset)),
            static_cast<ssize_t>(bytes));
  ::close(fd);
  return out;
}

void flip_bit(const std::string& path, uint64_t offset, int bit = 3) {
  std::string byte = read_bytes(path, offset, 1);
  byte[0] = static_cast<char>(byte[0] ^ (1 << bit));
  overwrite(path, offset, byte);
}

void append_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << bytes;
}

std::unique_ptr<FileLog> open_ok(const std::string& dir, FileLog::Options options = {}) {
  auto opened = FileLog::open(dir, options);
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  if (!opened) return nullptr;
  return std::move(opened.value());
}

void append_range(FileLog& log, uint64_t first, uint64_t last, size_t bytes = 0) {
  for (uint64_t p = first; p <= last; ++p) {
    auto appended = log.append(batch_for(p, bytes));
    ASSERT_TRUE(appended.ok()) << appended.error().message;
    ASSERT_EQ(appended.value(), Position{p});
  }
}

// Reads from `from` to the head, in reads of at most `entries_max`.
std::vector<Entry> read_all(FileLog& log, Position from, size_t entries_max = 1000) {
  std::vector<Entry> all;
  for (int reads = 0; reads < 100000; ++reads) {
    auto got = log.read(from, entries_max, 1 << 30, 0);
    EXPECT_TRUE(got.ok()) << got.error().message;
    if (!got || got.value().empty()) break;
    for (auto& entry : got.value()) all.push_back(std::move(entry));
    from = Position{all.back().position.value + 1};
  }
  return all;
}

void expect_entries(const std::vector<Entry>& entries, uint64_t first, uint64_t last,
                    size_t bytes = 0) {
  ASSERT_EQ(entries.size(), last - first + 1);
  for (uint64_t p = first; p <= last; ++p) {
    const Entry& entry = entries[p - first];
    ASSERT_EQ(entry.position, Position{p});
    ASSERT_EQ(entry.batch, batch_for(p, bytes)) << "position " << p;
  }
}

class FileLogTest : public ::testing::Test {
 protected:
  std::string dir() const { return temp_.path() + "/log"; }
  TempDir temp_;
};

// --- append and read --------------------------------------------------------

class FileLogRoundTrip : public FileLogTest, public ::testing::WithParamInterface<size_t> {};

TEST_P(FileLogRoundTrip, AcrossSegmentRolls) {
  FileLog::Options options;
  options.segment_bytes_max = 1024;
  options.cache_bytes_max = GetParam();  // 0: every read goes to disk
  auto log = open_ok(dir(), options);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->head().value(), Position{0});
  append_range(*log, 1, 60);
  EXPECT_EQ(log->head().value(), Position{60});

  // Segment files are named by their first position, hold records from it on,
  // and stay within segment_bytes_max.
  const auto files = segment_files(dir());
  ASSERT_GE(files.size(), 8u);
  uint64_t next = 1;
  for (const auto& path : files) {
    const auto first = file::parse_segment_file_name(fs::path(path).filename().string());
    ASSERT_TRUE(first);
    EXPECT_EQ(first->value, next) << path;
    const std::string header = read_bytes(path, 0, kHeaderSize);
    EXPECT_EQ(file::decode_record_header(reinterpret_cast<const unsigned char*>(header.data()))
                  .position,
              next);
    EXPECT_LE(size_of(path), options.segment_bytes_max);
    uint64_t offset = 0;
    while (offset < size_of(path)) offset += record_bytes_for(next++);
    EXPECT_EQ(offset, size_of(path));
  }
  EXPECT_EQ(next, 61u);
  EXPECT_EQ(fs::path(files[0]).filename(), "00000000000000000001.log");

  // One read spans many segments; Position{0} means "from the start".
  auto everything = log->read(Position{0}, 1000, 1 << 30, 0);
  ASSERT_TRUE(everything.ok()) << everything.error().message;
  expect_entries(everything.value(), 1, 60);
  expect_entries(read_all(*log, Position{1}, 7), 1, 60);

  // Bounds: entries_max, and bytes_max (yet at least one entry).
  auto seven = log->read(Position{10}, 7, 1 << 30, 0);
  ASSERT_TRUE(seven.ok());
  expect_entries(seven.value(), 10, 16);
  const size_t two_batches = batch_for(20).size() + batch_for(21).size();
  auto by_bytes = log->read(Position{20}, 100, two_batches, 0);
  ASSERT_TRUE(by_bytes.ok());
  expect_entries(by_bytes.value(), 20, 21);
  auto at_least_one = log->read(Position{30}, 100, 1, 0);
  ASSERT_TRUE(at_least_one.ok());
  expect_entries(at_least_one.value(), 30, 30);

  // Beyond the head: nothing, without waiting.
  auto beyond = log->read(Position{61}, 10, 1 << 20, 0);
  ASSERT_TRUE(beyond.ok());
  EXPECT_TRUE(beyond.value().empty());
  EXPECT_EQ(log->read(Position{1}, 0, 100, 0).error().code, Errc::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(CacheOnAndOff, FileLogRoundTrip,
                         ::testing::Values(size_t{0}, size_t{2048}, size_t{64} << 20));

TEST_F(FileLogTest, ReopenReadsEverythingBackAndContinues) {
  FileLog::Options options;
  options.segment_bytes_max = 2048;
  {
    auto log = open_ok(dir(), options);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->recovery().outcome, Outcome::clean);
    EXPECT_EQ(log->recovery().records_recovered, 0u);
    append_range(*log, 1, 40);
  }
  auto log = open_ok(dir(), options);
  ASSERT_TRUE(log);
  const auto& report = log->recovery();
  EXPECT_EQ(report.outcome, Outcome::clean);
  EXPECT_EQ(report.records_recovered, 40u);
  EXPECT_EQ(report.segments_scanned, segment_files(dir()).size());
  EXPECT_EQ(report.first, Position{1});
  EXPECT_EQ(report.head, Position{40});
  EXPECT_EQ(report.truncated_bytes, 0u);
  EXPECT_EQ(log->head().value(), Position{40});
  expect_entries(read_all(*log, Position{1}), 1, 40);
  append_range(*log, 41, 45);
  expect_entries(read_all(*log, Position{1}), 1, 45);
}

TEST_F(FileLogTest, BatchAboveTheMaximumIsRefused) {
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  const std::string too_big(FileLog::kBatchBytesMax + 1, 'x');
  EXPECT_EQ(log->append(too_big).error().code, Errc::invalid_argument);
  EXPECT_EQ(log->append("ok").value(), Position{1});
}

// One fsynced append at a time: the submitter runs one lane on it.
TEST_F(FileLogTest, TakesOneAppendAtATime) {
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->append_lanes(), 1u);
}

TEST_F(FileLogTest, SecondOpenOfTheSameDirectoryIsRefused) {
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  auto second = FileLog::open(dir(), {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, Errc::unavailable);
  log.reset();
  EXPECT_TRUE(FileLog::open(dir(), {}).ok());
}

TEST_F(FileLogTest, FailedWriteIsCutOffAndTheLogStaysUsable) {
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  append_range(*log, 1, 3);
  const std::string path = segment_files(dir()).back();
  const uint64_t size = size_of(path);
  // Let the file grow by 10 bytes only: the append writes part of its record,
  // then pwritev fails with EFBIG (SIGXFSZ ignored).
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = size + 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto failed = log->append(batch_for(4, 100));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  ::signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, Errc::io_error);
  EXPECT_NE(failed.error().message.find("not appended"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(size_of(path), size) << "the partial record is cut off";
  EXPECT_EQ(log->head().value(), Position{3});
  append_range(*log, 4, 5);
  log.reset();
  log = open_ok(dir());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->recovery().outcome, Outcome::clean);
  expect_entries(read_all(*log, Position{1}), 1, 5);
}

// --- waiting and closing ----------------------------------------------------

TEST_F(FileLogTest, BlockedReaderWakesWhenAnotherThreadAppends) {
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  append_range(*log, 1, 3);
  std::atomic<bool> reading{false};
  std::vector<Entry> got;
  Errc error = Errc::invalid_argument;
  bool ok = false;
  const auto started = std::chrono::steady_clock::now();
  std::thread reader([&] {
    reading = true;
    auto result = log->read(Position{4}, 10, 1 << 20, 10'000);
    ok = result.ok();
    if (ok) got = std::move(result.value());
    else error = result.error().code;
  });
  while (!reading) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  append_range(*log, 4, 4);
  reader.join();
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(ok) << static_cast<int>(error);
  expect_entries(got, 4, 4);
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST_F(FileLogTest, ReadWithNothingNewWaitsAboutWaitMsThenReturnsEmpty) {
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  const auto started = std::chrono::steady_clock::now();
  auto got = log->read(Position{1}, 10, 1 << 20, 100);
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got.value().empty());
  EXPECT_GE(waited, std::chrono::milliseconds(90));
}

TEST_F(FileLogTest, CloseWakesBlockedReaderAndFailsLaterCalls) {
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  std::atomic<bool> reading{false};
  Errc error = Errc::invalid_argument;
  bool ok = true;
  const auto started = std::chrono::steady_clock::now();
  std::thread reader([&] {
    reading = true;
    auto result = log->read(Position{1}, 10, 1 << 20, 30'000);
    ok = result.ok();
    if (!ok) error = result.error().code;
  });
  while (!reading) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  log->close();
  reader.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_FALSE(ok);
  EXPECT_EQ(error, Errc::closed);
  EXPECT_EQ(log->append("x").error().code, Errc::closed);
  EXPECT_EQ(log->head().error().code, Errc::closed);
  EXPECT_EQ(log->compact(Position{1}).error().code, Errc::closed);
  EXPECT_EQ(log->read(Position{1}, 1, 1, 0).error().code, Errc::closed);
}

TEST_F(FileLogTest, AppenderReaderAndCompactorRunTogether) {
  FileLog::Options options;
  options.segment_bytes_max = 2048;
  options.cache_bytes_max = 4 * (250 + sizeof(Entry));  // the reader also hits the disk
  auto log = open_ok(dir(), options);
  ASSERT_TRUE(log);
  constexpr uint64_t kBatches = 300;
  std::atomic<uint64_t> applied{0};
  std::thread appender([&] { append_range(*log, 1, kBatches); });
  std::thread compactor([&] {
    while (applied < kBatches) {
      // Like the node: compact below what has been applied (and snapshotted).
      EXPECT_TRUE(log->compact(Position{applied.load() / 2 + 1}).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  Position from{1};
  for (int reads = 0; from.value <= kBatches && reads < 100000; ++reads) {
    auto got = log->read(from, 7, 1000, 1000);
    ASSERT_TRUE(got.ok()) << got.error().message;
    for (const Entry& entry : got.value()) {
      ASSERT_EQ(entry.position, from);
      ASSERT_EQ(entry.batch, batch_for(from.value));
      ++from.value;
    }
    applied = from.value - 1;
  }
  appender.join();
  compactor.join();
  EXPECT_EQ(applied.load(), kBatches);
  EXPECT_EQ(log->head().value(), Position{kBatches});
}

// --- compaction -------------------------------------------------------------

TEST_F(FileLogTest, CompactDeletesWholeOldSegmentsAndReadBelowIsCompacted) {
  FileLog::Options options;
  options.segment_bytes_max = 1024;
  options.cache_bytes_max = 0;
  auto log = open_ok(dir(), options);
  ASSERT_TRUE(log);
  append_range(*log, 1, 40);
  const auto before = segment_files(dir());
  ASSERT_GE(before.size(), 4u);
  const uint64_t third_first =
      file::parse_segment_file_name(fs::path(before[2]).filename().string())->value;

  // Positions below third_first live in the first two segments only. One
  // position short of that keeps the second segment.
  ASSERT_TRUE(log->compact(Position{third_first - 1}).ok());
  EXPECT_EQ(segment_files(dir()).size(), before.size() - 1);
  ASSERT_TRUE(log->compact(Position{third_first}).ok());
  auto after = segment_files(dir());
  ASSERT_EQ(after.size(), before.size() - 2);
  EXPECT_EQ(after.front(), before[2]);

  EXPECT_EQ(log->read(Position{1}, 10, 1 << 20, 0).error().code, Errc::compacted);
  EXPECT_EQ(log->read(Position{third_first - 1}, 10, 1 << 20, 0).error().code, Errc::compacted);
  expect_entries(read_all(*log, Position{third_first}), third_first, 40);
  EXPECT_EQ(log->head().value(), Position{40});

  // Never the active segment, even when every position is below `before`.
  ASSERT_TRUE(log->compact(Position{1000}).ok());
  after = segment_files(dir());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after.front(), before.back());
  append_range(*log, 41, 42);

  // A reopened log starts where compaction left it.
  log.reset();
  log = open_ok(dir(), options);
  ASSERT_TRUE(log);
  const uint64_t last_first =
      file::parse_segment_file_name(fs::path(before.back()).filename().string())->value;
  EXPECT_EQ(log->recovery().first, Position{last_first});
  EXPECT_EQ(log->read(Position{last_first - 1}, 10, 1 << 20, 0).error().code, Errc::compacted);
  expect_entries(read_all(*log, Position{last_first}), last_first, 42);
}

// --- recovery: torn tails ---------------------------------------------------

// Appends 1..10 in one segment and closes; returns the segment's path.
std::string write_ten(const std::string& dir) {
  auto log = open_ok(dir);
  EXPECT_TRUE(log);
  if (!log) return {};
  append_range(*log, 1, 10);
  const auto files = segment_files(dir);
  EXPECT_EQ(files.size(), 1u);
  return files.back();
}

uint64_t offset_of(uint64_t position) {
  uint64_t offset = 0;
  for (uint64_t p = 1; p < position; ++p) offset += record_bytes_for(p);
  return offset;
}

TEST_F(FileLogTest, TornTailInPayloadIsCutAndAppendsContinue) {
  const std::string path = write_ten(dir());
  const uint64_t full = size_of(path);
  ASSERT_EQ(full, offset_of(11));
  truncate_to(path, full - 5);

  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  const auto& report = log->recovery();
  EXPECT_EQ(report.outcome, Outcome::truncated_torn_tail);
  EXPECT_EQ(report.records_recovered, 9u);
  EXPECT_EQ(report.head, Position{9});
  EXPECT_EQ(report.truncated_file, path);
  EXPECT_EQ(report.truncated_offset, offset_of(10));
  EXPECT_EQ(report.truncated_bytes, record_bytes_for(10) - 5);
  EXPECT_NE(report.message.find("position 10"), std::string::npos) << report.message;
  EXPECT_NE(report.message.find("never acknowledged"), std::string::npos) << report.message;
  EXPECT_EQ(size_of(path), offset_of(10));
  EXPECT_EQ(log->head().value(), Position{9});
  expect_entries(read_all(*log, Position{1}), 1, 9);

  // The next append takes position 10 again, with its new contents.
  auto appended = log->append("a new tenth batch");
  ASSERT_TRUE(appended.ok());
  EXPECT_EQ(appended.value(), Position{10});
  log.reset();
  log = open_ok(dir());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->recovery().outcome, Outcome::clean);
  auto all = read_all(*log, Position{1});
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all[9].batch, "a new tenth batch");
  expect_entries({all.begin(), all.begin() + 9}, 1, 9);
}

TEST_F(FileLogTest, TornTailInsideAHeaderIsCut) {
  const std::string path = write_ten(dir());
  truncate_to(path, offset_of(10) + 10);  // 10 of the 24 header bytes
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->recovery().outcome, Outcome::truncated_torn_tail);
  EXPECT_EQ(log->recovery().truncated_bytes, 10u);
  EXPECT_EQ(log->head().value(), Position{9});
  expect_entries(read_all(*log, Position{1}), 1, 9);
}

TEST_F(FileLogTest, TrailingZeroBytesAreATornTail) {
  const std::string path = write_ten(dir());
  append_bytes(path, std::string(4096, '\0'));
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->recovery().outcome, Outcome::truncated_torn_tail);
  EXPECT_EQ(log->recovery().truncated_bytes, 4096u);
  EXPECT_EQ(log->head().value(), Position{10});
  EXPECT_EQ(size_of(path), offset_of(11));
  expect_entries(read_all(*log, Position{1}), 1, 10);
}

TEST_F(FileLogTest, EmptyLastSegmentIsClean) {
  write_ten(dir());
  // A crash right after a new segment file was created.
  append_bytes(dir() + "/" + file::segment_file_name(Position{11}), "");
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->recovery().outcome, Outcome::clean);
  EXPECT_EQ(log->recovery().segments_scanned, 2u);
  append_range(*log, 11, 11);
  expect_entries(read_all(*log, Position{1}), 1, 11);
  EXPECT_EQ(size_of(dir() + "/" + file::segment_file_name(Position{11})), record_bytes_for(11));
}

// --- recovery: corruption ---------------------------------------------------

TEST_F(FileLogTest, GarbageAtTheEndOfTheLastCompleteRecordRefusesUnlessAsked) {
  const std::string path = write_ten(dir());
  const uint64_t full = size_of(path);
  overwrite(path, full - 4, "\xde\xad\xbe\xef");

  auto refused = FileLog::open(dir(), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::corrupt);
  const std::string& message = refused.error().message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find(fmt::format("offset {}", offset_of(10))), std::string::npos) << message;
  EXPECT_NE(message.find("position 10"), std::string::npos) << message;
  EXPECT_NE(message.find("--truncate-corrupt-tail"), std::string::npos) << message;
  EXPECT_NE(message.find("snapshot"), std::string::npos) << message;
  EXPECT_EQ(size_of(path), full) << "a refused open must not change the files";

  FileLog::Options options;
  options.truncate_corrupt_tail = true;
  auto log = open_ok(dir(), options);
  ASSERT_TRUE(log);
  const auto& report = log->recovery();
  EXPECT_EQ(report.outcome, Outcome::truncated_corrupt_tail);
  EXPECT_EQ(report.records_recovered, 9u);
  EXPECT_EQ(report.truncated_offset, offset_of(10));
  EXPECT_EQ(report.truncated_bytes, record_bytes_for(10));
  EXPECT_NE(report.message.find("lost"), std::string::npos) << report.message;
  expect_entries(read_all(*log, Position{1}), 1, 9);
  EXPECT_EQ(log->append("again").value(), Position{10});
}

TEST_F(FileLogTest, DamagedLengthOfTheLastRecordIsNotMistakenForATornTail) {
  const std::string path = write_ten(dir());
  // Bump the length field of record 10: the file now seems to end inside its
  // payload, but the record was complete (and maybe acknowledged).
  flip_bit(path, offset_of(10) + 4 + 1, 2);  // +1024 bytes
  auto refused = FileLog::open(dir(), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::corrupt);
  EXPECT_NE(refused.error().message.find("length field is damaged"), std::string::npos)
      << refused.error().message;
}

struct MiddleDamage {
  const char* name;
  uint64_t position;     // of the damaged record (of 10, one segment)
  uint64_t byte;         // within that record
};

void PrintTo(const MiddleDamage& damage, std::ostream* os) { *os << damage.name; }

class FileLogMiddleCorruption : public FileLogTest,
                                public ::testing::WithParamInterface<MiddleDamage> {};

TEST_P(FileLogMiddleCorruption, RefusesEvenWithTruncateCorruptTail) {
  const std::string path = write_ten(dir());
  const uint64_t full = size_of(path);
  flip_bit(path, offset_of(GetParam().position) + GetParam().byte);
  for (bool truncate : {false, true}) {
    FileLog::Options options;
    options.truncate_corrupt_tail = truncate;
    auto refused = FileLog::open(dir(), options);
    ASSERT_FALSE(refused.ok()) << GetParam().name;
    EXPECT_EQ(refused.error().code, Errc::corrupt);
    const std::string& message = refused.error().message;
    EXPECT_NE(message.find(fmt::format("position {}", GetParam().position)), std::string::npos)
        << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(fmt::format("offset {}", offset_of(GetParam().position))),
              std::string::npos)
        << message;
    EXPECT_EQ(size_of(path), full) << "never truncate over acknowledged records";
  }
}

INSTANTIATE_TEST_SUITE_P(
    BitFlips, FileLogMiddleCorruption,
    ::testing::Values(MiddleDamage{"payload", 5, kHeaderSize + 3},
                      MiddleDamage{"magic", 5, 0},
                      MiddleDamage{"position", 5, 8},
                      MiddleDamage{"checksum", 5, 16},
                      // A longer length makes it look like a torn tail, but
                      // valid records follow it.
                      MiddleDamage{"length", 5, 5},
                      MiddleDamage{"first record", 1, kHeaderSize},
                      MiddleDamage{"last but one", 9, kHeaderSize + 1}),
    [](const auto& info) {
      std::string name = info.param.name;
      std::replace(name.begin(), name.end(), ' ', '_');
      return name;
    });

TEST_F(FileLogTest, DamageInAnEarlierSegmentRefusesEvenAtItsEnd) {
  FileLog::Options options;
  options.segment_bytes_max = 1024;
  {
    auto log = open_ok(dir(), options);
    ASSERT_TRUE(log);
    append_range(*log, 1, 30);
  }
  const auto files = segment_files(dir());
  ASSERT_GE(files.size(), 3u);
  const std::string first_segment = files.front();
  const uint64_t second_first =
      file::parse_segment_file_name(fs::path(files[1]).filename().string())->value;
  // The last record of the first segment: a tail of its file, not of the log.
  const uint64_t last_position = second_first - 1;
  const uint64_t full = size_of(first_segment);
  flip_bit(first_segment, full - 1);
  options.truncate_corrupt_tail = true;
  auto refused = FileLog::open(dir(), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::corrupt);
  EXPECT_NE(refused.error().message.find(fmt::format("position {}", last_position)),
            std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find(first_segment), std::string::npos);
  EXPECT_EQ(size_of(first_segment), full);

  // So does a truncated (torn-looking) earlier segment.
  flip_bit(first_segment, full - 1);
  truncate_to(first_segment, full - 3);
  refused = FileLog::open(dir(), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::corrupt);
}

TEST_F(FileLogTest, MissingSegmentFileRefuses) {
  FileLog::Options options;
  options.segment_bytes_max = 1024;
  {
    auto log = open_ok(dir(), options);
    ASSERT_TRUE(log);
    append_range(*log, 1, 30);
  }
  const auto files = segment_files(dir());
  ASSERT_GE(files.size(), 3u);
  fs::remove(files[1]);
  auto refused = FileLog::open(dir(), options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::corrupt);
  EXPECT_NE(refused.error().message.find("missing"), std::string::npos)
      << refused.error().message;
}

// --- corruption after open --------------------------------------------------

TEST_F(FileLogTest, BitFlipOnDiskAfterOpenIsCaughtOnRead) {
  FileLog::Options options;
  // Room for the last three batches only: older ones are read from disk.
  options.cache_bytes_max = 3 * (250 + sizeof(Entry));
  auto log = open_ok(dir(), options);
  ASSERT_TRUE(log);
  append_range(*log, 1, 10);
  const std::string path = segment_files(dir()).back();
  flip_bit(path, offset_of(3) + kHeaderSize + 7);

  auto damaged = log->read(Position{3}, 1, 1 << 20, 0);
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.error().code, Errc::corrupt);
  EXPECT_NE(damaged.error().message.find("position 3"), std::string::npos)
      << damaged.error().message;
  // A read that spans the damaged record returns no bytes at all.
  auto spanning = log->read(Position{1}, 10, 1 << 20, 0);
  ASSERT_FALSE(spanning.ok());
  EXPECT_EQ(spanning.error().code, Errc::corrupt);
  // Records before it are still served, and so are cached ones.
  auto before = log->read(Position{1}, 2, 1 << 20, 0);
  ASSERT_TRUE(before.ok()) << before.error().message;
  expect_entries(before.value(), 1, 2);
  auto cached = log->read(Position{10}, 1, 1 << 20, 0);
  ASSERT_TRUE(cached.ok()) << cached.error().message;
  expect_entries(cached.value(), 10, 10);
}

TEST_F(FileLogTest, BitFlipInTheHeaderOnDiskAfterOpenIsCaughtOnRead) {
  FileLog::Options options;
  options.cache_bytes_max = 0;
  auto log = open_ok(dir(), options);
  ASSERT_TRUE(log);
  append_range(*log, 1, 5);
  flip_bit(segment_files(dir()).back(), offset_of(5) + 9);  // its position field
  auto damaged = log->read(Position{5}, 1, 1 << 20, 0);
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.error().code, Errc::corrupt);
  auto first_four = log->read(Position{1}, 4, 1 << 20, 0);
  ASSERT_TRUE(first_four.ok()) << first_four.error().message;
  expect_entries(first_four.value(), 1, 4);
}


// --- found by the simulator (betcore sim) -------------------------------------

// A crash after the file grew but before its data landed can leave zeros
// from a sector boundary that cuts the last record's header (betcore sim):
// the file ends inside a header, a torn tail. Before rule 3a this was
// "middle corruption", which not even --truncate-corrupt-tail lifts.
TEST_F(FileLogTest, ZeroSectorsCuttingTheLastHeaderAreATornTail) {
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  append_range(*log, 1, 9);
  log.reset();
  const std::string path = segment_files(dir()).back();
  // Record 10 sized so that record 11's header starts 12 bytes before a
  // sector boundary.
  const uint64_t start10 = size_of(path);
  const uint64_t boundary = (start10 + 2 * kHeaderSize + 600 + 511) / 512 * 512;
  const uint64_t start11 = boundary - 12;
  log = open_ok(dir());
  ASSERT_TRUE(log->append(batch_for(10, start11 - start10 - kHeaderSize)).ok());
  ASSERT_TRUE(log->append(batch_for(11, 300)).ok());
  log.reset();
  ASSERT_EQ(size_of(path), start11 + kHeaderSize + 300);
  overwrite(path, boundary, std::string(size_of(path) - boundary, '\0'));

  log = open_ok(dir());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->recovery().outcome, Outcome::truncated_torn_tail) << log->recovery().message;
  EXPECT_EQ(log->head().value(), Position{10});
  EXPECT_EQ(size_of(path), start11);
  auto all = read_all(*log, Position{1});
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all[9].batch, batch_for(10, start11 - start10 - kHeaderSize));
  expect_entries({all.begin(), all.begin() + 9}, 1, 9);
}

// A complete last record whose last sectors read as zeros may have been
// acknowledged (its blocks lost after the fsync): a corrupt tail, never cut
// without the operator (docs/log-format.md, "A known cost of rule 3").
TEST_F(FileLogTest, ZeroedLastSectorsOfACompleteRecordAreNotCutSilently) {
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  append_range(*log, 1, 9);
  ASSERT_TRUE(log->append(batch_for(10, 3000)).ok());
  log.reset();
  const std::string path = segment_files(dir()).back();
  const uint64_t size = size_of(path);
  const uint64_t start = size - record_bytes_for(10, 3000);
  const uint64_t zero_from = (start + kHeaderSize + 100 + 511) / 512 * 512;
  ASSERT_LT(zero_from, size);
  overwrite(path, zero_from, std::string(size - zero_from, '\0'));
  auto refused = FileLog::open(dir(), FileLog::Options{});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::corrupt);
  EXPECT_NE(refused.error().message.find("--truncate-corrupt-tail"), std::string::npos) << refused.error().message;
  // The operator, accepting the loss of that one batch, can cut it.
  FileLog::Options cut;
  cut.truncate_corrupt_tail = true;
  log = open_ok(dir(), cut);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->head().value(), Position{9});
}

// The same zeros in a record that ends before them are damage, not a torn
// write: that record was on the disk whole (and maybe acknowledged).
TEST_F(FileLogTest, ZeroedSectorsAfterACompleteDamagedRecordStillRefuse) {
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  append_range(*log, 1, 10);
  log.reset();
  const std::string path = segment_files(dir()).back();
  const uint64_t size = size_of(path);
  flip_bit(path, size - 3);  // the last record is complete and damaged
  append_bytes(path, std::string((size + 511) / 512 * 512 + 512 - size, '\0'));
  FileLog::Options o;
  auto opened = FileLog::open(dir(), o);
  EXPECT_FALSE(opened.ok()) << "a damaged complete record followed by zeros was cut";
}

// A write that fails (a full disk) leaves the log usable: the next append
// may succeed, so it does not need a restart (regression seed 4). A failed
// fsync does.
class FailNext final : public file::DiskFaults {
 public:
  int write_errno = 0;
  int sync_errno = 0;
  int before_write(const std::string&, uint64_t, size_t, size_t& written) override {
    written = 0;
    return std::exchange(write_errno, 0);
  }
  int before_sync(const std::string&) override { return std::exchange(sync_errno, 0); }
  void synced(const std::string&, uint64_t) override {}
};

TEST_F(FileLogTest, AFailedWriteIsNotPermanentAFailedFsyncIs) {
  FailNext faults;
  file::set_disk_faults(&faults);
  struct Unset {
    ~Unset() { file::set_disk_faults(nullptr); }
  } unset;
  auto log = open_ok(dir());
  ASSERT_TRUE(log);
  append_range(*log, 1, 3);
  faults.write_errno = ENOSPC;
  auto full = log->append(batch_for(4));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::io_error);
  EXPECT_FALSE(log->append_failure_is_permanent(full.error().code)) << full.error().message;
  append_range(*log, 4, 5);  // space again: it goes on

  faults.sync_errno = EIO;
  auto unsynced = log->append(batch_for(6));
  ASSERT_FALSE(unsynced.ok());
  EXPECT_EQ(unsynced.error().code, Errc::outcome_unknown);
  EXPECT_TRUE(log->append_failure_is_permanent(unsynced.error().code));
  auto after = log->append(batch_for(6));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, Errc::io_error);
  EXPECT_TRUE(log->append_failure_is_permanent(after.error().code)) << "the log failed for good";
}

}  // namespace
}  // namespace betcore::log
