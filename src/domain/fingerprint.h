// A 64-bit fingerprint of a command's body, remembered with its client id so
// a retry with the same body gets the first answer and a reuse of the id with
// a different body gets 409 conflict. Deterministic on every machine: bytes
// are read one at a time, never as native words.
#pragma once

#include <cstdint>
#include <string_view>

#include "domain/commands.h"

namespace betcore::domain {

class Hasher {
 public:
  void bytes(std::string_view s) {
    u64(s.size());
    for (unsigned char c : s) mix(c);
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) mix(static_cast<uint8_t>(v >> (8 * i)));
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  uint64_t digest() const {
    // A final avalanche (from SplitMix64) so nearby inputs spread out.
    uint64_t z = h_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  void mix(uint8_t c) { h_ = (h_ ^ c) * 0x100000001b3ULL; }  // FNV-1a 64
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

uint64_t fingerprint(const Command& command);

}  // namespace betcore::domain
