#include "log/file/recovery.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "domain/assert.h"
#include "log/file/record.h"

namespace betcore::log::file {
namespace {

// Disks write whole sectors: a crash can leave the tail of a file as zeros
// from a sector boundary (the size grew, the data did not land).
constexpr uint64_t kSectorBytes = 512;

// Reads one segment front to back through a read-ahead window, so a scan of
// small records costs one pread per window rather than two per record.
class SequentialReader {
 public:
  static constexpr size_t kWindowBytes = 1024 * 1024;

  SequentialReader(const Segment& segment, uint64_t file_bytes)
      : segment_(segment), file_bytes_(file_bytes) {}

  // Up to `bytes` bytes at `offset`, fewer only at end of file. The view is
  // valid until the next call.
  Result<std::string_view> view(uint64_t offset, size_t bytes) {
    BETCORE_ASSERT(offset <= file_bytes_);
    bytes = static_cast<size_t>(std::min<uint64_t>(bytes, file_bytes_ - offset));
    if (offset < window_offset_ || offset + bytes > window_offset_ + window_bytes_) {
      const auto want = static_cast<size_t>(
          std::min<uint64_t>(std::max(bytes, kWindowBytes), file_bytes_ - offset));
      if (buffer_.size() < want) buffer_.resize(want);
      auto got = read_at(segment_.file, segment_.path, buffer_.data(), want, offset);
      if (!got) return got.error();
      if (got.value() != want) {
        return Error{Errc::io_error, fmt::format("{} shrank while it was being scanned at offset {}",
                                                 segment_.path, offset)};
      }
      window_offset_ = offset;
      window_bytes_ = want;
    }
    return std::string_view(buffer_.data() + (offset - window_offset_), bytes);
  }

  uint64_t file_bytes() const { return file_bytes_; }

