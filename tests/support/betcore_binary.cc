#include "support/betcore_binary.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>

#ifndef BETCORE_BINARY_PATH
#define BETCORE_BINARY_PATH ""
#endif

namespace betcore::test {

std::filesystem::path betcore_binary() {
  const char* env = std::getenv("BETCORE_BINARY");
  std::string path = env && *env ? env : BETCORE_BINARY_PATH;
  if (path.empty()) {
    throw std::runtime_error("no betcore binary: set BETCORE_BINARY=/path/to/betcore");
  }
  if (::access(path.c_str(), X_OK) != 0) {
    throw std::runtime_error("betcore binary " + path +
                             " is not an executable: build the `betcore` target (or set "
                             "BETCORE_BINARY=/path/to/betcore)");
  }
  return path;
}

CommandRun run_betcore(const std::filesystem::path& log_dir, const std::vector<std::string>& args,
                       int timeout_ms) {
  static std::atomic<int> n{0};
  SpawnOptions o;
  o.program = betcore_binary().string();
  o.args = args;
  o.log_path = (log_dir / ("cmd-" + std::to_string(++n) + ".log")).string();
  Process p = Process::spawn(o);
  CommandRun ran;
  auto st = p.wait(timeout_ms);
  if (!st) {
    p.kill(SIGKILL);
    st = p.wait(5000);
    ran.output = "TIMED OUT\n";
  }
  ran.status = *st;
  ran.output += p.read_log();
  return ran;
}

}  // namespace betcore::test
