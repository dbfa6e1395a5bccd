// One archive file: header, key, seal and open (docs/backup.md, "Files").
#include "backup/archive_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "codec/binary.h"
#include "domain/assert.h"

namespace betcore::backup {
namespace {

constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kDigestChars = 32;
// magic 4, version 1, kind 1, reserved 2, key id 16, first 8, last 8, prev 8,
// count 4, reserved 4, time 8, commands 8, digest 32, nonce 24.
static_assert(4 + 1 + 1 + 2 + kKeyIdBytes + 8 + 8 + 8 + 4 + 4 + 8 + 8 + kDigestChars +
                  kNonceBytes ==
              kHeaderBytes);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == kKeyBytes);

void ensure_sodium() {
  // Thread-safe and idempotent (libsodium documents both).
  BETCORE_ASSERT_MSG(sodium_init() >= 0, "libsodium failed to initialise");
}

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

std::string encode_header(const FileHeader& h, const unsigned char* nonce) {
  BETCORE_ASSERT(h.digest.empty() || h.digest.size() == kDigestChars);
  std::string out;
  out.reserve(kHeaderBytes);
  codec::Writer w(out);
  w.u32(kFileMagic);
  w.u8(kFileVersion);
  w.u8(static_cast<uint8_t>(h.kind));
  w.u16(0);
  w.raw(std::string_view(reinterpret_cast<const char*>(h.key_id.data()), kKeyIdBytes));
  w.u64(h.first);
  w.u64(h.last);
  w.u64(h.prev);
  w.u32(h.count);
  w.u32(0);
  w.i64(h.time_ms);
  w.u64(h.commands);
  std::string digest = h.digest;
  digest.resize(kDigestChars, '\0');
  w.raw(digest);
  w.raw(std::string_view(reinterpret_cast<const char*>(nonce), kNonceBytes));
  BETCORE_ASSERT(out.size() == kHeaderBytes);
  return out;
}

bool is_hex_digest(std::string_view s) {
  if (s.size() != kDigestChars) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::array<unsigned char, kKeyIdBytes> Key::id() const {
  ensure_sodium();
  static constexpr char kLabel[] = "betcore archive key id v1";
  std::array<unsigned char, kKeyIdBytes> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(kLabel),
                     sizeof kLabel - 1, bytes.data(), bytes.size());
  return out;
}

std::string Key::id_hex() const {
  auto i = id();
  return hex(i.data(), i.size());
}

Key generate_key() {
  ensure_sodium();
  Key k;
  crypto_aead_xchacha20poly1305_ietf_keygen(k.bytes.data());
  return k;
}

bool load_key(const std::string& path, Key& key, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = "cannot read the archive key file " + path + ": " + std::strerror(errno) +
            ". Pass --key with the key the archive was written with (make a new one for a new "
            "archive with `betcore backup keygen --out FILE`)";
    return false;
  }
  if ((st.st_mode & 077) != 0) {
    error = "the archive key file " + path + " is readable by group or others (mode " +
            fmt::format("{:o}", st.st_mode & 0777) + "); run `chmod 600 " + path + "`";
    return false;
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  size_t bin_len = 0;
  if (text.size() != kKeyBytes * 2 ||
      sodium_hex2bin(key.bytes.data(), key.bytes.size(), text.data(), text.size(), nullptr,
                     &bin_len, nullptr) != 0 ||
      bin_len != kKeyBytes) {
    error = "the archive key file " + path +
            " does not hold a key (64 hex digits); it was not "
            "written by `betcore backup keygen`";
    return false;
  }
  return true;
}

bool write_key_file(const std::string& path, const Key& key, std::string& error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot create the key file " + path + ": " + std::strerror(errno) +
            (errno == EEXIST ? " (a key is never overwritten: choose another path)" : "");
    return false;
  }
  std::string text = hex(key.bytes.data(), key.bytes.size()) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) error = "cannot write the key file " + path + ": " + std::strerror(saved);
  return ok;
}

