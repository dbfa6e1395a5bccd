#include "support/betcore_binary.h"

#include <unistd.h>

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

}  // namespace betcore::test
