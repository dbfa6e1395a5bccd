// The snapshot: the whole state machine state in a canonical byte form
// (docs/snapshot-format.md). The same state always encodes to the same bytes,
// so the state digest is a hash of them, and decode(encode(s)) has the same
// digest as s. On disk it is compressed (zstd) and checksummed.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "domain/state.h"

namespace betcore::codec {

inline constexpr uint32_t kSnapshotMagic = 0x31534342;      // "BCS1"
inline constexpr uint8_t kSnapshotVersion = 1;
inline constexpr uint32_t kSnapshotFileMagic = 0x46534342;  // "BCSF"
inline constexpr size_t kSnapshotFileHeaderBytes = 32;

// Canonical, uncompressed encoding of the whole state.
std::string encode_state(const domain::State& state);

struct DecodedState {
  std::unique_ptr<domain::State> state;  // null on error
  std::string error;
};

// Never trusts its input: every index and id is checked.
DecodedState decode_state(std::string_view bytes);

// The state digest: XXH3-128 of the canonical encoding, as 32 hex chars.
std::string digest_of_encoding(std::string_view encoded_state);
std::string state_digest(const domain::State& state);
// The digest of everything but the remembered refusals (State::rejected):
// what "a rejected write changes nothing" is about (tests).
std::string digest_without_refusals(const domain::State& state);

// File form: a 32-byte header (magic, version, flags, reserved, applied
// index, raw length, checksum) + one zstd frame with zstd's content checksum.
// The header's checksum is XXH3-64 of every other byte of the file, so any
// damaged bit, in the header or the frame, is refused before decompressing.
std::string seal_snapshot(std::string_view encoded_state, uint64_t applied_index);

struct OpenedSnapshot {
  std::string encoded_state;  // empty on error
  uint64_t applied_index = 0;
  std::string error;
};
OpenedSnapshot open_snapshot(std::string_view file_bytes);

}  // namespace betcore::codec
