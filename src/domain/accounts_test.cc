// Accounts and money in and out (API.md, "Accounts and money"): creation,
// deposits (a payment_ref credits once), the rolling 24-hour deposit limit,
// self-exclusion, withdrawals requested -> completed | failed.
#include <gtest/gtest.h>

#include <string>

#include "domain/testing/fixtures.h"

namespace betcore::domain {
namespace {

using namespace test;

TEST(Accounts, CreateStartsEmptyInItsCurrency) {
  Book b;
  Outcome o = b.apply(open_account("alice", "EUR", 50'000));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_FALSE(o.duplicate);
  EXPECT_EQ(o.ref, 0u);
  ASSERT_EQ(b.sink.events.size(), 1u);
  EXPECT_EQ(b.sink.events[0].type, EventType::account_created);
  const Account& a = b.account("alice");
  EXPECT_EQ(a.balance.minor, 0);
  EXPECT_EQ(a.in_play.minor, 0);
  EXPECT_EQ(a.pending_withdrawals.minor, 0);
  EXPECT_EQ(a.deposit_limit_24h.minor, 50'000);
  EXPECT_EQ(a.created_at.ms, kT0);
  EXPECT_EQ(b.s().currencies.at(a.currency.value).code, "EUR");
  const CurrencyIdx eur = a.currency;  // `a` dangles once more accounts are added

  ASSERT_TRUE(b.ok(open_account("bob", "GBP")));
  ASSERT_TRUE(b.ok(open_account("carol", "EUR")));
  EXPECT_EQ(b.s().currencies.size(), 2u);  // one book per currency, shared
  EXPECT_EQ(b.account("carol").currency, eur);
  EXPECT_NE(b.account("bob").currency, eur);
  EXPECT_EQ(b.s().commands_applied, 3u);
}

TEST(Accounts, CreateRejectsInvalidRequests) {
  Book b;
  EXPECT_TRUE(b.rejected(open_account(""), Code::invalid_request));
  EXPECT_TRUE(b.rejected(open_account(std::string(65, 'a')), Code::invalid_request));
  EXPECT_TRUE(b.rejected(open_account("has space"), Code::invalid_request));
  EXPECT_TRUE(b.rejected(open_account("slash/no"), Code::invalid_request));
  EXPECT_TRUE(b.rejected(open_account("alice", "eur"), Code::invalid_request));
  EXPECT_TRUE(b.rejected(open_account("alice", "EURO"), Code::invalid_request));
  EXPECT_TRUE(b.rejected(open_account("alice", "E1R"), Code::invalid_request));
  EXPECT_TRUE(b.rejected(open_account("alice", ""), Code::invalid_request));
  EXPECT_TRUE(b.rejected(open_account("alice", "EUR", -1), Code::invalid_request));
  EXPECT_TRUE(b.rejected(open_account("alice", "EUR", kAmountMax + 1), Code::invalid_request));
  EXPECT_TRUE(b.s().currencies.empty());  // a rejected account adds no currency
  EXPECT_TRUE(b.ok(open_account(std::string(64, 'a'), "EUR", kAmountMax)));
  EXPECT_TRUE(b.ok(open_account("A-z_0.9:x")));
}

TEST(Accounts, SameIdSameBodyIsTheFirstAnswerDifferentBodyIsConflict) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("zed")));
  ASSERT_TRUE(b.ok(open_account("alice", "EUR", 100)));
  EXPECT_TRUE(b.duplicate(open_account("alice", "EUR", 100), 1));
  EXPECT_TRUE(b.rejected(open_account("alice", "GBP", 100), Code::conflict));
  EXPECT_TRUE(b.rejected(open_account("alice", "EUR", 101), Code::conflict));
  EXPECT_TRUE(b.rejected(open_account("alice", "EUR"), Code::conflict));
}

TEST(Deposits, CreditTheBalanceFromTheWorld) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice")));
  Outcome o = b.apply(deposit("pay-1", "alice", 1050));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(o.ref, 0u);
  ASSERT_EQ(b.sink.events.size(), 1u);
  EXPECT_EQ(b.sink.events[0].type, EventType::deposit_credited);
  EXPECT_EQ(b.balance("alice"), 1050);
  EXPECT_EQ(b.currency("EUR").world.minor, -1050);
  EXPECT_EQ(b.currency("EUR").deposits_total.minor, 1050);
  EXPECT_EQ(b.s().deposits.at(0).balance_after.minor, 1050);
  ASSERT_TRUE(b.ok(deposit("pay-2", "alice", kAmountMax)));
  EXPECT_EQ(b.balance("alice"), 1050 + kAmountMax);
  EXPECT_EQ(ledger_total(b.s()), 0);
}

TEST(Deposits, APaymentRefCreditsOnce) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice")));
  ASSERT_TRUE(b.ok(open_account("bob")));
  ASSERT_TRUE(b.ok(deposit("pay-0", "bob", 5)));
  ASSERT_TRUE(b.ok(deposit("pay-1", "alice", 700)));
  EXPECT_TRUE(b.duplicate(deposit("pay-1", "alice", 700), 1));
  b.later(kHourMs);
  EXPECT_TRUE(b.duplicate(deposit("pay-1", "alice", 700), 1));
  EXPECT_EQ(b.balance("alice"), 700);
  EXPECT_TRUE(b.rejected(deposit("pay-1", "alice", 701), Code::conflict));
  EXPECT_TRUE(b.rejected(deposit("pay-1", "bob", 700), Code::conflict));
  EXPECT_TRUE(b.rejected(deposit("pay-1", "nobody", 700), Code::conflict));
  EXPECT_EQ(b.balance("alice"), 700);
  EXPECT_EQ(b.balance("bob"), 5);
}