 private:
  const Segment& segment_;
  uint64_t file_bytes_;
  std::vector<char> buffer_;
  uint64_t window_offset_ = 0;
  size_t window_bytes_ = 0;
};

RecordHeader header_from(std::string_view bytes) {
  BETCORE_ASSERT(bytes.size() >= kHeaderSize);
  return decode_record_header(reinterpret_cast<const unsigned char*>(bytes.data()));
}

// Where a segment stops being a sequence of valid records.
struct ScanStop {
  bool clean = true;   // the segment is valid to its last byte
  uint64_t offset = 0; // the first byte not covered by a valid record
  std::string why;     // what is wrong with the bytes at `offset`
};

// Validates records from offset 0 (magic, length bound, position == previous
// + 1, checksum), filling segment.offsets and segment.bytes, and stops at the
// first byte that does not start a valid record.
Result<ScanStop> scan_segment(SequentialReader& reader, Segment& segment) {
  const uint64_t file_bytes = reader.file_bytes();
  uint64_t offset = 0;
  uint64_t expected = segment.first.value;
  auto stop = [&](std::string why) {
    segment.bytes = offset;
    return ScanStop{false, offset, std::move(why)};
  };
  // Bound: each round consumes at least kHeaderSize bytes of the file.
  while (offset < file_bytes) {
    const uint64_t remaining = file_bytes - offset;
    if (remaining < kHeaderSize) {
      return stop(fmt::format("the file ends {} bytes into a {}-byte record header", remaining,
                              kHeaderSize));
    }
    auto header_bytes = reader.view(offset, kHeaderSize);
    if (!header_bytes) return header_bytes.error();
    const RecordHeader header = header_from(header_bytes.value());
    if (header.magic != kMagic) return stop(fmt::format("bad magic {:#010x}", header.magic));
    if (header.payload_bytes > kPayloadBytesMax) {
      return stop(fmt::format("payload length {} above the maximum {}", header.payload_bytes,
                              kPayloadBytesMax));
    }
    if (header.position != expected) {
      return stop(fmt::format("position {} where {} was expected", header.position, expected));
    }
    const uint64_t record_bytes = kHeaderSize + header.payload_bytes;
    if (record_bytes > remaining) {
      return stop(fmt::format("the file ends {} bytes into a {}-byte payload",
                              remaining - kHeaderSize, header.payload_bytes));
    }
    auto record = reader.view(offset, static_cast<size_t>(record_bytes));
    if (!record) return record.error();
    if (!record_is_valid(header, record.value().substr(kHeaderSize))) {
      return stop("checksum mismatch");
    }
    segment.offsets.push_back(offset);
    offset += record_bytes;
    ++expected;
  }
  segment.bytes = offset;
  return ScanStop{};
}

Result<bool> all_zero(SequentialReader& reader, uint64_t from) {
  for (uint64_t offset = from; offset < reader.file_bytes();) {
    auto window = reader.view(offset, SequentialReader::kWindowBytes);
    if (!window) return window.error();
    const std::string_view bytes = window.value();
    if (std::any_of(bytes.begin(), bytes.end(), [](char c) { return c != 0; })) return false;
    offset += bytes.size();
  }
  return true;
}

// Where the run of zero bytes that ends the file starts (the file's size
// when its last byte is not zero), looking no further back than `from`.
Result<uint64_t> trailing_zeros_start(SequentialReader& reader, uint64_t from) {
  uint64_t z = reader.file_bytes();
  // Bound: each round moves z back by a chunk or returns.
  while (z > from) {
    const uint64_t chunk = std::min<uint64_t>(z - from, 4096);
    auto window = reader.view(z - chunk, static_cast<size_t>(chunk));
    if (!window) return window.error();
    const std::string_view bytes = window.value();
    for (size_t i = bytes.size(); i > 0; --i) {
      if (bytes[i - 1] != 0) return z - chunk + i;
    }
    z -= chunk;
  }
  return z;
}

struct FoundRecord {
  uint64_t offset = 0;
  uint64_t position = 0;
};

// The first valid record (magic, length, checksum, position >= `expected`)
// starting anywhere in [from, end of file), found by searching for the magic.
Result<std::optional<FoundRecord>> find_valid_record(SequentialReader& reader, uint64_t from,
                                                     uint64_t expected) {
  const std::string_view magic = kMagicBytes;
  const uint64_t file_bytes = reader.file_bytes();
  uint64_t offset = from;
  // Bound: each round advances `offset` by at least one byte.
  while (offset + kHeaderSize <= file_bytes) {
    auto window = reader.view(offset, SequentialReader::kWindowBytes);
    if (!window) return window.error();
    const size_t hit = window.value().find(magic);
    if (hit == std::string_view::npos) {
      // Keep the last 3 bytes: a magic may straddle two windows.
      offset += std::max<size_t>(window.value().size() - (magic.size() - 1), 1);
      continue;
    }
    offset += hit;
    if (offset + kHeaderSize > file_bytes) break;
    auto header_bytes = reader.view(offset, kHeaderSize);
    if (!header_bytes) return header_bytes.error();
    const RecordHeader header = header_from(header_bytes.value());
    const uint64_t record_bytes = kHeaderSize + header.payload_bytes;
    if (header_is_plausible(header) && header.position >= expected &&
        record_bytes <= file_bytes - offset) {
      auto record = reader.view(offset, static_cast<size_t>(record_bytes));
      if (!record) return record.error();
      if (record_is_valid(header, record.value().substr(kHeaderSize))) {
        return std::optional<FoundRecord>(FoundRecord{offset, header.position});
      }
    }
    ++offset;
  }
  return std::optional<FoundRecord>();
}

enum class Damage { torn_tail, corrupt_tail, corrupt_middle };

struct Diagnosis {
  Damage damage;
  std::string why;
};

// Classifies the bytes after the last valid record of the LAST segment.
// docs/log-format.md, "Recovery", rules 1-6, in the same order.
Result<Diagnosis> diagnose_tail(SequentialReader& reader, const ScanStop& stop,
                                uint64_t expected) {
  const uint64_t remaining = reader.file_bytes() - stop.offset;
  // Rule 1: only zeros (a crash after the size grew but before the data landed).
  auto zeros = all_zero(reader, stop.offset);
  if (!zeros) return zeros.error();
  if (zeros.value()) {
    return Diagnosis{Damage::torn_tail, fmt::format("{} zero bytes", remaining)};
  }
  // Rule 2: a valid record follows the damage, so the damage is not at the tail.
  auto found = find_valid_record(reader, stop.offset + 1, expected);
  if (!found) return found.error();
  if (found.value()) {
    return Diagnosis{Damage::corrupt_middle,
                     fmt::format("{}; a valid record (position {}) follows it at offset {}",
                                 stop.why, found.value()->position, found.value()->offset)};
  }
  // Rule 3a: the file ends in zeros from a sector boundary that cuts the
  // header of the expected record (its magic, as much as landed, matches):
  // the file ends inside a header, as in rule 4, then the zeros of a size
  // that grew before its data landed, as in rule 1. A record whose header
  // is whole is left to rules 3 and 5: a complete record with zeroed
  // sectors may have been acknowledged (see "A known cost of rule 3").
  auto zeros_at = trailing_zeros_start(reader, stop.offset);
  if (!zeros_at) return zeros_at.error();
  // (The data itself may end in zeros just before the boundary.)
  const uint64_t z = (zeros_at.value() + kSectorBytes - 1) / kSectorBytes * kSectorBytes;
  if (z < reader.file_bytes()) {
    const uint64_t before = z - stop.offset;
    auto head = reader.view(stop.offset, static_cast<size_t>(std::min<uint64_t>(before, kHeaderSize)));
    if (!head) return head.error();
    bool header_cut = false;
    if (before < kHeaderSize) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(before, kMagicBytes.size()));
      header_cut = head.value().substr(0, n) == kMagicBytes.substr(0, n);
    }
    if (header_cut) {
      return Diagnosis{Damage::torn_tail,
                       fmt::format("{}; the file ends in {} zero bytes from offset {} (a sector boundary) "
                                   "inside the record's header",
                                   stop.why, reader.file_bytes() - z, z)};
    }
  }
  if (remaining >= kHeaderSize) {
    auto header_bytes = reader.view(stop.offset, kHeaderSize);
    if (!header_bytes) return header_bytes.error();
    const RecordHeader header = header_from(header_bytes.value());
    // Rule 3: a complete final record (it ends exactly at end of file) that
    // fails validation. It may have been acknowledged.
    if (header.payload_bytes <= kPayloadBytesMax &&
        kHeaderSize + header.payload_bytes == remaining) {
      return Diagnosis{Damage::corrupt_tail, fmt::format("a complete record with {}", stop.why)};
    }
    // Rule 3, continued: a damaged length field can make a complete record
    // look torn. If the checksum holds with the length the file implies, the
    // record was whole (and maybe acknowledged): it is not a torn tail.
    if (remaining - kHeaderSize <= kPayloadBytesMax) {
      RecordHeader implied = header;
      implied.payload_bytes = static_cast<uint32_t>(remaining - kHeaderSize);
      auto payload = reader.view(stop.offset + kHeaderSize, implied.payload_bytes);
      if (!payload) return payload.error();
      if (record_checksum(implied, payload.value()) == header.checksum) {
        return Diagnosis{Damage::corrupt_tail,
                         fmt::format("a complete record whose length field is damaged ({} where "
                                     "the file holds {})",
                                     header.payload_bytes, implied.payload_bytes)};
      }
    }
  }
  // Rule 4: the file ends inside a header.
  if (remaining < kHeaderSize) return Diagnosis{Damage::torn_tail, stop.why};
  // Rule 5: an intact header whose payload the file ends inside.
  auto header_bytes = reader.view(stop.offset, kHeaderSize);
  if (!header_bytes) return header_bytes.error();
  const RecordHeader header = header_from(header_bytes.value());
  if (header_is_plausible(header) && header.position == expected &&
      kHeaderSize + header.payload_bytes > remaining) {
    return Diagnosis{Damage::torn_tail, stop.why};
  }
  // Rule 6: anything else is a bad record followed by more data.
  return Diagnosis{Damage::corrupt_middle,
                   fmt::format("{}, and {} more bytes that are not a torn record", stop.why,
                               remaining)};
}

