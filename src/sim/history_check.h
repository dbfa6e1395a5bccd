// The checker both layers share (betcore sim, betcore drill): the committed
// log, fed in order to the sequential model, against every answer clients
// got. Reports, with evidence, every operation whose answer the model does
// not give at the position the answer names, every write accepted twice,
// every read that saw a balance the model never had at its index or missed
// a write acknowledged before it was sent, and every write that landed
// before a write acknowledged before it was sent (real-time order).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/commands.h"
#include "domain/rejection.h"
#include "sim/model.h"

namespace betcore::sim {

// A client operation, as the client saw it.
struct HistoryOp {
  std::string what;            // for a person: "bet b12 on m3"
  bool read = false;
  std::string key;             // writes: op_key() of the command
  std::string account;         // reads: whose balance
  bool answered = false;       // a definite answer came
  int64_t first_sent_ms = 0;   // any one clock for all operations
  int64_t answered_ms = 0;
  // writes
  domain::Code code = domain::Code::ok;
  uint32_t count = 0;
  uint64_t index = 0;          // the position the answer names
  // reads
  bool found = false;
  int64_t balance = 0;
  uint64_t must_include = 0;   // a read must see at least this position
};

struct LogRecord {
  uint64_t position;
  std::string_view batch;
};

struct HistoryCheck {
  uint64_t commands = 0;         // commands in the log
  uint64_t writes_checked = 0;
  uint64_t reads_checked = 0;
};

// True for a command a client other than those of `ops` sent (the drill's
// odds feed): the model applies it, and no operation answers for it.
using OtherClient = std::function<bool(const domain::Command&)>;

// `log` in position order. Failures are appended (at most `failures_max`).
HistoryCheck check_history(const std::vector<LogRecord>& log, const std::vector<HistoryOp>& ops,
                           Model& model, std::vector<std::string>& failures, size_t failures_max = 20,
                           const OtherClient& other_client = {});

}  // namespace betcore::sim