TEST(Deposits, RejectInvalidAmountsAndIds) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice")));
  EXPECT_TRUE(b.rejected(deposit("pay-1", "alice", 0), Code::invalid_request));
  EXPECT_TRUE(b.rejected(deposit("pay-1", "alice", -100), Code::invalid_request));
  EXPECT_TRUE(b.rejected(deposit("pay-1", "alice", kAmountMax + 1), Code::invalid_request));
  EXPECT_TRUE(b.rejected(deposit("", "alice", 100), Code::invalid_request));
  EXPECT_TRUE(b.rejected(deposit("pay 1", "alice", 100), Code::invalid_request));
  EXPECT_TRUE(b.rejected(deposit("pay-1", "", 100), Code::invalid_request));
  EXPECT_TRUE(b.rejected(deposit("pay-1", "al ice", 100), Code::invalid_request));
  EXPECT_TRUE(b.rejected(deposit("pay-1", "nobody", 100), Code::not_found));
  // A rejected deposit did not use up its payment_ref.
  EXPECT_TRUE(b.ok(deposit("pay-1", "alice", 100)));
}

TEST(Deposits, TheBalanceHasAPlatformMaximum) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("whale")));
  // 10^4 deposits of 10^13 reach the 10^17 maximum exactly.
  for (int i = 0; i < 10'000; ++i) {
    Outcome o = b.sm.apply(deposit("p" + std::to_string(i), "whale", kAmountMax));
    ASSERT_TRUE(o.ok()) << i << ": " << o.message;
  }
  EXPECT_EQ(b.balance("whale"), 100'000'000'000'000'000);
  EXPECT_TRUE(b.rejected(deposit("one-more", "whale", 1), Code::deposit_limit_exceeded));
  EXPECT_TRUE(ledger_ok(b.s()));
}

TEST(DepositLimit, IsARolling24HourWindow) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice", "EUR", 1000)));
  const int64_t t = kT0 + kHourMs;
  b.at(t);
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 1000)));  // reaching the limit exactly is allowed
  b.at(t + 23 * kHourMs);
  EXPECT_TRUE(b.rejected(deposit("d2", "alice", 1), Code::deposit_limit_exceeded));
  b.at(t + kDayMs - 1);
  EXPECT_TRUE(b.rejected(deposit("d2", "alice", 1), Code::deposit_limit_exceeded));
  b.at(t + kDayMs + 1);
  ASSERT_TRUE(b.ok(deposit("d2", "alice", 1000)));
  EXPECT_EQ(b.balance("alice"), 2000);
}

TEST(DepositLimit, OnlyDepositsInsideTheWindowCount) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice", "EUR", 1000)));
  ASSERT_TRUE(b.ok(open_account("bob", "EUR", 1000)));
  const int64_t t = kT0 + kHourMs;
  b.at(t);
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 600)));
  b.at(t + 12 * kHourMs);
  EXPECT_TRUE(b.rejected(deposit("d2", "alice", 401), Code::deposit_limit_exceeded));
  ASSERT_TRUE(b.ok(deposit("d2", "alice", 400)));
  ASSERT_TRUE(b.ok(deposit("bob-1", "bob", 1000)));  // per account
  b.at(t + kDayMs + 1);  // d1 left the window, d2 did not
  EXPECT_TRUE(b.rejected(deposit("d3", "alice", 601), Code::deposit_limit_exceeded));
  ASSERT_TRUE(b.ok(deposit("d3", "alice", 600)));
  b.at(t + 12 * kHourMs + kDayMs + 1);  // d2 left too; d3 still in
  EXPECT_TRUE(b.rejected(deposit("d4", "alice", 401), Code::deposit_limit_exceeded));
  ASSERT_TRUE(b.ok(deposit("d4", "alice", 400)));
  EXPECT_EQ(b.balance("alice"), 2000);
}