std::string seal_file(const FileHeader& header, std::string_view payload, const Key& key) {
  ensure_sodium();
  std::string compressed(ZSTD_compressBound(payload.size()), '\0');
  size_t n = ZSTD_compress(compressed.data(), compressed.size(), payload.data(), payload.size(), 1);
  BETCORE_ASSERT_MSG(!ZSTD_isError(n), ZSTD_getErrorName(n));
  compressed.resize(n);

  unsigned char nonce[kNonceBytes];
  randombytes_buf(nonce, sizeof nonce);
  FileHeader h = header;
  h.key_id = key.id();
  std::string out = encode_header(h, nonce);
  const size_t sealed_bytes = compressed.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES;
  out.resize(kHeaderBytes + sealed_bytes);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data() + kHeaderBytes), &written,
      reinterpret_cast<const unsigned char*>(compressed.data()), compressed.size(),
      reinterpret_cast<const unsigned char*>(out.data()), kHeaderBytes, nullptr, nonce,
      key.bytes.data());
  BETCORE_ASSERT(written == sealed_bytes);
  return out;
}

bool read_header(std::string_view file, FileHeader& h, std::string& error) {
  if (file.size() < kHeaderBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    error = "too short to be an archive file (" + std::to_string(file.size()) + " bytes)";
    return false;
  }
  codec::Reader r(file.substr(0, kHeaderBytes));
  uint32_t magic = r.u32();
  uint8_t version = r.u8();
  uint8_t kind = r.u8();
  r.u16();
  std::string_view id = r.take(kKeyIdBytes);
  h.first = r.u64();
  h.last = r.u64();
  h.prev = r.u64();
  h.count = r.u32();
  r.u32();
  h.time_ms = r.i64();
  h.commands = r.u64();
  std::string_view digest = r.take(kDigestChars);
  if (!r.ok() || magic != kFileMagic) {
    error = "not a betcore archive file (bad magic)";
    return false;
  }
  if (version != kFileVersion) {
    error = "archive file version " + std::to_string(version) + " is not one this betcore reads (" +
            std::to_string(kFileVersion) + ")";
    return false;
  }
  if (kind != static_cast<uint8_t>(FileKind::segment) &&
      kind != static_cast<uint8_t>(FileKind::snapshot)) {
    error = "unknown archive file kind " + std::to_string(kind);
    return false;
  }
  h.kind = static_cast<FileKind>(kind);
  std::memcpy(h.key_id.data(), id.data(), kKeyIdBytes);
  h.digest.clear();
  if (digest.find_first_not_of('\0') != std::string_view::npos) {
    if (!is_hex_digest(digest)) {
      error = "the header's digest field is damaged";
      return false;
    }
    h.digest = std::string(digest);
  }
  if (h.last < h.first) {
    error = "the header's positions are damaged (last before first)";
    return false;
  }
  return true;
}

OpenedFile open_file(std::string_view file, const Key& key) {
  ensure_sodium();
  OpenedFile o;
  if (!read_header(file, o.header, o.error)) return o;
  if (o.header.key_id != key.id()) {
    o.wrong_key = true;
    auto id = o.header.key_id;
    o.error = "sealed under another key (file key id " + hex(id.data(), id.size()) +
              ", given key id " + key.id_hex() + "): pass --key with this archive's key";
    return o;
  }
  const unsigned char* nonce =
      reinterpret_cast<const unsigned char*>(file.data()) + kHeaderBytes - kNonceBytes;
  std::string compressed(file.size() - kHeaderBytes - crypto_aead_xchacha20poly1305_ietf_ABYTES,
                         '\0');
  unsigned long long got = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(compressed.data()), &got, nullptr,
          reinterpret_cast<const unsigned char*>(file.data() + kHeaderBytes),
          file.size() - kHeaderBytes, reinterpret_cast<const unsigned char*>(file.data()),
          kHeaderBytes, nonce, key.bytes.data()) != 0) {
    o.error = "damaged: authentication failed (a changed or truncated byte)";
    return o;
  }
  unsigned long long raw = ZSTD_getFrameContentSize(compressed.data(), got);
  if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN || raw > kPayloadBytesMax) {
    o.error = "damaged: the compressed payload has no valid size";
    return o;
  }
  o.payload.resize(raw);
  size_t n = ZSTD_decompress(o.payload.data(), o.payload.size(), compressed.data(), got);
  if (ZSTD_isError(n) || n != raw) {
    o.payload.clear();
    o.error = "damaged: the payload does not decompress";
    return o;
  }
  return o;
}

}  // namespace betcore::backup
