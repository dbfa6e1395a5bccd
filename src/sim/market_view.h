// A trader client's own view of a market it created, for the workloads of `betcore sim` and
// `betcore drill`: what to bet on, and what to suspend, settle or resettle next.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "domain/commands.h"

namespace betcore::sim {

// Not the market's state: what the trader last asked for. The state
// machine may have refused a request or not applied it yet, and the
// workload does not care: a refusal is an answer the checker verifies.
struct MarketView {
  std::string id;
  std::vector<std::string> selections;
  std::vector<int64_t> odds;  // thousandths, one per selection
  // 0 open, 1 suspended, 2 closed, 3 settled. A close or settlement is
  // never undone by a later suspend or resume.
  int status = 0;
  std::vector<domain::LegResult> results;  // of the last settlement, one per selection
};

}  // namespace betcore::sim
