// The state machine as a whole: time, log positions, client ids remembered
// across every command type, the codes and their HTTP statuses, and the
// ledger check itself (it must be able to say no).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "domain/testing/fixtures.h"

namespace betcore::domain {
namespace {

using namespace test;

TEST(Time, NeverRunsBackwards) {
  Book b;
  EXPECT_EQ(b.s().now.ms, kT0);
  b.at(kT0 + 5000);
  EXPECT_EQ(b.s().now.ms, kT0 + 5000);
  b.at(kT0 + 1000);  // a node with a slower clock stamped this batch
  EXPECT_EQ(b.s().now.ms, kT0 + 5000);
  EXPECT_EQ(b.s().applied.value, b.index);
  ASSERT_TRUE(b.ok(open_account("alice")));
  EXPECT_EQ(b.account("alice").created_at.ms, kT0 + 5000);
  b.at(0);
  EXPECT_EQ(b.s().now.ms, kT0 + 5000);
  b.at(kT0 + 5001);
  EXPECT_EQ(b.s().now.ms, kT0 + 5001);
}

TEST(Time, AnOldStampCannotReopenADepositWindow) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice", "EUR", 1000)));
  b.at(kT0 + kHourMs);
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 1000)));
  b.at(kT0 + kHourMs + kDayMs + 1);
  b.at(kT0);  // backwards: ignored
  ASSERT_TRUE(b.ok(deposit("d2", "alice", 1000)));
  EXPECT_EQ(b.s().deposits.at(1).at.ms, kT0 + kHourMs + kDayMs + 1);
  b.at(kT0 + 2 * kHourMs);  // backwards again: still inside d2's window
  EXPECT_TRUE(b.rejected(deposit("d3", "alice", 1), Code::deposit_limit_exceeded));
}

TEST(Time, AnOldStampCannotLiftASelfExclusion) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice")));
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 1000)));
  ASSERT_TRUE(b.ok(exclude("alice", kT0 + kHourMs)));
  b.at(kT0 + kHourMs);
  ASSERT_TRUE(b.ok(exclude("alice", kT0 + 2 * kHourMs)));
  b.at(kT0 + 10);
  EXPECT_TRUE(b.rejected(deposit("d2", "alice", 1), Code::account_not_active));
}

TEST(LogIndexDeathTest, MustStrictlyIncrease) {
  StateMachine sm;
  sm.begin_batch(LogIndex{5}, TimeMs{kT0});
  EXPECT_DEATH(sm.begin_batch(LogIndex{5}, TimeMs{kT0}), "log index went backwards");
  EXPECT_DEATH(sm.begin_batch(LogIndex{4}, TimeMs{kT0}), "log index went backwards");
  sm.begin_batch(LogIndex{7}, TimeMs{kT0});  // gaps are fine (refused entries)
  EXPECT_EQ(sm.state().applied.value, 7u);
}

TEST(ClientIds, EveryIdCommandAnswersRetriesAndRefusesReuse) {
  Book b;
  b.standard(10'000);
  ASSERT_TRUE(b.ok(withdraw("w1", "alice", 100)));
  ASSERT_TRUE(b.ok(withdraw("w2", "alice", 100)));
  ASSERT_TRUE(b.ok(bet("b1", "alice", 100, {leg("m1", "home", 2000)})));
  ASSERT_TRUE(b.ok(complete("w1", "gw")));
  ASSERT_TRUE(b.ok(fail("w2", "no")));
  ASSERT_TRUE(b.ok(settle("m1", {{"home", kWin}, {"draw", kLose}, {"away", kLose}})));

  struct Case {
    Command same;
    Command different;
    uint32_t first_ref = 0;
  };
  std::vector<Case> cases = {
      {open_account("alice"), open_account("alice", "GBP")},
      {deposit("dep-alice-0", "alice", 10'000), deposit("dep-alice-0", "alice", 10'001)},
      {withdraw("w1", "alice", 100), withdraw("w1", "alice", 99)},
      {complete("w1", "gw"), complete("w1", "gw2")},
      {fail("w2", "no"), fail("w2", "nope"), 1},
      {event("e1"), event("e1", "Another name")},
      {market("m1", "e1", {{"home", 2000}, {"draw", 3500}, {"away", 4000}}),
       market("m1", "e1", {{"home", 2000}, {"draw", 3500}, {"away", 4001}})},
      {bet("b1", "alice", 100, {leg("m1", "home", 2000)}), bet("b1", "alice", 100, {leg("m1", "draw", 3500)})},
      {settle("m1", {{"home", kWin}, {"draw", kLose}, {"away", kLose}}),
       settle("m1", {{"home", kLose}, {"draw", kWin}, {"away", kLose}})},
  };
  const uint64_t accepted = b.s().commands_applied;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    EXPECT_TRUE(b.duplicate(cases[i].same, cases[i].first_ref));
    EXPECT_TRUE(b.rejected(cases[i].different, Code::conflict));
  }
  EXPECT_EQ(b.s().commands_applied, accepted);  // retries and rejections do not count
}