Error corrupt_middle_error(const Segment& segment, uint64_t offset, uint64_t position,
                           const std::string& why) {
  return Error{
      Errc::corrupt,
      fmt::format("file log: {} is corrupt at byte offset {} (the record for position {}): {}. "
                  "Data in the middle of the log is damaged (a flipped bit, a bad sector or an "
                  "outside write); the batches after it were acknowledged, so the log is never "
                  "truncated or skipped past this point and will not open. Next: keep the "
                  "damaged file for inspection, then restore this node from a snapshot and let it "
                  "tail the log, from a peer, or from a backup (see the restore runbook).",
                  segment.path, offset, position, why)};
}

Error corrupt_tail_error(const Segment& segment, uint64_t offset, uint64_t position,
                         uint64_t bytes, const std::string& why) {
  return Error{
      Errc::corrupt,
      fmt::format("file log: the last record of the log, in {} at byte offset {} (position {}, "
                  "{} bytes), fails validation: {}. It was probably damaged on disk after it "
                  "was written (a flipped bit or a bad sector), and it may have been "
                  "acknowledged to a client, so the log refuses to drop it silently. Next: "
                  "restore this node from a snapshot, a peer or a backup; or, accepting the loss "
                  "of that one batch, restart the node with --truncate-corrupt-tail.",
                  segment.path, offset, position, bytes, why)};
}

// Cuts `segment` back to `offset` and makes that durable.
Result<Ok> truncate_tail(Segment& segment, uint64_t offset, bool sync) {
  auto truncated = truncate_file(segment.file, segment.path, offset);
  if (!truncated) return truncated.error();
  if (sync) {
    auto synced = sync_all(segment.file, segment.path);
    if (!synced) return synced.error();
  }
  segment.bytes = offset;
  return Ok{};
}

