// `betcore drill --scenario detection`: faults that take nothing down, that only the guard's
// anomaly detection catches, and what it did about each (docs/drill.md, "Faults only detection
// catches").
#pragma once

#include <filesystem>

#include "drill/drill.h"
#include "drill/report.h"
#include "drill/testnet.h"

namespace betcore::drill {

// The cluster with each etcd member's data on betcore-slowfs, the nodes'
// guards on, and a paced load. After the guards have learnt the normal
// shape, one at a time:
//   slow_disk         the etcd leader's fsyncs take 150 ms longer
//   slow_etcd_member  the etcd leader runs 50 ms in every 150 (SIGSTOP/SIGCONT)
//   bet_surge         5x the punters
// each held until the guard acted and the bets had time to show the effect
// (at most 40 s), then healed, and the incidents left to close. The report
// gets, for each, the time to the first incident and to the first action,
// the action, and the bets' p99 before, during and after it; then every
// check of a drill. A fault not detected, or a slow etcd leader not moved,
// fails the run. (A slow node drained through HAProxy's agent check is
// cluster.ClusterDrain's.) False (exit 2) when it could not be set up.
bool run_detection(const DrillOptions& options, TestNet& net, const std::filesystem::path& root,
                   DrillReport& report);

}  // namespace betcore::drill
