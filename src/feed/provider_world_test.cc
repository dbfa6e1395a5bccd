// The provider's world: prices move, order numbers grow, and a recovery
// brings a customer that missed messages to the provider's last word.
#include "feed/provider_world.h"

#include <gtest/gtest.h>

#include <map>

namespace betcore::feed {
namespace {

// A customer applying messages the way betcore does: prices only when newer.
struct Customer {
  std::map<std::string, std::pair<std::pair<int64_t, uint64_t>, std::vector<Price>>> prices;
  std::map<std::string, std::string> status;
  void apply(const Message& m) {
    if (m.kind == Kind::fixture) {
      for (const MarketDef& def : m.markets) {
        std::vector<Price> p;
        for (const SelectionDef& s : def.selections) p.push_back({s.selection_id, s.odds, std::nullopt});
        prices.try_emplace(def.market_id, std::make_pair(std::make_pair(int64_t{0}, uint64_t{0}), p));
      }
    } else if (m.kind == Kind::odds_change) {
      auto& [order, p] = prices[m.market_id];
      if (std::make_pair(m.ts, m.seq) > order) {
        order = {m.ts, m.seq};
        p = m.prices;
      }
    } else if (m.kind == Kind::bet_settlement || m.kind == Kind::rollback_bet_settlement) {
      status[m.market_id] = "settled";
    }
  }
};

bool same_prices(const std::vector<Price>& a, const std::vector<Price>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].selection_id != b[i].selection_id || a[i].odds != b[i].odds) return false;
  }
  return true;
}

TEST(ProviderWorld, SequenceNumbersGrowPerProducer) {
  ProviderWorld w({.events = 4, .markets_per_event = 2});
  std::map<std::string, uint64_t> last;
  std::vector<Message> all = w.fixtures(1000);
  for (int i = 0; i < 50; ++i) {
    for (Message& m : w.odds_changes(6, 1000 + i, {})) all.push_back(m);
  }
  for (const Message& m : all) {
    EXPECT_GT(m.seq, last[m.producer]) << kind_name(m.kind);
    last[m.producer] = m.seq;
  }
  EXPECT_EQ(last.size(), 2u);
}

TEST(ProviderWorld, SilentProducersSendNoPrices) {
  ProviderWorld w({.events = 4, .markets_per_event = 2});
  w.fixtures(1000);
  for (int i = 0; i < 20; ++i) {
    for (const Message& m : w.odds_changes(9, 2000 + i, {"live"})) EXPECT_EQ(m.producer, "prematch");
  }
}

TEST(ProviderWorld, RecoveryBringsACustomerThatMissedMessagesToTheLastWord) {
  ProviderWorld w({.events = 6, .markets_per_event = 3});
  Customer c;
  for (const Message& m : w.fixtures(1000)) c.apply(m);
  for (int i = 0; i < 30; ++i) {
    for (const Message& m : w.odds_changes(9, 1001 + i, {})) c.apply(m);
  }
  // The customer hears nothing for a while: changes, a settlement, a rollback.
  for (int i = 0; i < 200; ++i) w.odds_changes(9, 2000 + i, {});
  w.settle("m-1-1", "", 2300);
  w.rollback("m-1-1", "draw", 2301);
  for (const std::string& producer : w.producers()) {
    std::vector<Message> replay = w.recovery(producer, 1030, "rc-1", 3000);
    ASSERT_FALSE(replay.empty());
    EXPECT_EQ(replay.back().kind, Kind::snapshot_complete);
    EXPECT_EQ(replay.back().request_id, "rc-1");
    for (const Message& m : replay) {
      EXPECT_EQ(m.producer, producer);
      c.apply(m);
    }
  }
  for (const auto& [id, truth] : w.truth()) {
    EXPECT_TRUE(same_prices(c.prices[id].second, truth.prices)) << id;
  }
  EXPECT_EQ(c.status["m-1-1"], "settled");
  EXPECT_EQ(w.truth().at("m-1-1").results.at(1).result, "win");  // draw won at the rollback
}

}  // namespace
}  // namespace betcore::feed
