// The gateway's ledger: idempotency, validation, settlement, fail share, paging.
#include "payments/gateway_ledger.h"

#include <gtest/gtest.h>

namespace betcore::payments::gateway {
namespace {

PayoutFields fields(int64_t amount = 2500) { return {amount, "EUR", "alice", "w-17"}; }
Now at(int64_t ms) { return Now{1'764'854'400'000 + ms, ms}; }

TEST(GatewayLedger, SameKeySameBodyIsTheSamePayout) {
  Ledger ledger({.settle_ms = 200, .fail_share = 0});
  CreateResult a = ledger.create_payout("w-17", fields(), at(0));
  ASSERT_FALSE(a.refusal);
  EXPECT_FALSE(a.replay);
  uint64_t seq = a.payout->seq;
  CreateResult b = ledger.create_payout("w-17", fields(), at(50));
  ASSERT_FALSE(b.refusal);
  EXPECT_TRUE(b.replay);
  EXPECT_EQ(b.payout->seq, seq);
  EXPECT_EQ(b.payout->created_ms, at(0).wall_ms);
  LedgerCounts c = ledger.counts(at(50));
  EXPECT_EQ(c.payouts_created, 1u);
  EXPECT_EQ(c.idempotent_replays, 1u);
}

TEST(GatewayLedger, SameKeyAnotherBodyIsRefused) {
  Ledger ledger({});
  ASSERT_FALSE(ledger.create_payout("w-17", fields(2500), at(0)).refusal);
  CreateResult r = ledger.create_payout("w-17", fields(2600), at(1));
  ASSERT_TRUE(r.refusal);
  EXPECT_EQ(*r.refusal, Refusal::idempotency_key_reused);
  EXPECT_EQ(ledger.counts(at(1)).payouts_created, 1u);
}

TEST(GatewayLedger, EveryFieldIsValidated) {
  Ledger ledger({});
  auto refused = [&](const std::string& key, PayoutFields f) {
    CreateResult r = ledger.create_payout(key, f, at(0));
    return r.refusal == Refusal::invalid_request;
  };
  EXPECT_TRUE(refused("", fields()));
  EXPECT_TRUE(refused(std::string(65, 'k'), fields()));
  EXPECT_TRUE(refused("k y", fields()));
  EXPECT_TRUE(refused("k", fields(0)));
  EXPECT_TRUE(refused("k", fields(-5)));
  EXPECT_TRUE(refused("k", fields(kAmountMax + 1)));
  EXPECT_TRUE(refused("k", {100, "eur", "alice", "w"}));
  EXPECT_TRUE(refused("k", {100, "EURO", "alice", "w"}));
  EXPECT_TRUE(refused("k", {100, "EUR", "", "w"}));
  EXPECT_TRUE(refused("k", {100, "EUR", "alice", "w/1"}));
  EXPECT_FALSE(refused(std::string(64, 'k'), {kAmountMax, "EUR", "a_b.c:d-E9", "w"}));
  EXPECT_EQ(ledger.counts(at(0)).payouts_created, 1u);
}

TEST(GatewayLedger, ProcessingUntilSettleMsThenFinal) {
  Ledger ledger({.settle_ms = 200, .fail_share = 0});
  uint64_t seq = ledger.create_payout("k1", fields(), at(0)).payout->seq;
  EXPECT_EQ(ledger.payout(seq, at(199))->status, PayoutStatus::processing);
  EXPECT_EQ(ledger.counts(at(199)).payouts_paid, 0u);
  EXPECT_EQ(ledger.payout(seq, at(200))->status, PayoutStatus::paid);
  EXPECT_EQ(ledger.counts(at(200)).payouts_paid, 1u);
  EXPECT_EQ(ledger.payout(seq, at(100'000))->status, PayoutStatus::paid);
  // A replay after settlement answers the final state.
  EXPECT_EQ(ledger.create_payout("k1", fields(), at(300)).payout->status, PayoutStatus::paid);
}

TEST(GatewayLedger, SettleZeroIsFinalAtOnce) {
  Ledger ledger({.settle_ms = 0, .fail_share = 0});
  EXPECT_EQ(ledger.create_payout("k1", fields(), at(0)).payout->status, PayoutStatus::paid);
}

TEST(GatewayLedger, FailShareIsDecidedByTheKey) {
  int fails = 0;
  for (int i = 0; i < 10'000; ++i) {
    std::string key = "w-" + std::to_string(i);
    bool f = fails_by_key(key, 0.3);
    EXPECT_EQ(f, fails_by_key(key, 0.3));
    if (f) {
      ++fails;
      // A larger share keeps every payout that failed under a smaller one.
      EXPECT_TRUE(fails_by_key(key, 0.5));
    }
  }
  EXPECT_NEAR(fails, 3000, 200);
  EXPECT_FALSE(fails_by_key("w-1", 0));
  EXPECT_TRUE(fails_by_key("w-1", 1));
}

TEST(GatewayLedger, FailedPayoutsCarryAReason) {
  Ledger ledger({.settle_ms = 10, .fail_share = 1});
  uint64_t seq = ledger.create_payout("k1", fields(), at(0)).payout->seq;
  const Payout* p = ledger.payout(seq, at(10));
  EXPECT_EQ(p->status, PayoutStatus::failed);
  EXPECT_EQ(p->failure_reason, failure_reason_by_key("k1"));
  LedgerCounts c = ledger.counts(at(10));
  EXPECT_EQ(c.payouts_failed, 1u);
  EXPECT_EQ(c.payouts_paid, 0u);
}

TEST(GatewayLedger, PagesFollowIdOrder) {
  Ledger ledger({});
  for (int i = 1; i <= 5; ++i) ledger.create_payout("k" + std::to_string(i), fields(), at(i));
  Page<Payout> p1 = ledger.payouts(0, 2, at(10));
  ASSERT_EQ(p1.items.size(), 2u);
  EXPECT_EQ(payout_id(p1.items[0]->seq), "po_000001");
  ASSERT_TRUE(p1.next_after);
  Page<Payout> p2 = ledger.payouts(*p1.next_after, 2, at(10));
  ASSERT_EQ(p2.items.size(), 2u);
  EXPECT_EQ(p2.items[0]->seq, 3u);
  Page<Payout> p3 = ledger.payouts(*p2.next_after, 2, at(10));
  ASSERT_EQ(p3.items.size(), 1u);
  EXPECT_FALSE(p3.next_after);
  // A page that ends exactly at the end says so.
  EXPECT_FALSE(ledger.payouts(3, 2, at(10)).next_after);
  EXPECT_TRUE(ledger.payouts(5, 10, at(10)).items.empty());
  EXPECT_TRUE(ledger.payouts(99, 10, at(10)).items.empty());
}

TEST(GatewayLedger, Deposits) {
  Ledger ledger({});
  DepositResult d = ledger.record_deposit("bob", 1000, "EUR", at(0));
  ASSERT_FALSE(d.refusal);
  EXPECT_EQ(payment_id(d.deposit->seq), "pay_000001");
  EXPECT_EQ(event_id(d.deposit->seq), "evt_000001");
  EXPECT_EQ(ledger.record_deposit("bob", 0, "EUR", at(0)).refusal, Refusal::invalid_request);
  EXPECT_EQ(ledger.record_deposit("b b", 1, "EUR", at(0)).refusal, Refusal::invalid_request);
  EXPECT_EQ(ledger.deposits(0, 10, at(0)).items.size(), 1u);
  EXPECT_EQ(ledger.counts(at(0)).deposits, 1u);
}

TEST(GatewayLedger, IdsRoundTrip) {
  EXPECT_EQ(payout_seq(payout_id(17)), 17u);
  EXPECT_EQ(payout_seq(payout_id(12'345'678)), 12'345'678u);
  EXPECT_EQ(payment_seq("pay_000042"), 42u);
  EXPECT_FALSE(payout_seq("po_"));
  EXPECT_FALSE(payout_seq("po_000000"));
  EXPECT_FALSE(payout_seq("po_12x"));
  EXPECT_FALSE(payout_seq("pay_000001"));
}

}  // namespace
}  // namespace betcore::payments::gateway
