// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
// Backoff And Jitter"): the n-th wait is uniform in [0, min(cap, base * 2^n)],
// so many clients that failed together do not come back together.
#pragma once
#include <algorithm>
#include <cstdint>

#include "tools/splitmix.h"

namespace betcore::tools {

class Backoff {
 public:
  Backoff(int base_ms, int cap_ms, uint64_t seed) : base_ms_(base_ms), cap_ms_(cap_ms), rng_(seed) {}

  // The next wait, in ms (at least 1).
  int next_ms() {
    int64_t ceiling = std::min<int64_t>(cap_ms_, int64_t{base_ms_} << std::min(attempt_, 20));
    ++attempt_;
    return static_cast<int>(std::max<int64_t>(1, rng_.between(0, ceiling)));
  }
  // After a success: the next failure starts from `base_ms` again.
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  int base_ms_;
  int cap_ms_;
  int attempt_ = 0;
  tools::SplitMix64 rng_;
};

}  // namespace betcore::tools
