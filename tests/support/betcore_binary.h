// Where the `betcore` executable under test is.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "support/process.h"

namespace betcore::test {

// $BETCORE_BINARY if set; else the path CMake compiled into
// betcore_test_support ($<TARGET_FILE:betcore>). Throws std::runtime_error,
// saying what to build or set, if that file is not an executable.
//
// A test executable that spawns betcore must be built after it: declare it
// with `betcore_process_test(<target>)` (tests/support/CMakeLists.txt), which
// links betcore_test_support and adds the build dependency on `betcore`.
std::filesystem::path betcore_binary();

// One run of a betcore command to its end, as an operator's shell runs it.
struct CommandRun {
  ExitStatus status;
  std::string output;  // stdout and stderr; "TIMED OUT" first if it was killed
};
// Runs `betcore ARGS...`, writing its output to a new file in `log_dir`;
// kills it after `timeout_ms`.
CommandRun run_betcore(const std::filesystem::path& log_dir, const std::vector<std::string>& args,
                       int timeout_ms = 120'000);

}  // namespace betcore::test
