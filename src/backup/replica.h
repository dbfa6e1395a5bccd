// A replica of the state machine fed from archived batches: what the
// archiver keeps to take snapshots and digests, and what restore and verify
// rebuild. It applies a batch exactly as a node's applier does (a batch that
// fails its checks is skipped, as every node skips it), without waiters or
// events.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "domain/state_machine.h"
#include "log/log.h"

namespace betcore::backup {

class Replica {
 public:
  // From `initial` (null: the empty state before the log's first batch).
  explicit Replica(std::unique_ptr<domain::State> initial = nullptr);

  // Applies `entry` unless its batch is stamped after `time_ms_max` (then
  // nothing changes and it returns false). REQUIRES: entry.position > position().
  bool apply(const log::Entry& entry, std::optional<int64_t> time_ms_max = std::nullopt);

  const domain::State& state() const { return machine_.state(); }
  uint64_t position() const { return machine_.state().applied.value; }
  int64_t time_ms() const { return machine_.state().now.ms; }
  uint64_t commands() const { return machine_.state().commands_applied; }
  uint64_t refused_batches() const { return refused_; }
  // Batches refused because their audit anchors disagreed (docs/audit.md),
  // and the first such refusal, for a person ("" when none).
  uint64_t chain_refusals() const { return chain_refused_; }
  const std::string& first_chain_problem() const { return first_chain_problem_; }
  // The stamp of the batch applied last (its submitting node's clock).
  int64_t last_stamp_ms() const { return last_stamp_ms_; }

  // Room for `commands` more commands, in huge pages where the kernel has
  // them (State::reserve_for): a restore knows how many follow.
  void reserve_for(uint64_t commands);

  // Replaces the state (a snapshot loaded).
  void reset(std::unique_ptr<domain::State> state) { machine_.reset(std::move(state)); }

 private:
  domain::StateMachine machine_;
  uint64_t refused_ = 0;
  uint64_t chain_refused_ = 0;
  std::string first_chain_problem_;
  int64_t last_stamp_ms_ = 0;
};

// The canonical encoding's digest and the ledger check, together: "" and
// `problem` set when the ledger does not sum to zero.
struct StateProof {
  std::string encoded;  // canonical encoding (codec/snapshot.h)
  std::string digest;   // its digest (32 hex)
  std::string ledger_problem;  // "" when the ledger sums to zero
};
StateProof prove_state(const domain::State& state);

}  // namespace betcore::backup
