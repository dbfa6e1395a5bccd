// Wall-clock milliseconds since the Unix epoch, for what the outside world
// times: batch stamps, archive lags and holds. Never read by the state
// machine (time enters it with each batch).
#pragma once

#include <chrono>
#include <cstdint>

namespace betcore::ops {

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace betcore::ops
