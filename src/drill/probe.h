// Probing the drill's helper processes over HTTP: readiness and /metrics values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/process.h"

namespace betcore::drill {

// Polls GET `path` on 127.0.0.1:`port` until 200, the process exits or
// `timeout_ms` passes.
bool wait_http_ready(tools::Process& p, uint16_t port, const std::string& path, int timeout_ms);

// The value of the series `name` whose labels include each of `labels`;
// 0 when there is none (a counter is exposed once counted).
double metric_value(const std::string& text, const std::string& name,
                    const std::vector<std::string>& labels = {});

}  // namespace betcore::drill
