#include "domain/ledger.h"

#include <string>

#include "domain/assert.h"

namespace betcore::domain {
namespace {

int64_t& slot_value(State& s, SlotRef r) {
  switch (r.slot) {
    case Slot::balance: return s.accounts[r.owner].balance.minor;
    case Slot::in_play: return s.accounts[r.owner].in_play.minor;
    case Slot::pending: return s.accounts[r.owner].pending_withdrawals.minor;
    case Slot::receivable: return s.accounts[r.owner].receivable.minor;
    case Slot::house: return s.currencies[r.owner].house.minor;
    case Slot::world: return s.currencies[r.owner].world.minor;
  }
  BETCORE_ASSERT_MSG(false, "unknown ledger slot");
}

void check_sign(const State& s, SlotRef r) {
  (void)s;
  switch (r.slot) {
    case Slot::balance:
      BETCORE_ASSERT_MSG(s.accounts[r.owner].balance.minor >= 0, "negative balance");
      break;
    case Slot::in_play:
      BETCORE_ASSERT_MSG(s.accounts[r.owner].in_play.minor >= 0, "negative in_play");
      break;
    case Slot::pending:
      BETCORE_ASSERT_MSG(s.accounts[r.owner].pending_withdrawals.minor >= 0,
                         "negative pending withdrawals");
      break;
    case Slot::receivable:
      BETCORE_ASSERT_MSG(s.accounts[r.owner].receivable.minor <= 0, "positive receivable");
      break;
    case Slot::house:
    case Slot::world:
      break;
  }
}

}  // namespace

void move(State& s, SlotRef from, SlotRef to, Amount amount) {
  BETCORE_ASSERT(amount.minor > 0);
  int64_t& f = slot_value(s, from);
  int64_t& t = slot_value(s, to);
  BETCORE_ASSERT_MSG(!__builtin_sub_overflow(f, amount.minor, &f), "ledger overflow");
  BETCORE_ASSERT_MSG(!__builtin_add_overflow(t, amount.minor, &t), "ledger overflow");
  check_sign(s, from);
  check_sign(s, to);
}

void pay_into_balance(State& s, SlotRef from, AccountIdx to, Amount amount) {
  if (amount.minor <= 0) return;
  Account& a = s.accounts[to.value];
  int64_t owed = -a.receivable.minor;
  int64_t repay = owed < amount.minor ? owed : amount.minor;
  if (repay > 0) move(s, from, receivable_of(to), Amount{repay});
  if (amount.minor - repay > 0) move(s, from, balance_of(to), Amount{amount.minor - repay});
}

void take_from_balance(State& s, AccountIdx from, SlotRef to, Amount amount) {
  if (amount.minor <= 0) return;
  Account& a = s.accounts[from.value];
  int64_t take = a.balance.minor < amount.minor ? a.balance.minor : amount.minor;
  if (take > 0) move(s, balance_of(from), to, Amount{take});
  if (amount.minor - take > 0) move(s, receivable_of(from), to, Amount{amount.minor - take});
}

LedgerCheck verify_ledger(const State& s) {
  struct Sums {
    __int128 total = 0;
    __int128 punters = 0;  // balance + in_play + pending + receivable
  };
  std::vector<Sums> per(s.currencies.size());
  for (size_t i = 0; i < s.accounts.size(); ++i) {
    const Account& a = s.accounts[i];
    if (a.balance.minor < 0 || a.in_play.minor < 0 || a.pending_withdrawals.minor < 0 ||
        a.receivable.minor > 0) {
      return {false, "account " + std::string(a.id) + " has a slot with the wrong sign"};
    }
    __int128 p = __int128(a.balance.minor) + a.in_play.minor + a.pending_withdrawals.minor +
                 a.receivable.minor;
    per[a.currency.value].punters += p;
    per[a.currency.value].total += p;
  }
  for (size_t c = 0; c < s.currencies.size(); ++c) {
    const CurrencyBook& b = s.currencies[c];
    per[c].total += __int128(b.house.minor) + b.world.minor;
    if (per[c].total != 0) {
      return {false, "ledger of " + b.code + " does not sum to zero"};
    }
    __int128 held = per[c].punters + b.house.minor;
    __int128 net_in = __int128(b.deposits_total.minor) - b.withdrawals_completed_total.minor;
    if (held != net_in) {
      return {false, "money not conserved in " + b.code +
                         ": held != deposits - completed withdrawals"};
    }
  }
  return {};
}

int64_t ledger_total(const State& s) {
  __int128 total = 0;
  for (const Account& a : s.accounts) {
    total += __int128(a.balance.minor) + a.in_play.minor + a.pending_withdrawals.minor +
             a.receivable.minor;
  }
  for (const CurrencyBook& b : s.currencies) total += __int128(b.house.minor) + b.world.minor;
  return static_cast<int64_t>(total);
}

}  // namespace betcore::domain
