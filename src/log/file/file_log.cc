#include "log/file/file_log.h"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "domain/assert.h"
#include "log/file/record.h"

namespace betcore::log {

using file::kHeaderSize;

Result<std::unique_ptr<FileLog>> FileLog::open(const std::string& dir, Options options) {
  if (dir.empty()) return Error{Errc::invalid_argument, "file log: empty directory name"};
  if (options.segment_bytes_max <= kHeaderSize) {
    return Error{Errc::invalid_argument,
                 fmt::format("file log: segment_bytes_max {} must exceed the {}-byte header",
                             options.segment_bytes_max, kHeaderSize)};
  }
  auto made = file::make_dirs(dir);
  if (!made) return made.error();
  auto lock = file::lock_dir(dir);
  if (!lock) return lock.error();
  auto recovered = file::recover_segments(
      dir, file::RecoveryOptions{options.truncate_corrupt_tail, options.fsync});
  if (!recovered) return recovered.error();
  if (recovered.value().segments.empty()) {
    auto created = file::create_segment(dir, Position{1});
    if (!created) return created.error();
    if (options.fsync) {
      auto synced = file::sync_dir(dir);
      if (!synced) return synced.error();
    }
    recovered.value().segments.push_back(std::move(created.value()));
    recovered.value().report.first = Position{1};
    recovered.value().report.head = Position{0};
  }
  return std::unique_ptr<FileLog>(
      new FileLog(dir, options, std::move(lock.value()), std::move(recovered.value())));
}

FileLog::FileLog(std::string dir, Options options, file::FileHandle lock,
                 file::RecoveredLog recovered)
    : dir_(std::move(dir)),
      options_(options),
      lock_(std::move(lock)),
      recovery_(std::move(recovered.report)),
      segments_(recovered.segments.begin(), recovered.segments.end()),
      cache_(options.cache_bytes_max) {
  BETCORE_ASSERT(!segments_.empty());
  active_ = segments_.back();
  active_bytes_ = active_->bytes;
  next_ = Position{active_->first.value + active_->records()};
  first_ = segments_.front()->first;
  head_ = Position{next_.value - 1};
  BETCORE_ASSERT(first_ == recovery_.first && head_ == recovery_.head);
}

FileLog::~FileLog() { close(); }

Result<Ok> FileLog::check_appendable() {
  std::lock_guard lock(mu_);
  if (closed_) return Error{Errc::closed, fmt::format("file log {} is closed", dir_)};
  if (failed_) return Error{Errc::io_error, failure_};
  return Ok{};
}

bool FileLog::append_failure_is_permanent(Errc code) const {
  if (code == Errc::io_error) {
    std::lock_guard lock(mu_);
    return failed_;
  }
  return code == Errc::closed || code == Errc::outcome_unknown;
}

Error FileLog::fail(Error error) {
  std::lock_guard lock(mu_);
  failed_ = true;
  failure_ = fmt::format(
      "file log {} has failed and accepts no more appends: {}. After a failed fsync the kernel "
      "may have dropped the unwritten pages and marked them clean, so no later fsync can prove "
      "they reached the disk. Restart the node: open() re-reads and re-validates the files.",
      dir_, error.message);
  spdlog::error("{}", failure_);
  return Error{Errc::io_error, failure_};
}

Result<Ok> FileLog::roll_segment() {
  auto created = file::create_segment(dir_, next_);
  if (!created) return created.error();  // nothing was created: the log is unchanged
  if (options_.fsync) {
    // Without this, a crash could lose the new file's name and with it every
    // acknowledged record written to it.
    auto synced = file::sync_dir(dir_);
    if (!synced) return fail(synced.error());
  }
  {
    std::lock_guard lock(mu_);
    segments_.push_back(created.value());
  }
  active_ = std::move(created.value());
  active_bytes_ = 0;
  return Ok{};
}

Result<Position> FileLog::append(std::string_view batch) {
  if (batch.size() > kBatchBytesMax) {
    return Error{Errc::invalid_argument,
                 fmt::format("file log: a batch of {} bytes is above the {} byte maximum",
                             batch.size(), kBatchBytesMax)};
  }
  auto appendable = check_appendable();
  if (!appendable) return appendable.error();

  const uint64_t record_bytes = kHeaderSize + batch.size();
  if (active_bytes_ > 0 && active_bytes_ + record_bytes > options_.segment_bytes_max) {
    auto rolled = roll_segment();
    if (!rolled) return rolled.error();
  }
  const bool first_in_segment = active_bytes_ == 0;

  unsigned char header[kHeaderSize];
  file::encode_record_header(next_.value, batch, header);
  // Check the data before it is written (its twin check is in read_from_disk).
  const file::RecordHeader encoded = file::decode_record_header(header);
  BETCORE_ASSERT(encoded.magic == file::kMagic && encoded.position == next_.value &&
                 encoded.payload_bytes == batch.size());

  iovec iov[2] = {{header, kHeaderSize}, {const_cast<char*>(batch.data()), batch.size()}};
  auto written = file::write_all_at(active_->file, active_->path, iov, 2, active_bytes_);
  if (!written) {
    // Cut the partial record off so the next append starts on a record
    // boundary, and fsync the cut before anything else is appended, here or
    // in a later segment: a crash must not bring the partial bytes back in
    // the middle. No fsync has failed, so the page cache is still truthful
    // and the log stays usable.
    auto cut = file::truncate_file(active_->file, active_->path, active_bytes_);
    if (cut && options_.fsync) cut = file::sync_all(active_->file, active_->path);
    if (!cut) {
      return fail(Error{Errc::io_error, written.error().message +
                                            "; cutting the partial record off also failed: " +
                                            cut.error().message});
    }
    return Error{Errc::io_error,
                 "file log: the batch was not appended: " + written.error().message};
  }
  if (options_.fsync) {
    // fsync, not fdatasync, for the first record of a segment: the new file's
    // size and inode must be durable with it.
    auto synced = first_in_segment ? file::sync_all(active_->file, active_->path)
                                   : file::sync_data(active_->file, active_->path);
    if (!synced) {
      // The whole record was written: it may be on disk, and if it is, the
      // next open keeps it. So this append's outcome is unknown (log.h), not
      // io_error, which promises that the append did not happen.
      Error failed = fail(synced.error());
      return Error{Errc::outcome_unknown, std::move(failed.message)};
    }
  }
  const Position position = next_;
  publish(active_bytes_, record_bytes, batch);
  return position;
}

void FileLog::publish(uint64_t record_offset, uint64_t record_bytes, std::string_view batch) {
  std::optional<Entry> cached;
  if (cache_.keeps(batch.size())) cached.emplace(Entry{next_, std::string(batch)});  // copy unlocked
  {
    std::lock_guard lock(mu_);
    active_->offsets.push_back(record_offset);
    active_->bytes = record_offset + record_bytes;
    head_ = next_;
    if (cached) {
      cache_.push(std::move(*cached));
    } else {
      cache_.clear();
    }
  }
  appended_.notify_all();
  active_bytes_ += record_bytes;
  ++next_.value;
}

Result<std::vector<Entry>> FileLog::read(Position from, size_t entries_max, size_t bytes_max,
                                         int wait_ms) {
  if (entries_max == 0) return Error{Errc::invalid_argument, "file log: read of 0 entries"};
  from = std::max(from, Position{1});
  std::unique_lock lock(mu_);
  if (!closed_ && head_ < from && wait_ms > 0) {
    appended_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                       [&] { return closed_ || head_ >= from; });
  }
  if (closed_) return Error{Errc::closed, fmt::format("file log {} is closed", dir_)};
  if (from < first_) {
    return Error{Errc::compacted,
                 fmt::format("file log {}: position {} was compacted; the log now starts at {}. "
                             "Load a snapshot at or after position {} and read from there.",
                             dir_, from.value, first_.value, first_.value - 1)};
  }
  if (head_ < from) return std::vector<Entry>{};
  BETCORE_ASSERT(cache_.empty() || cache_.last() == head_);
  if (cache_.contains(from)) {
    std::vector<Entry> entries;
    cache_.copy_from(from, entries_max, bytes_max, entries);
    return entries;
  }
  // Older than the cache: from disk, up to where the cache takes over.
  const Position last = cache_.empty() ? head_ : Position{cache_.first().value - 1};
  return read_from_disk(from, last, entries_max, bytes_max, lock);
}

