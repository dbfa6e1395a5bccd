// splitmix64: the one small seeded random source of betcore's tools (the
// simulator's world, `betcore bench`'s load). Header-only, so that a library
// that does not link betcore_tools (betcore_sim) includes it by path.
#pragma once

#include <cstdint>

namespace betcore::tools {

// Fast, and the same numbers on every machine and compiler (std::
// distributions are not specified bit for bit): a seed replays a simulation
// event for event (docs/simulation.md). Thread: one owner; no locking.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (modulo bias negligible for the small n used); 0 when n is 0.
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  // Uniform in [lo, hi].
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // True with probability per_mille / 1000.
  bool chance(uint32_t per_mille) { return below(1000) < per_mille; }
  // Uniform in [0, 1), 53 bits.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace betcore::tools
