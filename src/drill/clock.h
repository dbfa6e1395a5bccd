// The drill's clock: milliseconds since the run began, as every record in the report counts them.
#pragma once

#include <cstdint>

namespace betcore::drill {

// Milliseconds since the last restart_clock() (or since the program started).
// Thread-safe after restart_clock(), which only run_drill calls, before any thread starts.
int64_t now_ms();
void restart_clock();
void sleep_ms(int64_t ms);

}  // namespace betcore::drill
