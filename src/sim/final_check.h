// The checks at the end of a run (docs/simulation.md, "What is checked"):
// the committed log against what nodes applied, the model against every
// answer (history_check.h), and every replica's final state.
#pragma once

#include <deque>

#include "sim/messages.h"
#include "sim/nodes.h"
#include "sim/run_context.h"

namespace betcore::sim {

// Failures go to run.report; also fills its ops, log_entries and reads_checked.
void check_run(RunContext& run, Nodes& nodes, const std::deque<Op>& ops);

}  // namespace betcore::sim
