// Recovery on open: scan every segment, validate every record, repair a torn
// tail, and refuse to open over damage that may hide acknowledged batches.
// The rules are documented, in this order, in docs/log-format.md ("Recovery");
// keep the two in step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "log/file/segment.h"
#include "log/log.h"

namespace betcore::log::file {

struct RecoveryReport {
  enum class Outcome {
    clean,                   // every byte of every segment is a valid record
    truncated_torn_tail,     // an unacknowledged, incomplete last record was cut off
    truncated_corrupt_tail,  // a damaged last record was cut off (truncate_corrupt_tail)
  };
  Outcome outcome = Outcome::clean;
  size_t segments_scanned = 0;
  uint64_t records_recovered = 0;  // valid records kept, all segments
  Position first;                  // first retained position
  Position head;                   // last retained position (first - 1 when empty)
  std::string truncated_file;      // empty unless a file was truncated
  uint64_t truncated_offset = 0;   // the truncated file's new size
  uint64_t truncated_bytes = 0;    // bytes cut off
  std::string message;             // for a person: what was found and done
};

struct RecoveryOptions {
  bool truncate_corrupt_tail = false;  // accept losing a damaged last record
  bool fsync = true;                   // fsync a truncated file
};

struct RecoveredLog {
  std::vector<std::shared_ptr<Segment>> segments;  // in order, offsets filled in
  RecoveryReport report;
};

// Errc::corrupt when the log must not be opened (the message says which file,
// offset and position, what probably happened and what to do next);
// Errc::io_error when the disk failed while scanning or repairing.
Result<RecoveredLog> recover_segments(const std::string& dir, const RecoveryOptions& options);

}  // namespace betcore::log::file
