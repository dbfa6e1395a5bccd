// Raw bytes to a TCP port, for what an HTTP client library will not send.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace betcore::apitest {

// Connects to 127.0.0.1:`port`, writes `bytes`, half-closes (so a server
// waiting for more sees the end), and reads until the server closes or
// `timeout_ms` passes. Returns what the server sent ("" if nothing); sets
// `*connected` to whether the connection was made.
std::string raw_exchange(uint16_t port, std::string_view bytes, int timeout_ms = 3000,
                         bool* connected = nullptr);

// The bytes of a string literal, NULs included (a raw request may hold them).
template <size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

}  // namespace betcore::apitest