std::shared_ptr<file::Segment> FileLog::segment_holding(Position position) const {
  // REQUIRES: mu_ held, first_ <= position <= head_.
  auto after = std::upper_bound(
      segments_.begin(), segments_.end(), position,
      [](Position p, const std::shared_ptr<file::Segment>& s) { return p < s->first; });
  BETCORE_ASSERT(after != segments_.begin());
  const std::shared_ptr<file::Segment>& segment = *std::prev(after);
  BETCORE_ASSERT(position.value - segment->first.value < segment->records());
  return segment;
}

Result<std::vector<Entry>> FileLog::read_from_disk(Position from, Position last,
                                                   size_t entries_max, size_t bytes_max,
                                                   std::unique_lock<std::mutex>& lock) {
  // Plan under the lock (the index is shared with the appender), read without
  // it. The shared_ptrs keep each file open even if compact() unlinks it.
  struct Run {
    std::shared_ptr<file::Segment> segment;
    Position first;
    std::vector<uint64_t> record_bytes;  // of each record in the run, header included
    uint64_t offset = 0;                 // of the first record
    uint64_t bytes = 0;                  // of the whole run
  };
  std::vector<Run> runs;
  size_t entries = 0;
  uint64_t payload_bytes = 0;
  std::shared_ptr<file::Segment> segment;
  for (Position p = from; p <= last && entries < entries_max; ++p.value) {
    if (!segment || p.value - segment->first.value >= segment->records()) {
      segment = segment_holding(p);
    }
    const uint64_t i = p.value - segment->first.value;
    const uint64_t bytes = segment->record_end(i) - segment->record_offset(i);
    BETCORE_ASSERT(bytes >= kHeaderSize);
    if (entries > 0 && payload_bytes + (bytes - kHeaderSize) > bytes_max) break;
    if (runs.empty() || runs.back().segment != segment) {
      runs.push_back(Run{segment, p, {}, segment->record_offset(i), 0});
    }
    runs.back().record_bytes.push_back(bytes);
    runs.back().bytes += bytes;
    payload_bytes += bytes - kHeaderSize;
    ++entries;
  }
  // If the disk part reaches the cache, continue from the cache (copied now,
  // under the lock) within what is left of the bounds.
  std::vector<Entry> cached;
  const Position next{from.value + entries};
  if (next.value == last.value + 1 && cache_.contains(next) && entries < entries_max &&
      payload_bytes < bytes_max) {
    cache_.copy_from(next, entries_max - entries, bytes_max - payload_bytes, cached);
    // copy_from adds one batch whatever its size to an empty vector; here the
    // disk part already satisfies "at least one".
    if (cached.size() == 1 && cached.front().batch.size() > bytes_max - payload_bytes) {
      cached.clear();
    }
  }
  lock.unlock();

  std::vector<Entry> out;
  out.reserve(entries);
  std::string buffer;
  for (const Run& run : runs) {
    buffer.resize(run.bytes);
    auto got = file::read_at(run.segment->file, run.segment->path, buffer.data(), run.bytes,
                             run.offset);
    if (!got) return got.error();
    uint64_t at = 0;  // within buffer
    Position position = run.first;
    for (uint64_t record_bytes : run.record_bytes) {
      // Check the data right after it is read: never hand out bytes whose
      // checksum fails, whatever the index says.
      const bool complete = at + record_bytes <= got.value();
      const file::RecordHeader header =
          complete ? file::decode_record_header(
                         reinterpret_cast<const unsigned char*>(buffer.data() + at))
                   : file::RecordHeader{};
      const std::string_view payload =
          complete ? std::string_view(buffer).substr(at + kHeaderSize, record_bytes - kHeaderSize)
                   : std::string_view();
      if (!complete || header.position != position.value ||
          header.payload_bytes != record_bytes - kHeaderSize ||
          !file::record_is_valid(header, payload)) {
        return Error{
            Errc::corrupt,
            fmt::format(
                "file log: the record for position {} in {} at byte offset {} {} when read "
                "back; it was fsynced intact, so the disk or filesystem is damaging data. Its "
                "bytes are not returned. Next: stop this node, check the disk (dmesg, SMART), "
                "and restore the node from a snapshot, a peer or a backup.",
                position.value, run.segment->path, run.offset + at,
                complete ? "fails its checksum" : "is missing (the file is too short)")};
      }
      out.push_back(Entry{position, std::string(payload)});
      at += record_bytes;
      ++position.value;
    }
  }
  for (Entry& entry : cached) out.push_back(std::move(entry));
  return out;
}

