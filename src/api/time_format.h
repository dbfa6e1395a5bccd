// RFC 3339 UTC times <-> milliseconds since the epoch, without the C
// library's locale or time zone (the answers must not depend on the host).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace betcore::api {

// 0 -> "1970-01-01T00:00:00.000Z"
std::string format_rfc3339(int64_t ms);

// "2026-11-27T20:00:00Z", with optional fraction (up to 9 digits, truncated
// to ms) and "Z" or "+hh:mm"/"-hh:mm". Years 1970..9999.
std::optional<int64_t> parse_rfc3339(std::string_view text);

}  // namespace betcore::api
