// The gateway's webhook outbox: retries until acknowledged, duplicates, delays, storms.
#include "payments/gateway_outbox.h"

#include <gtest/gtest.h>

#include <set>

namespace betcore::payments::gateway {
namespace {

TEST(GatewayOutbox, RetriedWithBackoffUntilA2xx) {
  Outbox box;
  tools::SplitMix64 rng(1);
  box.add(1, "{}", {}, 0, rng);
  int64_t next = 0;
  std::optional<Delivery> d = box.take_due(0, &next);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->attempt, 0);
  EXPECT_FALSE(box.take_due(0, &next));
  EXPECT_EQ(next, -1);  // nothing queued while in flight
  box.on_result(*d, 500, 0, rng);
  EXPECT_EQ(box.counts().pending(), 1u);
  // Full jitter: the first retry waits 1..200 ms.
  EXPECT_FALSE(box.take_due(0, &next));
  EXPECT_GE(next, 1);
  EXPECT_LE(next, kRedeliveryBaseMs);
  d = box.take_due(next, nullptr);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->attempt, 1);
  box.on_result(*d, 400, next, rng);  // a 4xx is retried too
  EXPECT_EQ(box.counts().refused_4xx, 1u);
  d = box.take_due(next + kRedeliveryCapMs, nullptr);
  ASSERT_TRUE(d);
  box.on_result(*d, 204, next + kRedeliveryCapMs, rng);
  EXPECT_EQ(box.counts().acknowledged, 1u);
  EXPECT_EQ(box.counts().pending(), 0u);
  EXPECT_EQ(box.counts().attempts, 3u);
  EXPECT_EQ(box.queued(), 0u);
}

TEST(GatewayOutbox, BackoffDoublesToTheCap) {
  tools::SplitMix64 rng(3);
  for (int attempt = 0; attempt < 30; ++attempt) {
    int64_t ceiling =
        std::min<int64_t>(kRedeliveryCapMs, int64_t{kRedeliveryBaseMs} << std::min(attempt, 20));
    for (int i = 0; i < 100; ++i) {
      int64_t w = redelivery_wait_ms(attempt, rng);
      EXPECT_GE(w, 1);
      EXPECT_LE(w, ceiling);
    }
  }
}

TEST(GatewayOutbox, DuplicatesAreExtraDeliveriesNotRetriedOnceAcknowledged) {
  Outbox box;
  tools::SplitMix64 rng(1);
  box.add(1, "{}", {.duplicate_share = 1, .delay_ms_max = 0}, 0, rng);
  EXPECT_EQ(box.queued(), 2u);
  std::optional<Delivery> a = box.take_due(0, nullptr);
  std::optional<Delivery> b = box.take_due(0, nullptr);
  ASSERT_TRUE(a && b);
  box.on_result(*a, 200, 0, rng);
  box.on_result(*b, 500, 0, rng);  // the event was received: no retry
  EXPECT_EQ(box.queued(), 0u);
  EXPECT_EQ(box.counts().acknowledged, 1u);
  EXPECT_EQ(box.counts().extra_deliveries, 1u);
}

TEST(GatewayOutbox, DelaysReorderEvents) {
  Outbox box;
  tools::SplitMix64 rng(5);
  for (uint64_t seq = 1; seq <= 50; ++seq) box.add(seq, "{}", {.delay_ms_max = 1000}, 0, rng);
  std::vector<uint64_t> order;
  while (std::optional<Delivery> d = box.take_due(1000, nullptr)) order.push_back(d->event_seq);
  ASSERT_EQ(order.size(), 50u);
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(std::set<uint64_t>(order.begin(), order.end()).size(), 50u);
}

TEST(GatewayOutbox, StormCopiesEveryPendingEvent) {
  Outbox box;
  tools::SplitMix64 rng(1);
  box.add(1, "a", {}, 0, rng);
  box.add(2, "b", {}, 0, rng);
  std::optional<Delivery> first = box.take_due(0, nullptr);
  ASSERT_TRUE(first);
  box.on_result(*first, 200, 0, rng);  // event 1 acknowledged
  EXPECT_EQ(box.storm(3, 10), 3u);     // only event 2, three times
  int twos = 0;
  while (std::optional<Delivery> d = box.take_due(10, nullptr)) {
    EXPECT_EQ(d->event_seq, 2u);
    ++twos;
  }
  EXPECT_EQ(twos, 4);
  EXPECT_EQ(box.body(2), "b");
}

}  // namespace
}  // namespace betcore::payments::gateway
