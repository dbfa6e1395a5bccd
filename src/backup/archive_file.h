// One archive file (docs/backup.md, "Files"): a 128-byte plain header, read
// by anyone and authenticated as associated data, then the payload,
// compressed with zstd and sealed with XChaCha20-Poly1305 (libsodium) under
// the archive key. A flipped bit anywhere, a file sealed under another key or
// a header that does not match its file name is refused: never garbage.
//
// Two kinds: a segment (archived log batches, positions first..last, in log
// order) and a snapshot (the canonical state encoding at one position).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>


namespace betcore::backup {

inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kKeyIdBytes = 16;
inline constexpr size_t kHeaderBytes = 128;
inline constexpr uint32_t kFileMagic = 0x31414342;  // "BCA1" little-endian
inline constexpr uint8_t kFileVersion = 1;
// Largest payload a file may claim once opened (a segment closes long before).
inline constexpr size_t kPayloadBytesMax = size_t{1} << 30;

// The archive key: 32 random bytes, kept in a key file as 64 hex digits.
struct Key {
  std::array<unsigned char, kKeyBytes> bytes{};
  // A keyed hash of a constant: names the key without revealing it, so a
  // wrong key is told apart from a damaged file.
  std::array<unsigned char, kKeyIdBytes> id() const;
  std::string id_hex() const;
};

// A new random key (libsodium's CSPRNG).
Key generate_key();
// Reads a key file: false with `error` (what is wrong and what to do) when
// the file is missing, unreadable, readable by others, or not 64 hex digits.
bool load_key(const std::string& path, Key& key, std::string& error);
// Writes a new key file (mode 0600, O_EXCL: never over an existing key).
bool write_key_file(const std::string& path, const Key& key, std::string& error);

enum class FileKind : uint8_t { segment = 1, snapshot = 2 };

struct FileHeader {
  FileKind kind = FileKind::segment;
  std::array<unsigned char, kKeyIdBytes> key_id{};
  uint64_t first = 0;     // segment: first position; snapshot: its position
  uint64_t last = 0;      // segment: last position; snapshot: its position
  uint64_t prev = 0;      // segment: last position of the segment before (0: the log's start)
  uint32_t count = 0;     // segment: batches in it; snapshot: 0
  int64_t time_ms = 0;    // state time at `last` (the batch stamps' running maximum)
  uint64_t commands = 0;  // commands applied at `last`
  std::string digest;     // state digest at `last` (32 hex), or "" when not recorded
};

// Seals `payload` into a whole file. REQUIRES: header.digest is "" or 32 hex.
std::string seal_file(const FileHeader& header, std::string_view payload, const Key& key);

// Reads the plain header only (no key needed; not yet authenticated).
bool read_header(std::string_view file, FileHeader& header, std::string& error);

struct OpenedFile {
  FileHeader header;
  std::string payload;
  std::string error;  // "" when opened; else what is wrong, for a person
  bool wrong_key = false;
};
// Checks and opens a whole file: header, key, authentication, decompression.
OpenedFile open_file(std::string_view file, const Key& key);

}  // namespace betcore::backup
