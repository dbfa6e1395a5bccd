// A segment: one append-only file of records for a contiguous run of
// positions, named by the first position it holds (docs/log-format.md,
// "Segments").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "log/file/posix_file.h"
#include "log/log.h"

namespace betcore::log::file {

struct Segment {
  Position first;    // the position of its first record (and its file name)
  std::string path;
  // Open read-write for the life of the segment. Shared (via shared_ptr) with
  // a reader that is reading it from disk, so compaction can unlink the file
  // under a reader without closing the descriptor it uses.
  FileHandle file;

  // Once the log is open, these are guarded by FileLog's mutex: the appender
  // adds to the active segment while the reader looks records up.
  std::vector<uint64_t> offsets;  // offsets[i]: byte offset of the record at first + i
  uint64_t bytes = 0;             // end of the last complete, durable record

  uint64_t records() const { return offsets.size(); }
  // REQUIRES: i < records().
  uint64_t record_offset(uint64_t i) const { return offsets[i]; }
  uint64_t record_end(uint64_t i) const { return i + 1 < offsets.size() ? offsets[i + 1] : bytes; }
};

inline constexpr size_t kSegmentNameDigits = 20;  // fits every uint64_t
inline constexpr std::string_view kSegmentSuffix = ".log";

// "00000000000000000001.log" for Position{1}.
std::string segment_file_name(Position first);

// The first position named by a segment file name, or nothing if `name` is not
// exactly 20 digits followed by ".log" (other files in the dir are ignored).
std::optional<Position> parse_segment_file_name(std::string_view name);

struct SegmentFileName {
  Position first;
  std::string path;
};

// The segment files in `dir`, in position order.
Result<std::vector<SegmentFileName>> list_segment_files(const std::string& dir);

// Opens an existing segment file read-write; offsets and bytes are left empty
// for the recovery scan to fill.
Result<std::shared_ptr<Segment>> open_segment(const SegmentFileName& name);

// Creates an empty segment file for `first` (it must not exist yet).
// The caller fsyncs `dir` (sync_dir) before writing to it, so that the name of
// the file holding acknowledged records survives a crash.
Result<std::shared_ptr<Segment>> create_segment(const std::string& dir, Position first);

}  // namespace betcore::log::file
