// Reading and damaging the file log and the snapshots on disk, from their
// documents rather than from the server's code: docs/log-format.md (segment
// files of back-to-back records) and src/node/snapshot_store.h (file names).
// A drill that parses the files independently catches a server whose code
// and document drifted apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace betcore::crash {

namespace fs = std::filesystem;

// docs/log-format.md, "Record".
inline constexpr size_t kRecordHeaderBytes = 24;
inline constexpr uint32_t kRecordMagic = 0x474C4342;  // the bytes "BCLG"
inline constexpr size_t kPayloadOffset = kRecordHeaderBytes;
inline constexpr size_t kLengthFieldOffset = 4;

struct LogRecord {
  uint64_t offset = 0;  // of the header in its segment file
  uint32_t payload_bytes = 0;
  uint64_t position = 0;
  uint64_t bytes() const { return kRecordHeaderBytes + payload_bytes; }
  uint64_t end() const { return offset + bytes(); }
};

// The segment files (`<20 digits>.log`) in `log_dir`, oldest first.
std::vector<fs::path> segment_files(const fs::path& log_dir);

// Every record of `segment`, validated as the document defines (magic,
// length, position + 1, checksum: XXH3_64 of header bytes 0..15 ++ payload).
// Throws std::runtime_error, saying where, at the first byte that is not a
// valid record: the drills only read segments they expect to be clean.
std::vector<LogRecord> read_records(const fs::path& segment);

// Bytes of every regular file under `dir`, by path relative to it.
std::map<std::string, std::string> read_tree(const fs::path& dir);

std::string read_file(const fs::path& path);
// XORs `mask` into the byte at `offset`.
void flip_bits(const fs::path& path, uint64_t offset, uint8_t mask);
// Overwrites 4 little-endian bytes at `offset`.
void write_u32(const fs::path& path, uint64_t offset, uint32_t value);
// Cuts the last `bytes` bytes off.
void chop(const fs::path& path, uint64_t bytes);

// snapshot-<20 digits>.bcs files in `snapshots_dir`, by index, oldest first.
std::map<uint64_t, fs::path> snapshot_files(const fs::path& snapshots_dir);

}  // namespace betcore::crash
