// The per-stage latency of a write (docs/monitoring.md, "Where the time goes").
#pragma once

#include <string_view>

#include "ops/metrics.h"

namespace betcore::ops {

// Where a write's time goes (docs/monitoring.md, "Where the time goes"): one
// series of betcore_request_stage_seconds{stage} per stage, 10 us .. 10 s:
//   parse              the request's first byte to the whole request parsed
//   queue              in the submit queue, until a batch takes it
//   append             the batch's etcd put or write + fsync
//   commit_to_applied  the append's answer to this node applying the batch
//                      (0 when the watch delivered it first)
//   apply              applying one batch to the state machine
//   respond            the answer handed over to its last byte written
// `stage` is one of those names. Thread-safe (get-or-create).
Histogram& request_stage(Registry& registry, std::string_view stage);

}  // namespace betcore::ops
