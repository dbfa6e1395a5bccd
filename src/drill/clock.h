// The drill's clock: milliseconds since the run began, as every record in the report counts them.
#pragma once

#include <cstdint>
#include <string>

namespace betcore::drill {

// Milliseconds since the last restart_clock() (or since the program started).
// Thread-safe after restart_clock(), which only run_drill calls, before any thread starts.
int64_t now_ms();
void restart_clock();
void sleep_ms(int64_t ms);
// One line of progress on stdout, stamped with now_ms(): "  [ 12.3 s] line".
void say(const std::string& line);

}  // namespace betcore::drill
