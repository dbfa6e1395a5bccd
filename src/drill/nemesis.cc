// The drill's nemesis: aim, inject and heal, each as the fault's row in faults.cc says.
#include "drill/nemesis.h"

#include "domain/assert.h"
#include "drill/clock.h"

namespace betcore::drill {

bool Nemesis::inject(const FaultRow& row, FaultRecord& f) {
  f.kind = std::string(row.name);
  f.start_ms = now_ms();
  std::optional<FaultTarget> target = row.aim(ctx_);
  if (!target) return false;
  BETCORE_ASSERT(!target->members.empty() && target->members.size() <= 2);
  f.target = target->label;
  f.component = component_name(target->component);
  f.component_index = target->members[0];
  f.start_ms = now_ms();  // the fault itself, not the search for a target
  row_ = &row;
  target_ = std::move(*target);
  return row.inject(ctx_, target_, f);
}

void Nemesis::heal(FaultRecord& f) {
  BETCORE_ASSERT_MSG(row_ != nullptr, "heal() without a fault injected");
  f.end_ms = now_ms();
  row_->heal(ctx_, target_, f);
}

}  // namespace betcore::drill
