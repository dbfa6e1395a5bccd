// One committed domain event as a line of /v1/stream (API.md, "Stream of
// committed events"): {"index":812,"seq":3,"type":"bet_placed",...}\n
#pragma once

#include <cstdint>
#include <string>

#include "domain/state_machine.h"

namespace betcore::api {

void render_event_line(const domain::DomainEvent& event, const domain::State& state, uint64_t index,
                       uint32_t seq, std::string& out);

}  // namespace betcore::api
