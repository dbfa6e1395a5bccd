// The drill's checks after the faults: the cluster converges, the committed log agrees with every
// answer clients had, nothing acknowledged is lost, and every node's state is the model's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "drill/cluster.h"
#include "drill/recorder.h"
#include "drill/report.h"
#include "drill/workload.h"
#include "log/log.h"

namespace betcore::drill {

// Waits until the recorder holds every batch the etcd log holds (120
// looks, 250 ms apart); returns the log's head (0 when etcd never answered).
uint64_t wait_for_log_head(const DrillCluster& c, const Recorder& recorder);

// Waits until every node reports the same applied index, at `log_head` or
// past it; a failure into `failures` when they differ in checkpoint or
// digest, or do not converge within `timeout_ms`.
bool converge(DrillCluster& c, uint64_t log_head, std::vector<std::string>& failures,
              int timeout_ms);

// Every check against the log and the nodes; fills the report's counts,
// failures, acknowledged_lost and replicas_agree (false unless the nodes
// `converged` to one index with one checkpoint and digest).
void check_run(const DrillCluster& c, const std::vector<DrillOp>& ops,
               const std::vector<log::Entry>& entries, bool converged, DrillReport& report);

// The operations as the report's charts need them.
std::vector<OpPoint> ops_for_report(const std::vector<DrillOp>& ops);

}  // namespace betcore::drill
