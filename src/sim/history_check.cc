#include "sim/history_check.h"

#include <algorithm>
#include <map>
#include <type_traits>

#include "codec/batch.h"

namespace betcore::sim {

using domain::Code;

HistoryCheck check_history(const std::vector<LogRecord>& log, const std::vector<HistoryOp>& ops,
                           Model& model, std::vector<std::string>& failures, size_t failures_max,
                           const OtherClient& other_client) {
  auto fail = [&](std::string what) {
    if (failures.size() < failures_max) failures.push_back(std::move(what));
  };
  HistoryCheck out;
  std::map<std::string, size_t> op_of;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!ops[i].read) op_of.emplace(ops[i].key, i);
  }
  // Where each operation landed, and what the model answered there.
  std::map<std::pair<uint64_t, size_t>, ModelAnswer> at;
  std::map<size_t, uint64_t> first_seen;
  std::map<size_t, uint64_t> accepted_at;  // not for heartbeats (below)
  for (const LogRecord& e : log) {
    codec::DecodedBatch b = codec::decode_batch(e.batch);
    if (b.error != codec::BatchError::none) {
      fail("the entry at " + std::to_string(e.position) + " does not decode: " + b.detail);
      continue;
    }
    for (const domain::Command& cmd : b.commands) {
      ++out.commands;
      ModelAnswer ans = model.apply(cmd, e.position, b.header.stamped_ms);
      auto it = op_of.find(op_key(cmd));
      if (it == op_of.end() && other_client && other_client(cmd)) continue;
      if (it == op_of.end()) {
        fail("the log holds a command no client sent (" + op_key(cmd) + "), at " + std::to_string(e.position));
        continue;
      }
      at.emplace(std::make_pair(e.position, it->second), ans);
      first_seen.emplace(it->second, e.position);
      // A heartbeat (ModelAnswer::repeats): every copy that lands applies
      // anew, so "accepted twice" and "refused, yet accepted" do not apply;
      // each copy's effect is the model's, and the answer the client got
      // must still be the model's at the position it names.
      if (ans.repeats) continue;
      if (ans.code == Code::ok && !ans.duplicate && !accepted_at.emplace(it->second, e.position).second) {
        fail("'" + ops[it->second].what + "' was accepted twice (at " + std::to_string(accepted_at[it->second]) +
             " and " + std::to_string(e.position) + ")");
      }
    }
  }
  // Every definite answer agrees with the model where it says it landed.
  std::vector<std::pair<int64_t, uint64_t>> acked;  // (answered, position)
  for (size_t i = 0; i < ops.size(); ++i) {
    const HistoryOp& op = ops[i];
    if (!op.answered) continue;
    if (op.read) {
      ++out.reads_checked;
      int64_t expected = 0;
      bool exists = model.balance_at(op.account, op.index, expected);
      if (exists != op.found || (exists && expected != op.balance)) {
        fail("'" + op.what + "' read balance " + (op.found ? std::to_string(op.balance) : "none") + " at index " +
             std::to_string(op.index) + "; the model has " + (exists ? std::to_string(expected) : "none") + " there");
      }
      if (op.index < op.must_include) {
        fail("'" + op.what + "' was a stale read: answered at index " + std::to_string(op.index) + " although " +
             std::to_string(op.must_include) + " was committed before it was sent");
      }
      continue;
    }
    ++out.writes_checked;
    auto it = at.find({op.index, i});
    if (it == at.end()) {
      fail("'" + op.what + "' was answered " + std::string(domain::code_name(op.code)) + " at index " +
           std::to_string(op.index) + " but is not in that entry of the log");
      continue;
    }
    const ModelAnswer& m = it->second;
    if (m.code != op.code || (m.code == Code::ok && m.count != op.count)) {
      fail("'" + op.what + "' was answered " + std::string(domain::code_name(op.code)) + " (count " +
           std::to_string(op.count) + ") at index " + std::to_string(op.index) + "; the model says " +
           std::string(domain::code_name(m.code)) + " (count " + std::to_string(m.count) + ")");
    }
    // Refused means refused: no copy of it may be accepted, before or after.
    if (op.code != Code::ok && accepted_at.count(i)) {
      fail("'" + op.what + "' was refused (" + std::string(domain::code_name(op.code)) + ") at index " +
           std::to_string(op.index) + " but accepted at " + std::to_string(accepted_at[i]));
    }
    acked.emplace_back(op.answered_ms, op.index);
  }
  // Real-time order: a write sent after another was answered lands after it.
  std::sort(acked.begin(), acked.end());
  std::vector<uint64_t> max_pos(acked.size());
  for (size_t i = 0; i < acked.size(); ++i) max_pos[i] = std::max(acked[i].second, i ? max_pos[i - 1] : 0);
  for (const auto& [i, pos] : first_seen) {
    const HistoryOp& op = ops[i];
    auto k = std::lower_bound(acked.begin(), acked.end(), std::make_pair(op.first_sent_ms, uint64_t{0}));
    if (k == acked.begin()) continue;
    size_t before = static_cast<size_t>(k - acked.begin()) - 1;
    if (pos <= max_pos[before]) {
      fail("'" + op.what + "' landed at " + std::to_string(pos) + ", before a write answered before it was sent (" +
           std::to_string(max_pos[before]) + ")");
    }
  }
  return out;
}

}  // namespace betcore::sim
