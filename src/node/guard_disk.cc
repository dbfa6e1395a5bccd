// The guard's disk action (guard.h): a full data disk predicted, it keeps
// only the newest snapshot and compacts the log below it, once per incident.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "node/guard.h"
#include "node/guard_internal.h"

namespace betcore::node {

void Guard::free_disk(Signal& sig, int64_t at_ms) {
  if (!o_.remediate) {
    note(sig, at_ms,
         "recommend (remediation off): keep only the newest snapshot and compact the log below it "
         "(the guard would), then free space or grow the disk");
    return;
  }
  std::string done;
  const double freed = actuator_.free_disk(done);
  if (!std::isfinite(freed)) {
    note(sig, at_ms, "could not free space on the data disk: " + done);
    return;
  }
  actions_["disk_prune"]->inc();
  spdlog::warn("guard: a full data disk is predicted: {}", done);
  record_action(sig, at_ms, "pruned snapshots and compacted the log",
                fmt::format("{:.1f} MiB freed on the data disk", std::max(0.0, freed) / (1 << 20)),
                "action: " + done + ". Still to do: free space or grow the disk; the node stops "
                "taking writes when it is full");
}

}  // namespace betcore::node