TEST(DepositLimit, WithdrawingDoesNotGiveTheAllowanceBack) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice", "EUR", 1000)));
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 1000)));
  ASSERT_TRUE(b.ok(withdraw("w1", "alice", 1000)));
  ASSERT_TRUE(b.ok(fail("w1")));
  ASSERT_TRUE(b.ok(withdraw("w2", "alice", 1000)));
  ASSERT_TRUE(b.ok(complete("w2")));
  b.later(kHourMs);
  EXPECT_TRUE(b.rejected(deposit("d2", "alice", 1), Code::deposit_limit_exceeded));
}

TEST(DepositLimit, ZeroMeansNoLimit) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice", "EUR", 0)));
  ASSERT_TRUE(b.ok(deposit("d1", "alice", kAmountMax)));
  ASSERT_TRUE(b.ok(deposit("d2", "alice", kAmountMax)));
}

TEST(SelfExclusion, BlocksBetsAndDepositsNotWithdrawals) {
  Book b;
  b.standard(5000);
  const int64_t until = kT0 + 30 * kDayMs;
  Outcome o = b.apply(exclude("alice", until));
  ASSERT_TRUE(o.ok()) << o.message;
  ASSERT_EQ(b.sink.events.size(), 1u);
  EXPECT_EQ(b.sink.events[0].type, EventType::self_exclusion_set);
  EXPECT_EQ(b.account("alice").self_excluded_until.ms, until);

  EXPECT_TRUE(b.rejected(deposit("d1", "alice", 100), Code::account_not_active));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m1", "home", 2000)}), Code::account_not_active));
  ASSERT_TRUE(b.ok(withdraw("w1", "alice", 1000)));
  ASSERT_TRUE(b.ok(complete("w1")));
  EXPECT_EQ(b.balance("alice"), 4000);

  b.at(until - 1);
  EXPECT_TRUE(b.rejected(deposit("d1", "alice", 100), Code::account_not_active));
  b.at(until);  // excluded while now < until
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 100)));
  ASSERT_TRUE(b.ok(bet("b1", "alice", 100, {leg("m1", "home", 2000)})));
}

TEST(SelfExclusion, CanOnlyBeExtended) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice")));
  ASSERT_TRUE(b.ok(exclude("alice", kT0 + 10 * kDayMs)));
  ASSERT_TRUE(b.ok(exclude("alice", kT0 + kDayMs)));  // answered, but not shortened
  EXPECT_EQ(b.account("alice").self_excluded_until.ms, kT0 + 10 * kDayMs);
  ASSERT_TRUE(b.ok(exclude("alice", kT0 + 20 * kDayMs)));
  EXPECT_EQ(b.account("alice").self_excluded_until.ms, kT0 + 20 * kDayMs);
  b.at(kT0 + 15 * kDayMs);
  EXPECT_TRUE(b.rejected(deposit("d1", "alice", 1), Code::account_not_active));
}

TEST(SelfExclusion, RejectsUnknownAccountsAndBadTimes) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice")));
  EXPECT_TRUE(b.rejected(exclude("nobody", kT0 + kDayMs), Code::not_found));
  EXPECT_TRUE(b.rejected(exclude("alice", 0), Code::invalid_request));
  EXPECT_TRUE(b.rejected(exclude("alice", -5), Code::invalid_request));
}

TEST(Withdrawals, MoveBalanceToPendingThenOutOrBack) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice")));
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 1000)));
  Outcome o = b.apply(withdraw("w1", "alice", 300));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(b.sink.events.at(0).type, EventType::withdrawal_requested);
  EXPECT_EQ(b.balance("alice"), 700);
  EXPECT_EQ(b.account("alice").pending_withdrawals.minor, 300);
  EXPECT_EQ(b.withdrawal("w1").status, WithdrawalStatus::pending);

  o = b.apply(complete("w1", "gw-77"));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(b.sink.events.at(0).type, EventType::withdrawal_completed);
  EXPECT_EQ(b.account("alice").pending_withdrawals.minor, 0);
  EXPECT_EQ(b.balance("alice"), 700);
  EXPECT_EQ(b.currency("EUR").world.minor, -700);
  EXPECT_EQ(b.currency("EUR").withdrawals_completed_total.minor, 300);
  EXPECT_EQ(b.withdrawal("w1").status, WithdrawalStatus::completed);
  EXPECT_EQ(b.withdrawal("w1").outcome_ref, "gw-77");

  ASSERT_TRUE(b.ok(withdraw("w2", "alice", 700)));
  EXPECT_EQ(b.balance("alice"), 0);
  o = b.apply(fail("w2", "account closed"));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(b.sink.events.at(0).type, EventType::withdrawal_failed);
  EXPECT_EQ(b.balance("alice"), 700);  // the money returns
  EXPECT_EQ(b.account("alice").pending_withdrawals.minor, 0);
  EXPECT_EQ(b.withdrawal("w2").status, WithdrawalStatus::failed);
  EXPECT_EQ(b.currency("EUR").withdrawals_completed_total.minor, 300);
}

