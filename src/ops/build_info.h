// Which build this is: the version (CMakeLists.txt's project VERSION) and the
// git revision it was built from (`git describe --always --dirty`; "unknown"
// outside a git checkout). In /metrics as betcore_build_info.
#pragma once

#include <string_view>

namespace betcore::ops {

std::string_view build_version();
std::string_view build_revision();

}  // namespace betcore::ops
