// Log entries framed back to back, for carrying them whole between processes
// (GET /v1/log) and in archive segments: each entry as u64 position, u32
// length, then the batch bytes (little-endian). Positions must increase.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "log/log.h"

namespace betcore::log {

std::string encode_entry_frames(const std::vector<Entry>& entries);
// False with `error` (what is wrong, where) on a malformed or out-of-order input.
bool decode_entry_frames(std::string_view bytes, std::vector<Entry>& entries, std::string& error);

}  // namespace betcore::log
