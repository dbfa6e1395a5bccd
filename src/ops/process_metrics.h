// The process series every Prometheus client library exposes (the
// `process_*` names of the Prometheus docs, "Process metrics"): CPU time,
// resident and virtual memory, open and maximum file descriptors, start
// time. Each betcore process with a /metrics registers them once, with
// betcore_build_info (build_info.h) beside them.
#pragma once

#include <vector>

#include "ops/metrics.h"

namespace betcore::ops {

// Registers the process_* series in `registry`; they live as long as the
// returned registrations. Read from /proc/self and getrlimit at scrape time.
[[nodiscard]] std::vector<Registration> register_process_metrics(Registry& registry);

}  // namespace betcore::ops
