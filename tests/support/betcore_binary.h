// Where the `betcore` executable under test is.
#pragma once

#include <filesystem>

namespace betcore::test {

// $BETCORE_BINARY if set; else the path CMake compiled into
// betcore_test_support ($<TARGET_FILE:betcore>). Throws std::runtime_error,
// saying what to build or set, if that file is not an executable.
//
// A test executable that spawns betcore must be built after it: declare it
// with `betcore_process_test(<target>)` (tests/support/CMakeLists.txt), which
// links betcore_test_support and adds the build dependency on `betcore`.
std::filesystem::path betcore_binary();

}  // namespace betcore::test