uint64_t next_position(const Segment& segment) {
  return segment.first.value + segment.records();
}

// The last segment stopped before its end at `at`: a torn tail (never
// acknowledged) is cut; a damaged one only when the operator said so; else,
// or when the damage is not at the tail, recovery stops with the error.
Result<Ok> recover_tail(Segment& segment, SequentialReader& reader, const ScanStop& at,
                        uint64_t file_bytes, const RecoveryOptions& options, RecoveryReport& report) {
  const uint64_t expected = next_position(segment);
  auto diagnosis = diagnose_tail(reader, at, expected);
  if (!diagnosis) return diagnosis.error();
  const uint64_t cut_bytes = file_bytes - at.offset;
  switch (diagnosis.value().damage) {
    case Damage::corrupt_middle:
      return corrupt_middle_error(segment, at.offset, expected, diagnosis.value().why);
    case Damage::corrupt_tail:
      if (!options.truncate_corrupt_tail) {
        return corrupt_tail_error(segment, at.offset, expected, cut_bytes,
                                  diagnosis.value().why);
      }
      report.outcome = RecoveryReport::Outcome::truncated_corrupt_tail;
      break;
    case Damage::torn_tail:
      report.outcome = RecoveryReport::Outcome::truncated_torn_tail;
      break;
  }
  auto truncated = truncate_tail(segment, at.offset, options.fsync);
  if (!truncated) return truncated.error();
  report.truncated_file = segment.path;
  report.truncated_offset = at.offset;
  report.truncated_bytes = cut_bytes;
  if (report.outcome == RecoveryReport::Outcome::truncated_torn_tail) {
    report.message = fmt::format(
        "file log: {} ended with an incomplete record for position {} ({}); that batch was "
        "never fsynced, so never acknowledged: cut {} bytes at offset {}.",
        segment.path, expected, diagnosis.value().why, cut_bytes, at.offset);
  } else {
    report.message = fmt::format(
        "file log: {} ended with a damaged record for position {} ({}); as asked by "
        "truncate_corrupt_tail, cut {} bytes at offset {}: that batch is lost.",
        segment.path, expected, diagnosis.value().why, cut_bytes, at.offset);
  }
  return Ok{};
}

}  // namespace

Result<RecoveredLog> recover_segments(const std::string& dir, const RecoveryOptions& options) {
  auto names = list_segment_files(dir);
  if (!names) return names.error();
  RecoveredLog log;
  RecoveryReport& report = log.report;
  for (size_t i = 0; i < names.value().size(); ++i) {
    const SegmentFileName& name = names.value()[i];
    const bool last = i + 1 == names.value().size();
    auto opened = open_segment(name);
    if (!opened) return opened.error();
    Segment& segment = *opened.value();
    if (segment.first.value == 0) {
      return corrupt_middle_error(segment, 0, 0, "position 0 is not a valid first position");
    }
    if (!log.segments.empty() && segment.first.value != next_position(*log.segments.back())) {
      return corrupt_middle_error(
          segment, 0, segment.first.value,
          fmt::format("the previous segment ends at position {}, so this one should start at "
                      "{}: a segment file is missing or misnamed",
                      next_position(*log.segments.back()) - 1,
                      next_position(*log.segments.back())));
    }
    auto file_bytes = file_size(segment.file, segment.path);
    if (!file_bytes) return file_bytes.error();
    SequentialReader reader(segment, file_bytes.value());
    auto stop = scan_segment(reader, segment);
    if (!stop) return stop.error();
    ++report.segments_scanned;
    if (!stop.value().clean) {
      const ScanStop& at = stop.value();
      const uint64_t expected = next_position(segment);
      if (!last) {
        return corrupt_middle_error(segment, at.offset, expected,
                                    at.why + "; later segment files follow it");
      }
      auto recovered = recover_tail(segment, reader, at, file_bytes.value(), options, report);
      if (!recovered) return recovered.error();
    }
    report.records_recovered += segment.records();
    log.segments.push_back(std::move(opened.value()));
  }
  if (!log.segments.empty()) {
    report.first = log.segments.front()->first;
    report.head = Position{next_position(*log.segments.back()) - 1};
  }
  const std::string summary =
      fmt::format("{} records in {} segments, positions {}..{}", report.records_recovered,
                  report.segments_scanned, report.first.value, report.head.value);
  if (report.outcome == RecoveryReport::Outcome::clean) {
    report.message = fmt::format("file log {}: clean, {}", dir, summary);
    spdlog::info("{}", report.message);
  } else {
    report.message += " Recovered " + summary + ".";
    spdlog::warn("{}", report.message);
  }
  return log;
}

}  // namespace betcore::log::file
