// The embedded backend of the command log: an append-only, checksummed,
// fsynced segment log in one directory (docs/log-format.md).
//
// Threads (log.h contract, made precise):
//   - append(): one appender thread at a time (the submitter). It owns the
//     write offset and the active segment's descriptor for writing.
//   - read(): any thread, concurrently with append() and with other reads
//     (the applier; GET /v1/log for the archiver; the archive lag's probe):
//     it touches shared state only under the mutex and reads the disk with
//     pread on segments it holds by shared_ptr.
//   - head(), compact(), close(), recovery(): any thread, any time.
//   - the destructor: only when no other call is in flight (close() first).
// Shared state sits behind one mutex held for microseconds, never across a
// write, an fsync or a disk read.
//
// Failure: if a write fails, the log cuts the partial bytes off and stays
// usable (append returns io_error: the batch was not appended). If an fsync
// fails, the kernel may have dropped the dirty pages and marked them clean
// (PostgreSQL's "fsyncgate", 2018), so no later fsync can prove they are on
// disk: that append returns outcome_unknown (its record may or may not be on
// disk), the log fails for good, every later append() returns io_error, and
// the node must restart, which re-reads and re-validates the files.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "log/file/batch_cache.h"
#include "log/file/posix_file.h"
#include "log/file/record.h"
#include "log/file/recovery.h"
#include "log/file/segment.h"
#include "log/log.h"

namespace betcore::log {

struct FileLogOptions {
  // Roll to a new segment file when the active one would grow past this. A
  // batch bigger than this gets a segment of its own.
  uint64_t segment_bytes_max = 64ull * 1024 * 1024;
  // Recently appended batches kept in memory for the reader, in bytes.
  size_t cache_bytes_max = 64ull * 1024 * 1024;
  // On open, cut off a damaged LAST record instead of refusing to open. That
  // batch may have been acknowledged: only for an operator who accepts its
  // loss (the node's --truncate-corrupt-tail). Never applies to damage in the
  // middle of the log.
  bool truncate_corrupt_tail = false;
  // fsync appends, new segments, truncations and deletions. Off only for
  // benchmarks and tests that do not test durability: without it head() is
  // not durable.
  bool fsync = true;
};

class FileLog final : public Log {
 public:
  using Options = FileLogOptions;
  using RecoveryReport = file::RecoveryReport;

  // Largest batch append() accepts, in bytes.
  static constexpr size_t kBatchBytesMax = file::kPayloadBytesMax;

  // Opens (creating `dir` if needed) and recovers the log in `dir`; see
  // docs/log-format.md, "Recovery". Errc::corrupt when the log must not be
  // opened (the message says where, why and what to do), Errc::unavailable
  // when another FileLog holds the directory, Errc::io_error on disk errors,
  // Errc::invalid_argument for bad options.
  static Result<std::unique_ptr<FileLog>> open(const std::string& dir, Options options);

  ~FileLog() override;
  FileLog(const FileLog&) = delete;
  FileLog& operator=(const FileLog&) = delete;

  // One pwritev of header + batch, then fdatasync (fsync for the first
  // record of a segment), then the position. Positions are 1, 2, 3, ...
  // Errc::io_error: not appended (a failed write, or the log failed earlier).
  // Errc::outcome_unknown: the fsync failed; the log has failed (see above).
  // Errc::invalid_argument above kBatchBytesMax.
  // Thread: the appender.
  Result<Position> append(std::string_view batch) override;

  // From the in-memory cache when `from` is recent, else from disk (every
  // record read from disk is checksummed: Errc::corrupt, never the bytes, on
  // a mismatch). Errc::compacted below the first retained position.
  // Position{0} reads from the start. REQUIRES: entries_max > 0.
  // Thread: any (see the file comment).
  Result<std::vector<Entry>> read(Position from, size_t entries_max, size_t bytes_max,
                                  int wait_ms) override;

  // Thread-safe.
  Result<Position> head() override;

  // Deletes whole segment files whose every position is < before, oldest
  // first; never the active (last) segment. Thread-safe.
  Result<Ok> compact(Position before) override;

  // Wakes a blocked reader; later calls return Errc::closed. Files stay open
  // (and the directory locked) until the destructor. Thread-safe.
  void close() override;

  // A failed write (a full disk, an I/O error) leaves the log usable: the
  // batch was not appended and the next one may succeed. Only a failed
  // fsync or repair (the log has failed, see above), outcome_unknown and
  // closed need a restart.
  bool append_failure_is_permanent(Errc code) const override;

  // What open() found and repaired. Immutable after open; thread-safe.
  const RecoveryReport& recovery() const { return recovery_; }

 private:
  FileLog(std::string dir, Options options, file::FileHandle lock,
          file::RecoveredLog recovered);

  Result<Ok> check_appendable();
  Result<Ok> roll_segment();
  Error fail(Error error);
  void publish(uint64_t record_offset, uint64_t record_bytes, std::string_view batch);
  Result<std::vector<Entry>> read_from_disk(Position from, Position last, size_t entries_max,
                                            size_t bytes_max, std::unique_lock<std::mutex>& lock);
  std::shared_ptr<file::Segment> segment_holding(Position position) const;

  const std::string dir_;
  const Options options_;
  const file::FileHandle lock_;  // flock on dir_/LOCK, held for our lifetime
  const RecoveryReport recovery_;

  // Appender thread only.
  std::shared_ptr<file::Segment> active_;  // == segments_.back()
  uint64_t active_bytes_ = 0;              // where the next record goes in active_
  Position next_;                          // the position the next append gets

  // Serializes compact() calls; taken before mu_.
  std::mutex compact_mu_;

  mutable std::mutex mu_;
  std::condition_variable appended_;  // signalled on each append and on close
  // Guarded by mu_ (as are the offsets and bytes of every segment):
  std::deque<std::shared_ptr<file::Segment>> segments_;  // oldest first, never empty
  Position first_;                                       // first retained position
  Position head_;                                        // last durable position
  file::BatchCache cache_;
  bool closed_ = false;
  bool failed_ = false;     // an fsync or repair failed: see the header comment
  std::string failure_;     // why, for the io_error message
};

}  // namespace betcore::log