TEST(Events, NoSinkIsFine) {
  StateMachine sm;
  sm.begin_batch(LogIndex{1}, TimeMs{kT0});
  EXPECT_TRUE(sm.apply(open_account("alice")).ok());
  EXPECT_TRUE(sm.apply(deposit("d", "alice", 5)).ok());
  EXPECT_EQ(sm.state().accounts.at(0).balance.minor, 5);
}

TEST(Codes, HaveNamesAndStatuses) {
  struct Row {
    Code code;
    const char* name;
    int status;
  };
  const Row rows[] = {
      {Code::ok, "ok", 200},
      {Code::invalid_request, "invalid_request", 400},
      {Code::not_found, "not_found", 404},
      {Code::conflict, "conflict", 409},
      {Code::insufficient_funds, "insufficient_funds", 422},
      {Code::odds_changed, "odds_changed", 422},
      {Code::market_not_open, "market_not_open", 422},
      {Code::selection_not_active, "selection_not_active", 422},
      {Code::stake_out_of_range, "stake_out_of_range", 422},
      {Code::liability_exceeded, "liability_exceeded", 422},
      {Code::account_not_active, "account_not_active", 422},
      {Code::deposit_limit_exceeded, "deposit_limit_exceeded", 422},
      {Code::duplicate_leg, "duplicate_leg", 422},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(code_name(r.code), r.name);
    EXPECT_EQ(code_http_status(r.code), r.status) << r.name;
  }
}

TEST(Ids, FollowTheApiAlphabetAndLength) {
  EXPECT_TRUE(valid_id("a"));
  EXPECT_TRUE(valid_id("AZaz09_.:-"));
  EXPECT_TRUE(valid_id(std::string(64, 'x')));
  EXPECT_FALSE(valid_id(""));
  EXPECT_FALSE(valid_id(std::string(65, 'x')));
  for (const char* bad : {"a b", "a/b", "a+b", "a\nb", "caf\xc3\xa9", "a,b", "a\"b", "a#b"}) {
    EXPECT_FALSE(valid_id(bad)) << bad;
  }
  EXPECT_FALSE(valid_id(std::string_view("a\0b", 3)));
}

// ---- the ledger check ---------------------------------------------------------

// A hand-built state that balances: 1000 deposited, 300 in play, 200 lost.
void balanced(State& s) {
  s.currencies.push_back(CurrencyBook{"EUR"});
  s.currencies[0].world = Amount{-1000};
  s.currencies[0].deposits_total = Amount{1000};
  s.currencies[0].house = Amount{200};
  Account& a = s.accounts.emplace_back();
  a.id = s.account_ids.insert("alice", AccountIdx{0});
  a.currency = CurrencyIdx{0};
  a.balance = Amount{500};
  a.in_play = Amount{300};
}

TEST(Ledger, VerifyAcceptsABalancedState) {
  State s;
  balanced(s);
  EXPECT_TRUE(verify_ledger(s).ok) << verify_ledger(s).problem;
  EXPECT_EQ(ledger_total(s), 0);
}

TEST(Ledger, VerifyFindsEveryKindOfProblem) {
  {
    State s;
    balanced(s);
    s.accounts[0].balance = Amount{501};
    EXPECT_FALSE(verify_ledger(s).ok);
    EXPECT_EQ(ledger_total(s), 1);
  }
  {
    State s;
    balanced(s);
    s.accounts[0].balance = Amount{-1};
    s.accounts[0].in_play = Amount{801};
    LedgerCheck c = verify_ledger(s);
    EXPECT_FALSE(c.ok);
    EXPECT_NE(c.problem.find("wrong sign"), std::string::npos) << c.problem;
  }
  {
    State s;
    balanced(s);
    s.accounts[0].receivable = Amount{1};
    s.accounts[0].balance = Amount{499};
    EXPECT_FALSE(verify_ledger(s).ok);
  }
  {
    // Sums to zero but does not match the deposits: money was made up.
    State s;
    balanced(s);
    s.currencies[0].deposits_total = Amount{999};
    LedgerCheck c = verify_ledger(s);
    EXPECT_FALSE(c.ok);
    EXPECT_NE(c.problem.find("conserved"), std::string::npos) << c.problem;
  }
}

TEST(Ledger, BalancesPerCurrency) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice", "EUR")));
  ASSERT_TRUE(b.ok(open_account("bob", "GBP")));
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 700)));
  ASSERT_TRUE(b.ok(deposit("d2", "bob", 300)));
  EXPECT_EQ(b.currency("EUR").world.minor, -700);
  EXPECT_EQ(b.currency("GBP").world.minor, -300);
  EXPECT_EQ(ledger_total(b.s()), 0);
}

TEST(LedgerDeathTest, FullCheckStopsTheProcessOnABrokenLedger) {
  auto broken = std::make_unique<State>();
  balanced(*broken);
  broken->accounts[0].balance = Amount{501};
  StateMachine sm;
  sm.reset(std::move(broken));
  sm.set_full_check_after_each_command(true);
  sm.begin_batch(LogIndex{1}, TimeMs{kT0});
  EXPECT_DEATH(sm.apply(event("e1")), "does not sum to zero");
}

}  // namespace
}  // namespace betcore::domain
