// `betcore sim`: runs seeded deterministic simulations (simulation.h) and
// prints what they covered; a failing seed prints the command that replays it.
#pragma once

namespace CLI {
class App;
}

namespace betcore::sim {

void add_sim_command(CLI::App& root);

}  // namespace betcore::sim
