// Shared helpers for the domain's tests: command builders with short names,
// and a Book that drives a StateMachine the way the applier does (one batch
// per step, strictly increasing log index) with the ledger checked after
// every command. Tests only: links GoogleTest and the codec (for the digest).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codec/snapshot.h"
#include "domain/ledger.h"
#include "domain/rejection.h"
#include "domain/state_machine.h"

namespace betcore::domain::test {

// A fixed, readable start of time: 2024-01-01T00:00:00Z.
inline constexpr int64_t kT0 = 1'704'067'200'000;
inline constexpr int64_t kSecondMs = 1000;
inline constexpr int64_t kHourMs = 60 * 60 * kSecondMs;
inline constexpr int64_t kDayMs = 24 * kHourMs;

// ---- command builders --------------------------------------------------------

inline CreateAccount open_account(std::string id, std::string currency = "EUR",
                                  int64_t deposit_limit_24h = 0) {
  return CreateAccount{std::move(id), std::move(currency), Amount{deposit_limit_24h}};
}

inline SetSelfExclusion exclude(std::string account, int64_t until_ms) {
  return SetSelfExclusion{std::move(account), TimeMs{until_ms}};
}

inline Deposit deposit(std::string ref, std::string account, int64_t amount) {
  return Deposit{std::move(ref), std::move(account), Amount{amount}};
}

inline RequestWithdrawal withdraw(std::string id, std::string account, int64_t amount) {
  return RequestWithdrawal{std::move(id), std::move(account), Amount{amount}};
}

inline CompleteWithdrawal complete(std::string id, std::string gateway_ref = "gw-1") {
  return CompleteWithdrawal{std::move(id), std::move(gateway_ref)};
}

inline FailWithdrawal fail(std::string id, std::string reason = "bank said no") {
  return FailWithdrawal{std::move(id), std::move(reason)};
}

inline CreateEvent event(std::string id, std::string name = "Home v Away",
                         int64_t starts_at_ms = kT0 + kDayMs) {
  return CreateEvent{std::move(id), std::move(name), TimeMs{starts_at_ms}};
}

struct Sel {
  std::string id;
  int64_t odds;
};

inline CreateMarket market(std::string id, std::string event_id, std::vector<Sel> selections) {
  CreateMarket m;
  m.market_id = std::move(id);
  m.event_id = std::move(event_id);
  m.name = "Match result";
  for (auto& s : selections) {
    m.selections.push_back(SelectionSpec{s.id, "name of " + s.id, Odds{s.odds}});
  }
  return m;
}

inline UpdatePrices prices(std::string market_id, std::vector<Sel> selections) {
  UpdatePrices u;
  u.market_id = std::move(market_id);
  for (auto& s : selections) u.prices.push_back(PriceSpec{s.id, Odds{s.odds}, -1});
  return u;
}

inline ChangeMarketStatus suspend(std::string market_id) {
  return ChangeMarketStatus{std::move(market_id), MarketAction::suspend, "goal", ""};
}
inline ChangeMarketStatus resume(std::string market_id) {
  return ChangeMarketStatus{std::move(market_id), MarketAction::resume, "", ""};
}
inline ChangeMarketStatus close_market(std::string market_id) {
  return ChangeMarketStatus{std::move(market_id), MarketAction::close, "full time", ""};
}

inline LegSpec leg(std::string market_id, std::string selection_id, int64_t odds) {
  return LegSpec{std::move(market_id), std::move(selection_id), Odds{odds}};
}

inline PlaceBet bet(std::string id, std::string account, int64_t stake, std::vector<LegSpec> legs,
                    bool accept_better_odds = false) {
  return PlaceBet{std::move(id), std::move(account), Amount{stake}, std::move(legs),
                  accept_better_odds};
}

struct Res {
  std::string selection_id;
  LegResult result;
};

inline SettleMarket settle(std::string market_id, std::vector<Res> results) {
  SettleMarket s;
  s.market_id = std::move(market_id);
  for (auto& r : results) s.results.push_back(ResultSpec{r.selection_id, r.result});
  return s;
}

inline SettleMarket resettle(std::string market_id, std::vector<Res> results) {
  SettleMarket s = settle(std::move(market_id), std::move(results));
  s.resettle = true;
  return s;
}

inline constexpr LegResult kWin = LegResult::win;
inline constexpr LegResult kLose = LegResult::lose;
inline constexpr LegResult kVoid = LegResult::void_;

// ---- events ------------------------------------------------------------------

class RecordingSink : public EventSink {
 public:
  void emit(const DomainEvent& e) override { events.push_back(e); }
  std::vector<DomainEvent> events;
};

// ---- the book -----------------------------------------------------------------

// Every invariant the tests share (STYLE.md, habit 8) that can be checked
// from the state alone: the ledger sums to zero, nothing is negative.
inline ::testing::AssertionResult ledger_ok(const State& s) {
  LedgerCheck check = verify_ledger(s);
  if (!check.ok) return ::testing::AssertionFailure() << check.problem;
  if (ledger_total(s) != 0) return ::testing::AssertionFailure() << "ledger total is not 0";
  for (const Account& a : s.accounts) {
    if (a.balance.minor < 0 || a.in_play.minor < 0 || a.pending_withdrawals.minor < 0 ||
        a.receivable.minor > 0) {
      return ::testing::AssertionFailure() << "account " << a.id << " has a slot of the wrong sign";
    }
  }
  return ::testing::AssertionSuccess();
}

class Book {
 public:
  Book() {
    sm.set_full_check_after_each_command(true);
    at(kT0);
  }

