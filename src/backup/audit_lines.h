// The JSON line `betcore audit export` writes for one command
// (docs/audit.md, "Export"): who sent it, when, what, and its result.
#pragma once

#include <cstdint>
#include <string>

#include "codec/batch.h"
#include "domain/commands.h"
#include "domain/state_machine.h"

namespace betcore::backup {

struct AuditLineInput {
  uint64_t position = 0;
  uint32_t index = 0;         // the command's place in its batch
  int64_t time_ms = 0;        // the state machine's time for the batch
  const codec::BatchHeader* header = nullptr;
  const domain::Command* command = nullptr;
  const domain::Outcome* outcome = nullptr;  // null: the batch was refused
  std::string refused;                       // why, when outcome is null
};

std::string audit_line(const AuditLineInput& in);

// The command's fields as a JSON object text, named as in docs/api.md.
std::string command_fields_json(const domain::Command& command);

}  // namespace betcore::backup
