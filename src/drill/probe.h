// Probing the drill's helper processes over HTTP: readiness (their /metrics
// values: ops::sample_value).
#pragma once

#include <cstdint>
#include <string>

#include "tools/process.h"

namespace betcore::drill {

// Polls GET `path` on 127.0.0.1:`port` until 200, the process exits or
// `timeout_ms` passes.
bool wait_http_ready(tools::Process& p, uint16_t port, const std::string& path, int timeout_ms);

}  // namespace betcore::drill