Result<Position> FileLog::head() {
  std::lock_guard lock(mu_);
  if (closed_) return Error{Errc::closed, fmt::format("file log {} is closed", dir_)};
  return head_;
}

Result<Ok> FileLog::compact(Position before) {
  std::lock_guard compacting(compact_mu_);
  std::vector<std::shared_ptr<file::Segment>> doomed;
  Position first;
  {
    std::lock_guard lock(mu_);
    if (closed_) return Error{Errc::closed, fmt::format("file log {} is closed", dir_)};
    // The front segment's last position is the next segment's first - 1, so
    // all its positions are < before iff that next first <= before. The last
    // (active) segment has no next one and is never deleted.
    while (segments_.size() > 1 && segments_[1]->first <= before) {
      doomed.push_back(std::move(segments_.front()));
      segments_.pop_front();
    }
    if (doomed.empty()) return Ok{};
    first_ = segments_.front()->first;
    first = first_;
    cache_.drop_below(first_);
  }
  // Oldest first, each unlink made durable before the next, so that after a
  // crash the files left are still a contiguous run of positions.
  for (const auto& segment : doomed) {
    if (::unlink(segment->path.c_str()) != 0) {
      return file::io_error_from_errno("unlink", segment->path, errno);
    }
    if (options_.fsync) {
      auto synced = file::sync_dir(dir_);
      if (!synced) return synced.error();
    }
  }
  spdlog::info("file log {}: compacted {} segments; the log now starts at position {}", dir_,
               doomed.size(), first.value);
  return Ok{};
}

void FileLog::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  appended_.notify_all();
}

}  // namespace betcore::log