  // Starts the next batch stamped `ms` (which may be older than now: the
  // state machine then keeps its time).
  void at(int64_t ms) {
    stamp_ms = ms;
    sm.begin_batch(LogIndex{++index}, TimeMs{ms});
  }
  // Starts the next batch `ms` after the last stamp.
  void later(int64_t ms) { at(stamp_ms + ms); }

  Outcome apply(const Command& c) {
    sink.events.clear();
    Outcome o = sm.apply(c, &sink);
    EXPECT_TRUE(ledger_ok(sm.state()));
    return o;
  }

  // Expects `c` accepted as a new command (not a retry).
  ::testing::AssertionResult ok(const Command& c) {
    Outcome o = apply(c);
    if (!o.ok()) {
      return ::testing::AssertionFailure()
             << "rejected with " << code_name(o.code) << ": " << o.message;
    }
    if (o.duplicate) return ::testing::AssertionFailure() << "answered as a duplicate";
    return ::testing::AssertionSuccess();
  }

  // Expects `c` rejected with `code`, and the state (its whole digest) and
  // the event stream untouched: API.md, "a write rejected with any 4xx
  // changed nothing". The refusal is remembered under its client id
  // (State::rejected); this helper forgets it again, so a test can try the
  // next rule with the same id (StateMachine tests the memory itself).
  ::testing::AssertionResult rejected(const Command& c, Code code) {
    const std::string before = digest();
    const auto remembered_before = sm.state().rejected;
    Outcome o = apply(c);
    const_cast<State&>(sm.state()).rejected = remembered_before;
    if (o.code != code) {
      return ::testing::AssertionFailure() << "expected " << code_name(code) << ", got "
                                           << code_name(o.code) << " (" << o.message << ")";
    }
    if (o.message.empty()) return ::testing::AssertionFailure() << "a rejection without a message";
    if (o.duplicate) return ::testing::AssertionFailure() << "a rejection marked duplicate";
    if (digest() != before) return ::testing::AssertionFailure() << "the rejection changed the state";
    if (!sink.events.empty()) return ::testing::AssertionFailure() << "the rejection emitted events";
    return ::testing::AssertionSuccess();
  }

  // Expects `c` answered as a retry of an earlier command whose answer
  // referred to `ref`, and the state untouched.
  ::testing::AssertionResult duplicate(const Command& c, uint32_t ref) {
    const std::string before = digest();
    Outcome o = apply(c);
    if (!o.ok()) {
      return ::testing::AssertionFailure()
             << "rejected with " << code_name(o.code) << ": " << o.message;
    }
    if (!o.duplicate) return ::testing::AssertionFailure() << "not answered as a duplicate";
    if (o.ref != ref) return ::testing::AssertionFailure() << "ref " << o.ref << ", first was " << ref;
    if (digest() != before) return ::testing::AssertionFailure() << "the retry changed the state";
    if (!sink.events.empty()) return ::testing::AssertionFailure() << "the retry emitted events";
    return ::testing::AssertionSuccess();
  }

  std::string digest() const { return codec::state_digest(sm.state()); }
  const State& s() const { return sm.state(); }

  const Account& account(std::string_view id) const {
    AccountIdx i = s().account_ids.find(id);
    EXPECT_TRUE(i.valid()) << "no account " << id;
    return s().accounts.at(i.value);
  }
  const Market& market_of(std::string_view id) const {
    MarketIdx i = s().market_ids.find(id);
    EXPECT_TRUE(i.valid()) << "no market " << id;
    return s().markets.at(i.value);
  }
  const Selection& selection(std::string_view market_id, std::string_view sel) const {
    for (const Selection& x : market_of(market_id).selections) {
      if (x.id == sel) return x;
    }
    ADD_FAILURE() << "no selection " << sel;
    return market_of(market_id).selections.at(0);
  }
  const Bet& bet_of(std::string_view id) const {
    BetIdx i = s().bet_ids.find(id);
    EXPECT_TRUE(i.valid()) << "no bet " << id;
    return s().bets.at(i.value);
  }
  const Withdrawal& withdrawal(std::string_view id) const {
    WithdrawalIdx i = s().withdrawal_ids.find(id);
    EXPECT_TRUE(i.valid()) << "no withdrawal " << id;
    return s().withdrawals.at(i.value);
  }
  const CurrencyBook& currency(std::string_view code) const {
    CurrencyIdx i = s().find_currency(code);
    EXPECT_TRUE(i.valid()) << "no currency " << code;
    return s().currencies.at(i.value);
  }
  int64_t balance(std::string_view id) const { return account(id).balance.minor; }
  int64_t in_play(std::string_view id) const { return account(id).in_play.minor; }
  int64_t house(std::string_view code = "EUR") const { return currency(code).house.minor; }

  // An account "alice" in EUR holding `funds`, an event "e1" and a market
  // "m1" with home 2.0 / draw 3.5 / away 4.0.
  void standard(int64_t funds = 10'000) {
    EXPECT_TRUE(ok(open_account("alice")));
    if (funds > 0) {
      EXPECT_TRUE(ok(deposit("dep-alice-0", "alice", funds)));
    }
    EXPECT_TRUE(ok(event("e1")));
    EXPECT_TRUE(ok(market("m1", "e1", {{"home", 2000}, {"draw", 3500}, {"away", 4000}})));
  }

  // One market per id under event "e1" (created if needed), selections
  // "yes" and "no", both at `odds`.
  void yes_no_market(const std::string& id, int64_t odds) {
    if (!s().event_ids.find("e1").valid()) {
      EXPECT_TRUE(ok(event("e1")));
    }
    EXPECT_TRUE(ok(market(id, "e1", {{"yes", odds}, {"no", odds}})));
  }

  StateMachine sm;
  RecordingSink sink;
  uint64_t index = 0;
  int64_t stamp_ms = 0;
};

}  // namespace betcore::domain::test
