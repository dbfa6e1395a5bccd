// Little-endian binary writing and bounds-checked reading. The reader never
// trusts its input: every read checks the remaining length, and a failed read
// poisons the reader so callers check once at the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace betcore::codec {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void i64(int64_t v) { le(static_cast<uint64_t>(v), 8); }
  // A string of at most 65535 bytes: u16 length, then the bytes. A longer
  // one is cut at 65535 bytes rather than written with a wrapped length,
  // which would corrupt everything after it (a whole batch, when a command
  // carries a client's over-long text). Every string the domain keeps is
  // bounded far below this (ids 64, text 256 bytes), so a cut one is still
  // refused by the state machine, as the whole one would have been.
  void str(std::string_view s) {
    const size_t n = s.size() < kStrBytesMax ? s.size() : kStrBytesMax;
    u16(static_cast<uint16_t>(n));
    out_.append(s.data(), n);
  }
  static constexpr size_t kStrBytesMax = 0xFFFF;
  void raw(std::string_view s) { out_.append(s.data(), s.size()); }
  size_t size() const { return out_.size(); }
  std::string& buffer() { return out_; }

 private:
  void le(uint64_t v, int n) {
    char b[8];
    for (int i = 0; i < n; ++i) b[i] = static_cast<char>(v >> (8 * i));
    out_.append(b, static_cast<size_t>(n));
  }
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  uint8_t u8() { return static_cast<uint8_t>(le(1)); }
  uint16_t u16() { return static_cast<uint16_t>(le(2)); }
  uint32_t u32() { return static_cast<uint32_t>(le(4)); }
  uint64_t u64() { return le(8); }
  int64_t i64() { return static_cast<int64_t>(le(8)); }
  std::string_view str() {
    uint16_t n = u16();
    return take(n);
  }
  std::string_view take(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    std::string_view v = in_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  bool ok() const { return ok_; }
  void fail() { ok_ = false; }
  size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  size_t position() const { return pos_; }

 private:
  uint64_t le(int n) {
    std::string_view b = take(static_cast<size_t>(n));
    if (b.empty()) return 0;
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(static_cast<uint8_t>(b[static_cast<size_t>(i)])) << (8 * i);
    return v;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace betcore::codec
