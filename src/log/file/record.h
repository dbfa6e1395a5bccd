// The on-disk record of the file log: one batch = one record.
//
// Layout (docs/log-format.md, "Record"), all integers little-endian:
//
//   offset  size  field
//        0     4  magic          kMagic ("BCLG" as bytes on disk)
//        4     4  payload_bytes  <= kPayloadBytesMax
//        8     8  position       1, 2, 3, ... contiguous across segments
//       16     8  checksum       XXH3_64bits(bytes 0..15 of the header ++ payload)
//       24     -  payload        the batch, exactly as appended
//
// This file only encodes and checks; it does no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace betcore::log::file {

inline constexpr size_t kHeaderSize = 24;  // docs/log-format.md, "Record"
inline constexpr size_t kChecksummedHeaderBytes = 16;  // magic, payload_bytes, position
inline constexpr uint32_t kMagic = 0x474C4342;         // "BCLG" read as little-endian u32
inline constexpr std::string_view kMagicBytes = "BCLG";  // kMagic as it lies on disk
static_assert(kMagic == (uint32_t{'B'} | uint32_t{'C'} << 8 | uint32_t{'L'} << 16 |
                         uint32_t{'G'} << 24));
// A batch is at most this big. It bounds every allocation made from a length
// read off the disk, so a flipped bit cannot make us allocate gigabytes.
inline constexpr uint32_t kPayloadBytesMax = 64u * 1024 * 1024;

struct RecordHeader {
  uint32_t magic = kMagic;
  uint32_t payload_bytes = 0;
  uint64_t position = 0;
  uint64_t checksum = 0;
};

// Checksum of a record whose header fields are `header` (its checksum field is
// ignored) and whose payload is `payload`.
uint64_t record_checksum(const RecordHeader& header, std::string_view payload);

// Fills `out` (kHeaderSize bytes) with the header of a record holding
// `payload` at `position`, checksum included.
// REQUIRES: payload.size() <= kPayloadBytesMax.
void encode_record_header(uint64_t position, std::string_view payload, unsigned char* out);

// Decodes kHeaderSize bytes. Checks nothing: see record_is_valid().
RecordHeader decode_record_header(const unsigned char* in);

// True when the header's magic and length are plausible, before the payload is
// known (used to tell a torn tail from garbage).
inline bool header_is_plausible(const RecordHeader& header) {
  return header.magic == kMagic && header.payload_bytes <= kPayloadBytesMax;
}

// True when `header` + `payload` form an intact record: plausible header,
// payload of the announced length, matching checksum.
bool record_is_valid(const RecordHeader& header, std::string_view payload);

}  // namespace betcore::log::file
