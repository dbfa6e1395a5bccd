// A 64-bit fingerprint of a command's body, remembered with its client id so
// a retry with the same body gets the first answer and a reuse of the id with
// a different body gets 409 conflict. Deterministic on every machine: bytes
// are assembled little-endian by hand, never loaded as native words.
#pragma once

#include <cstdint>
#include <string_view>

#include "domain/commands.h"

namespace betcore::domain {

class Hasher {
 public:
  void bytes(std::string_view s) {
    u64(s.size());
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) word(load_le(s.data() + i, 8));
    if (i < s.size()) word(load_le(s.data() + i, s.size() - i));
  }
  void u64(uint64_t v) { word(v); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  uint64_t digest() const {
    // A final avalanche (from SplitMix64) so nearby inputs spread out.
    uint64_t z = h_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  static uint64_t load_le(const char* p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(static_cast<uint8_t>(p[i])) << (8 * i);
    return v;
  }
  // One 64-bit word at a time: multiply-xorshift (a MurmurHash-style mix).
  void word(uint64_t w) {
    h_ ^= w * 0x9e3779b97f4a7c15ULL;
    h_ = (h_ << 27 | h_ >> 37) * 0xff51afd7ed558ccdULL + 0x52dce729ULL;
  }
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

uint64_t fingerprint(const Command& command);

}  // namespace betcore::domain
