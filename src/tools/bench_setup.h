// The setup phase of `betcore bench`: the event, the markets, the accounts and
// a deposit for each, written over several blocking connections at once so
// that 10k accounts take seconds.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "tools/bench_plan.h"
#include "tools/http_client.h"

namespace betcore::tools {

struct BenchTokens {
  std::string admin;     // creates accounts
  std::string trader;    // creates the event and markets, places the bets
  std::string payments;  // deposits
};

struct SetupOptions {
  int connections = 16;      // parallel blocking clients (threads)
  int attempts_max = 8;      // per write, over 429/503/504/transport failures
  int backoff_ms_max = 500;  // cap of the exponential pause between attempts
  int timeout_ms = 10000;    // per request
};

struct SetupResult {
  bool ok = false;
  std::string error;  // for a person, with what to do next; empty when ok
  uint64_t writes = 0;
  double seconds = 0;
};

// Writes everything `plan` names. Progress lines go to `progress` (stderr).
// Stops at the first write that fails for good.
SetupResult run_setup(const BenchPlan& plan, const std::vector<Url>& targets,
                      const BenchTokens& tokens, const SetupOptions& options,
                      std::ostream& progress);

}  // namespace betcore::tools
