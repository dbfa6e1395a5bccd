// Always-on assertions for the program's own mistakes (never for bad input).
//
// Why not <cassert>: NDEBUG compiles it away, and a ledger that stops summing
// to zero must stop the process in production too (STYLE.md, habit 2).
#pragma once

namespace betcore {

[[noreturn]] [[gnu::cold]] void assertion_failed(const char* expr, const char* file, int line,
                                                 const char* message);

}  // namespace betcore

#define BETCORE_ASSERT(expr)                                                  \
  do {                                                                        \
    if (__builtin_expect(!(expr), 0)) {                                       \
      ::betcore::assertion_failed(#expr, __FILE__, __LINE__, nullptr);        \
    }                                                                         \
  } while (0)

#define BETCORE_ASSERT_MSG(expr, message)                                     \
  do {                                                                        \
    if (__builtin_expect(!(expr), 0)) {                                       \
      ::betcore::assertion_failed(#expr, __FILE__, __LINE__, (message));      \
    }                                                                         \
  } while (0)
