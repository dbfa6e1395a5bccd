#include "domain/assert.h"

#include <cstdio>
#include <cstdlib>

namespace betcore {

void assertion_failed(const char* expr, const char* file, int line, const char* message) {
  std::fprintf(stderr, "betcore: assertion failed: %s at %s:%d%s%s\n", expr, file, line,
               message ? ": " : "", message ? message : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace betcore
