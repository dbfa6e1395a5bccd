// The drill's nemesis: injects one fault at a time from the table in faults.cc, and heals it.
#pragma once

#include <cstdint>
#include <random>

#include "drill/faults.h"

namespace betcore::drill {

// Thread affinity: the run loop only.
class Nemesis {
 public:
  Nemesis(DrillCluster& c, TestNet& net, DrillFeed* feed, DrillPayments* payments, uint64_t seed)
      : rng_(seed), ctx_{c, net, rng_, feed, payments} {}

  // Injects one fault of `row`'s kind; fills `f` (kind, target, start).
  // False when it could not be injected: no target yet (no etcd leader
  // known, f.problems empty) or the injection failed (f.problems says why).
  bool inject(const FaultRow& row, FaultRecord& f);
  // REQUIRES: the last inject() succeeded. Undoes it; sets f.end_ms.
  void heal(FaultRecord& f);

 private:
  std::mt19937_64 rng_;  // declared before ctx_, which refers to it
  FaultContext ctx_;
  const FaultRow* row_ = nullptr;
  FaultTarget target_;
};

}  // namespace betcore::drill