TEST(Withdrawals, NeedTheFundsInTheBalance) {
  Book b;
  b.standard(1000);
  ASSERT_TRUE(b.ok(bet("b1", "alice", 600, {leg("m1", "home", 2000)})));
  EXPECT_TRUE(b.rejected(withdraw("w1", "alice", 401), Code::insufficient_funds));  // in play is not free
  ASSERT_TRUE(b.ok(withdraw("w1", "alice", 400)));
  EXPECT_TRUE(b.rejected(withdraw("w2", "alice", 1), Code::insufficient_funds));
}

TEST(Withdrawals, RejectInvalidRequestsAndUnknownIds) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice")));
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 1000)));
  EXPECT_TRUE(b.rejected(withdraw("w1", "alice", 0), Code::invalid_request));
  EXPECT_TRUE(b.rejected(withdraw("w1", "alice", kAmountMax + 1), Code::invalid_request));
  EXPECT_TRUE(b.rejected(withdraw("", "alice", 10), Code::invalid_request));
  EXPECT_TRUE(b.rejected(withdraw("w1", "bad id", 10), Code::invalid_request));
  EXPECT_TRUE(b.rejected(withdraw("w1", "nobody", 10), Code::not_found));
  EXPECT_TRUE(b.rejected(complete("nope"), Code::not_found));
  EXPECT_TRUE(b.rejected(fail("nope"), Code::not_found));
  EXPECT_TRUE(b.rejected(complete("bad id"), Code::invalid_request));
  ASSERT_TRUE(b.ok(withdraw("w1", "alice", 10)));
  EXPECT_TRUE(b.rejected(complete("w1", ""), Code::invalid_request));
  EXPECT_TRUE(b.rejected(complete("w1", std::string(257, 'g')), Code::invalid_request));
  EXPECT_TRUE(b.rejected(fail("w1", std::string(257, 'r')), Code::invalid_request));
  EXPECT_TRUE(b.ok(fail("w1", "")));  // the reason is optional
}

TEST(Withdrawals, RequestIsIdempotent) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice")));
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 1000)));
  ASSERT_TRUE(b.ok(withdraw("w0", "alice", 1)));
  ASSERT_TRUE(b.ok(withdraw("w1", "alice", 300)));
  EXPECT_TRUE(b.duplicate(withdraw("w1", "alice", 300), 1));
  EXPECT_EQ(b.balance("alice"), 699);
  EXPECT_TRUE(b.rejected(withdraw("w1", "alice", 301), Code::conflict));
  // The retry answers the first answer even after the withdrawal moved on.
  ASSERT_TRUE(b.ok(complete("w1")));
  EXPECT_TRUE(b.duplicate(withdraw("w1", "alice", 300), 1));
}

TEST(Withdrawals, OutcomesAreIdempotentAndFinal) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice")));
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 1000)));
  ASSERT_TRUE(b.ok(withdraw("w0", "alice", 100)));
  ASSERT_TRUE(b.ok(withdraw("w1", "alice", 100)));
  ASSERT_TRUE(b.ok(complete("w1", "gw-1")));
  EXPECT_TRUE(b.duplicate(complete("w1", "gw-1"), 1));
  EXPECT_TRUE(b.rejected(complete("w1", "gw-2"), Code::conflict));
  EXPECT_TRUE(b.rejected(fail("w1", "late"), Code::conflict));
  EXPECT_EQ(b.currency("EUR").withdrawals_completed_total.minor, 100);

  ASSERT_TRUE(b.ok(fail("w0", "no")));
  EXPECT_TRUE(b.duplicate(fail("w0", "no"), 0));
  EXPECT_TRUE(b.rejected(fail("w0", "other reason"), Code::conflict));
  EXPECT_TRUE(b.rejected(complete("w0", "gw-1"), Code::conflict));
  EXPECT_EQ(b.balance("alice"), 900);
}

TEST(Withdrawals, AreAllowedWhileSelfExcluded) {
  Book b;
  ASSERT_TRUE(b.ok(open_account("alice")));
  ASSERT_TRUE(b.ok(deposit("d1", "alice", 1000)));
  ASSERT_TRUE(b.ok(exclude("alice", kT0 + kDayMs)));
  ASSERT_TRUE(b.ok(withdraw("w1", "alice", 1000)));
  ASSERT_TRUE(b.ok(fail("w1")));
  EXPECT_EQ(b.balance("alice"), 1000);
}

}  // namespace
}  // namespace betcore::domain
