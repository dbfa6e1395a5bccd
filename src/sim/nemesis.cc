// The nemesis (nemesis.h): when faults strike, which one, and the healing.
#include "sim/nemesis.h"

#include "domain/assert.h"

namespace betcore::sim {

void Nemesis::start() {
  run_.world.after(run_.world.rng.between(10, 100), [this] { strike(); });
}

void Nemesis::strike() {
  if (workload_done_() || healed_) return;
  inject();
  run_.world.after(run_.world.rng.between(20, 160), [this] { strike(); });
}

// The draws, in the order every seed depends on: node, window, kind, then
// the kind's own parameter.
void Nemesis::inject() {
  Rng& rng = run_.world.rng;
  SimNode& node = nodes_.at(rng.below(nodes_.size()));
  int64_t window_ms = rng.between(20, 400);
  const FaultRow& row = draw_kind();
  int64_t value = row.draw != nullptr ? row.draw(rng) : 0;
  FaultScope scope{run_, nodes_};
  row.inject(scope, FaultDraw{row.kind, node, window_ms, value});
}

// Weighted by the run's topology, walking the rows in FaultKind order.
const FaultRow& Nemesis::draw_kind() {
  bool cluster = nodes_.cluster();
  auto weight = [cluster](const FaultRow& r) {
    return cluster ? r.weight_cluster : r.weight_embedded;
  };
  int total = 0;
  for (const FaultRow& r : fault_rows()) total += weight(r);
  BETCORE_ASSERT_MSG(total > 0, "no fault kind has a weight in this topology");
  int pick = static_cast<int>(run_.world.rng.below(static_cast<uint64_t>(total)));
  for (const FaultRow& r : fault_rows()) {
    if (pick < weight(r)) return r;
    pick -= weight(r);
  }
  BETCORE_ASSERT_MSG(false, "the weighted draw fell off the table");
  return fault_rows().front();
}

void Nemesis::heal() {
  healed_ = true;
  healed_at_ = run_.world.now();
  for (const FaultRow& r : fault_rows()) {
    if (r.heal != nullptr) r.heal(nodes_);
  }
  run_.note("every fault healed");
}

}  // namespace betcore::sim
