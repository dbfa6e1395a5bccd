// The batch: the unit appended to the command log (docs/batch-format.md).
// One batch carries many commands from one submitting node (group commit),
// one time stamp, and a checksum checked on every read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "domain/commands.h"

namespace betcore::codec {

inline constexpr uint32_t kBatchMagic = 0x31424342;  // "BCB1" little-endian
inline constexpr uint8_t kBatchVersion = 1;
inline constexpr size_t kBatchHeaderBytes = 28;      // before the node id
inline constexpr size_t kBatchChecksumBytes = 8;
inline constexpr uint32_t kBatchCommandsMax = 65'536;
inline constexpr size_t kBatchBytesMax = 8 * 1024 * 1024;

struct BatchHeader {
  std::string node_id;    // the submitting node
  uint64_t first_seq = 0; // the submitter's sequence number of the first command
  int64_t stamped_ms = 0; // the submitting node's clock when it sealed the batch
};

// Builds a batch from commands already encoded with encode_command.
// REQUIRES: commands.size() <= kBatchCommandsMax.
std::string encode_batch(const BatchHeader& header, const std::vector<std::string>& commands);

enum class BatchError { none, not_a_batch, unknown_version, checksum, malformed };
const char* batch_error_name(BatchError e);

struct DecodedBatch {
  BatchError error = BatchError::none;
  std::string detail;
  BatchHeader header;
  std::vector<domain::Command> commands;
};

// Never trusts `bytes`: checks magic, version, checksum, then every command.
DecodedBatch decode_batch(std::string_view bytes);

}  // namespace betcore::codec
