// The batch: the unit appended to the command log (docs/batch-format.md).
// One batch carries many commands from one submitting node (group commit),
// one time stamp, and a checksum checked on every read.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "domain/commands.h"

namespace betcore::codec {

inline constexpr uint32_t kBatchMagic = 0x31424342;  // "BCB1" little-endian
// Version 2 adds the audit anchors and the actors (docs/batch-format.md).
// This build writes version 2; version 1 (logs from before the audit chain)
// is read forever and written only on request (BatchHeader::version).
inline constexpr uint8_t kBatchVersion = 2;
inline constexpr size_t kBatchHeaderBytes = 28;      // before the node id
inline constexpr size_t kBatchChecksumBytes = 8;
inline constexpr uint32_t kBatchCommandsMax = 65'536;
inline constexpr size_t kBatchBytesMax = 8 * 1024 * 1024;

inline constexpr size_t kBatchAnchorsMax = 256;
// The longest node id a batch carries (a node refuses a longer --node-id).
inline constexpr size_t kNodeIdMax = 64;
inline constexpr size_t kBatchActorsMax = 65'535;
inline constexpr size_t kActorFieldMax = 32;  // bytes of a role or a token id

using ChainHash = std::array<uint8_t, 32>;

// The audit chain's value after the batch at `position` (codec/chain.h),
// as the submitting node computed it: every replica checks it.
struct ChainAnchor {
  uint64_t position = 0;
  ChainHash chain{};
  bool operator==(const ChainAnchor&) const = default;
};

// Who sent a command: the role and token id (api/auth.h) of the request.
// Both empty for a command no request sent (a node's own, a test's).
struct Actor {
  std::string role;
  std::string token_id;
  bool operator==(const Actor&) const = default;
};

struct BatchHeader {
  std::string node_id;    // the submitting node
  uint64_t first_seq = 0; // the submitter's sequence number of the first command
  int64_t stamped_ms = 0; // the submitting node's clock when it sealed the batch
  std::vector<ChainAnchor> anchors{};  // ascending positions; at most kBatchAnchorsMax
  // Distinct actors, and each command's index into them (both empty, or
  // actor_of.size() == the number of commands).
  std::vector<Actor> actors{};
  std::vector<uint16_t> actor_of{};
  // 1 or 2. The audit chain begins at the log's first version 2 batch
  // (codec/chain.h); a version 1 batch carries no anchors and no actors.
  uint8_t version = kBatchVersion;
};

// Builds a batch from commands already encoded with encode_command.
// REQUIRES: commands.size() <= kBatchCommandsMax; anchors and actors within
// their bounds; actor_of empty or one per command, each < actors.size().
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
