// Fuzz target: the file log's recovery (src/log/file/recovery.h,
// docs/log-format.md, "Recovery"). Each input is written as the log's only
// segment file (00000000000000000001.log) in a scratch directory, and the log
// is opened on it: once as a node opens it, and, when that refuses a damaged
// tail, once more with truncate_corrupt_tail (the operator's choice).
//
// Invariants: opening never crashes; it refuses with Errc::corrupt and a
// message, or it opens on a consistent prefix: the records it reads back,
// framed again (src/log/file/record.h), are exactly the first bytes of the
// input, the file is cut to them and nothing else, the recovery report
// agrees (clean means the whole input), and the log takes the next append
// at the next position.
//
// The scratch directory is made under $BETCORE_FUZZ_TMPDIR, else /dev/shm
// (a RAM disk: thousands of opens a second), else /tmp, and removed at exit.
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "domain/assert.h"
#include "log/file/file_log.h"
#include "log/file/record.h"

namespace {

namespace fs = std::filesystem;
using namespace betcore::log;

std::string g_root;  // the scratch directory, made once per process

void remove_root() {
  std::error_code ec;
  fs::remove_all(g_root, ec);
}

std::string make_root() {
  std::string base = "/tmp";
  if (const char* env = std::getenv("BETCORE_FUZZ_TMPDIR")) {
    base = env;
  } else if (access("/dev/shm", W_OK) == 0) {
    base = "/dev/shm";
  }
  std::string pattern = base + "/betcore-fuzz-log-XXXXXX";
  BETCORE_ASSERT_MSG(mkdtemp(pattern.data()) != nullptr, "cannot make the scratch directory");
  return pattern;
}

const std::string kSegment = "00000000000000000001.log";

void write_segment(const std::string& dir, std::string_view bytes) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  std::FILE* f = std::fopen((dir + "/" + kSegment).c_str(), "wb");
  BETCORE_ASSERT_MSG(f != nullptr, "cannot write the segment file");
  BETCORE_ASSERT(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  BETCORE_ASSERT(std::fclose(f) == 0);
}

uint64_t size_on_disk(const std::string& path) {
  struct stat st {};
  BETCORE_ASSERT_MSG(stat(path.c_str(), &st) == 0, "the segment file is gone");
  return static_cast<uint64_t>(st.st_size);
}

// The log opened on `input`: what it holds must be a prefix of the input.
void check_opened(FileLog& log, const std::string& dir, std::string_view input) {
  const FileLog::RecoveryReport& report = log.recovery();
  auto entries = log.read(Position{0}, 1u << 20, SIZE_MAX, 0);
  BETCORE_ASSERT_MSG(entries.ok(), "a recovered log does not read back");
  std::string framed;
  uint64_t expected = 1;
  for (const Entry& e : entries.value()) {
    BETCORE_ASSERT_MSG(e.position.value == expected++, "recovered positions are not 1, 2, 3, ...");
    unsigned char header[file::kHeaderSize];
    file::encode_record_header(e.position.value, e.batch, header);
    framed.append(reinterpret_cast<const char*>(header), sizeof header);
    framed.append(e.batch);
  }
  const uint64_t records = entries.value().size();
  BETCORE_ASSERT_MSG(report.records_recovered == records && report.head.value == records,
                     "the recovery report disagrees with what reads back");
  BETCORE_ASSERT_MSG(input.substr(0, framed.size()) == framed,
                     "the recovered records are not a prefix of the file");
  BETCORE_ASSERT_MSG(size_on_disk(dir + "/" + kSegment) == framed.size(),
                     "the segment file was not cut to its last valid record");
  if (report.outcome == FileLog::RecoveryReport::Outcome::clean) {
    BETCORE_ASSERT_MSG(framed.size() == input.size(), "a clean recovery dropped bytes");
  } else {
    BETCORE_ASSERT_MSG(report.truncated_offset == framed.size() &&
                           report.truncated_bytes == input.size() - framed.size() &&
                           !report.message.empty(),
                       "the report of a truncation disagrees with the file");
  }
  // Usable: the next append takes the next position and reads back.
  const std::string batch = "fuzz";
  auto appended = log.append(batch);
  BETCORE_ASSERT_MSG(appended.ok() && appended.value().value == records + 1,
                     "a recovered log does not take the next append");
  auto back = log.read(appended.value(), 1, SIZE_MAX, 0);
  BETCORE_ASSERT_MSG(back.ok() && back.value().size() == 1 && back.value()[0].batch == batch,
                     "an append to a recovered log does not read back");
}

// Opens the log on `input`; true when it refused a damaged tail that the
// operator's option may cut.
bool open_and_check(std::string_view input, bool truncate_corrupt_tail) {
  const std::string dir = g_root + "/log";
  write_segment(dir, input);
  FileLog::Options options;
  options.fsync = false;              // a RAM disk; durability is not under test
  options.cache_bytes_max = 1 << 16;  // reads come from the file
  options.truncate_corrupt_tail = truncate_corrupt_tail;
  auto log = FileLog::open(dir, options);
  if (!log.ok()) {
    BETCORE_ASSERT_MSG(log.error().code == Errc::corrupt && !log.error().message.empty(),
                       "recovery refused with something other than corrupt");
    return !truncate_corrupt_tail;
  }
  check_opened(*log.value(), dir, input);
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // every open logs a line
  g_root = make_root();
  std::atexit(remove_root);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (open_and_check(input, false)) open_and_check(input, true);
  return 0;
}
