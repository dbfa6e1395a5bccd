// The nemesis: every 20-160 ms of simulated time until the workload ends, it
// draws a node, a window and a fault kind (fault_kinds.h) and injects it;
// then it heals every fault.
#pragma once

#include <cstdint>
#include <functional>

#include "sim/fault_kinds.h"
#include "sim/nodes.h"
#include "sim/run_context.h"

namespace betcore::sim {

class Nemesis {
 public:
  // `workload_done`: the nemesis stops once it is true.
  Nemesis(RunContext& run, Nodes& nodes, std::function<bool()> workload_done)
      : run_(run), nodes_(nodes), workload_done_(std::move(workload_done)) {}

  // The first fault, 10-100 ms from now.
  void start();
  // Every fault healed (nodes down are brought back by the run loop).
  void heal();
  bool healed() const { return healed_; }
  int64_t healed_at() const { return healed_at_; }

 private:
  void strike();
  void inject();
  const FaultRow& draw_kind();

  RunContext& run_;
  Nodes& nodes_;
  std::function<bool()> workload_done_;
  bool healed_ = false;
  int64_t healed_at_ = 0;
};

}  // namespace betcore::sim
