// Double-entry movements. Every change to money in the state goes through
// `move`, which debits one ledger slot and credits another by the same
// amount, so the ledger sums to zero by construction; `verify_ledger` checks
// it independently by summing every slot (STYLE.md: assertions in pairs).
#pragma once

#include <string>

#include "domain/state.h"

namespace betcore::domain {

enum class Slot : uint8_t { balance, in_play, pending, receivable, house, world };

struct SlotRef {
  Slot slot;
  uint32_t owner;  // AccountIdx for punter slots, CurrencyIdx for house/world
};

inline SlotRef balance_of(AccountIdx a) { return {Slot::balance, a.value}; }
inline SlotRef in_play_of(AccountIdx a) { return {Slot::in_play, a.value}; }
inline SlotRef pending_of(AccountIdx a) { return {Slot::pending, a.value}; }
inline SlotRef receivable_of(AccountIdx a) { return {Slot::receivable, a.value}; }
inline SlotRef house_of(CurrencyIdx c) { return {Slot::house, c.value}; }
inline SlotRef world_of(CurrencyIdx c) { return {Slot::world, c.value}; }

// Moves `amount` (> 0) from one slot to another. Asserts (always on) that no
// punter slot goes below zero and the receivable never above it: callers
// check funds first, so a failure here is a bug in the state machine.
void move(State& s, SlotRef from, SlotRef to, Amount amount);

// Pays `amount` from `from` into an account's balance, first settling any
// receivable the account owes.
void pay_into_balance(State& s, SlotRef from, AccountIdx to, Amount amount);

// Takes `amount` out of an account's balance into `to`; what the balance
// cannot cover becomes a receivable (only resettlement does this).
void take_from_balance(State& s, AccountIdx from, SlotRef to, Amount amount);

struct LedgerCheck {
  bool ok = true;
  std::string problem;  // empty when ok
};

// O(accounts): sums every slot per currency and checks the signs and the
// conservation identity  balances + in play + pending + house - owed
// = deposits - completed withdrawals.
LedgerCheck verify_ledger(const State& s);

// The sum of every ledger slot across all currencies (API: /v1/ledger/balance).
int64_t ledger_total(const State& s);

}  // namespace betcore::domain
