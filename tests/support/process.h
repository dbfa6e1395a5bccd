// The child-process helper lives in src/tools (betcore drill uses it too);
// tests keep calling it betcore::test::Process.
#pragma once

#include "tools/process.h"

namespace betcore::test {
using tools::ExitStatus;
using tools::Process;
using tools::SpawnOptions;
}  // namespace betcore::test
