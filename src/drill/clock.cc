// The drill's clock: milliseconds since the run began.
#include "drill/clock.h"

#include <chrono>
#include <cstdio>
#include <thread>

namespace betcore::drill {
namespace {

using Clock = std::chrono::steady_clock;
Clock::time_point g_t0 = Clock::now();

}  // namespace

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - g_t0).count();
}

void restart_clock() { g_t0 = Clock::now(); }

void sleep_ms(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

void say(const std::string& line) {
  std::printf("  [%5.1f s] %s\n", static_cast<double>(now_ms()) / 1000.0, line.c_str());
  std::fflush(stdout);
}

}  // namespace betcore::drill
