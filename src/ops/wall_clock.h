// Wall-clock milliseconds since the Unix epoch, for what the outside world
// times: batch stamps, archive lags and holds. Never read by the state
// machine (time enters it with each batch).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace betcore::ops {

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `ms` (Unix epoch) as UTC text, to the second, in strftime's `format`:
// RFC 3339 ("2026-12-04T21:30:05Z") unless told otherwise.
inline std::string utc_text(int64_t ms, const char* format = "%Y-%m-%dT%H:%M:%SZ") {
  const auto t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  return std::string(buf, std::strftime(buf, sizeof buf, format, &tm));
}

}  // namespace betcore::ops
