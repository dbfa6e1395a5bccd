// The betting state machine: apply(command) -> outcome + events.
//
// Pure: no clock, no randomness, no I/O, no threads. Time enters with each
// batch (stamped by the submitting node) and never runs backwards. Every
// replica that applies the same log reaches the same state and digest.
// Thread: one thread (the applier) owns a StateMachine.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "domain/commands.h"
#include "domain/rejection.h"
#include "domain/state.h"

namespace betcore::domain {

struct Outcome {
  Code code = Code::ok;
  bool duplicate = false;      // a retry: this is the first answer again
  uint32_t ref = UINT32_MAX;   // index of the entity the answer is about
  uint32_t count = 0;          // settle/resettle: bets settled by this command
  std::string message;         // for a person; set on rejections

  bool ok() const { return code == Code::ok; }
};

// Committed domain events, for /v1/stream. `ref` indexes the table the type
// names (bet_placed: State::bets, ...).
enum class EventType : uint8_t {
  account_created = 1,
  self_exclusion_set,
  deposit_credited,
  withdrawal_requested,
  withdrawal_completed,
  withdrawal_failed,
  event_created,
  market_created,
  prices_updated,
  market_suspended,
  market_resumed,
  market_closed,
  bet_placed,
  bet_settled,
  market_settled,
  market_resettled,
  producer_up,          // a feed producer's first alive, or its return after recovery
};

struct DomainEvent {
  EventType type;
  uint32_t ref;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void emit(const DomainEvent& event) = 0;
};

class StateMachine {
 public:
  StateMachine();

  // Starts a batch at `index` stamped with `stamped` by its submitting node.
  // REQUIRES: index > state().applied.
  void begin_batch(LogIndex index, TimeMs stamped);

  // Records the audit chain's value after the batch at `position` (the
  // last one begun). The applier computes it (codec/chain.h); nothing here
  // reads it.
  void record_chain(uint64_t position, const std::array<uint8_t, 32>& chain);

  // Applies one command of the current batch. A rejected command changes
  // nothing. Events go to `sink` when it is not null.
  Outcome apply(const Command& command, EventSink* sink = nullptr);

  const State& state() const { return *state_; }

  // Cache hints, called before applying commands[i]: the id tables' slots
  // of commands[i + 2], and the rows (account, markets) of commands[i + 1],
  // whose slots the previous call fetched. A big book's apply waits on
  // memory, a miss per table; this way the next two commands' misses
  // overlap this one's work. Reads only: the state is the same without.
  void prefetch_before(std::span<const Command> commands, size_t i) const;

  // Replaces the whole state (snapshot restore).
  void reset(std::unique_ptr<State> state);
  // Room for `commands` more commands (State::reserve_for).
  void reserve_for(uint64_t commands) { state_->reserve_for(commands); }

  // Check every account after every command (O(accounts) each time): on in
  // tests and the simulator; the node runs verify_ledger at checkpoints.
  void set_full_check_after_each_command(bool on) { full_check_ = on; }

 private:
  std::unique_ptr<State> state_;
  bool full_check_ = false;
};

// 1-64 chars of [A-Za-z0-9_.:-] (API.md).
bool valid_id(std::string_view id);

}  // namespace betcore::domain
