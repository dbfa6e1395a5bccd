// Which build this is: the version (CMakeLists.txt's project VERSION) and the
// git revision it was built from (`git describe --always --dirty`; "unknown"
// outside a git checkout). In /metrics as betcore_build_info.
#pragma once

#include <string>
#include <string_view>

namespace betcore::ops {

std::string_view build_version();
std::string_view build_revision();
// "0.12.0 (46022ba4a5d4)": what --version, /v1/cluster and each node's
// registration say.
inline std::string build_line() {
  return std::string(build_version()) + " (" + std::string(build_revision()) + ")";
}

}  // namespace betcore::ops
