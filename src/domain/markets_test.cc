// Events, markets, prices; suspend, resume, close (API.md, "Events,
// markets, prices").
#include <gtest/gtest.h>

#include <string>

#include "domain/testing/fixtures.h"

namespace betcore::domain {
namespace {

using namespace test;

TEST(Events, CreateIsIdempotentByIdAndValidated) {
  Book b;
  Outcome o = b.apply(event("e1", "Derby", kT0 + kDayMs));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(b.sink.events.at(0).type, EventType::event_created);
  const Event& e = b.s().events.at(0);
  EXPECT_EQ(e.id, "e1");
  EXPECT_EQ(e.name, "Derby");
  EXPECT_EQ(e.starts_at.ms, kT0 + kDayMs);

  EXPECT_TRUE(b.duplicate(event("e1", "Derby", kT0 + kDayMs), 0));
  EXPECT_TRUE(b.rejected(event("e1", "Derby", kT0 + 2 * kDayMs), Code::conflict));
  EXPECT_TRUE(b.rejected(event("e1", "Other"), Code::conflict));
  EXPECT_TRUE(b.rejected(event("", "x"), Code::invalid_request));
  EXPECT_TRUE(b.rejected(event("e 2", "x"), Code::invalid_request));
  EXPECT_TRUE(b.rejected(event("e2", ""), Code::invalid_request));
  EXPECT_TRUE(b.rejected(event("e2", std::string(257, 'n')), Code::invalid_request));
  EXPECT_TRUE(b.ok(event("e2", std::string(256, 'n'))));
}

TEST(Markets, CreateWithSelectionsOddsAndLimits) {
  Book b;
  ASSERT_TRUE(b.ok(event("e1")));
  CreateMarket cmd = market("m1", "e1", {{"home", 2100}, {"away", 1909}});
  cmd.min_stake = Amount{100};
  cmd.max_stake = Amount{50'000};
  cmd.max_liability = Amount{1'000'000};
  Outcome o = b.apply(cmd);
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(b.sink.events.at(0).type, EventType::market_created);
  const Market& m = b.market_of("m1");
  EXPECT_EQ(m.status, MarketStatus::open);
  EXPECT_EQ(m.event.value, 0u);
  ASSERT_EQ(m.selections.size(), 2u);
  EXPECT_EQ(m.selections[0].id, "home");
  EXPECT_EQ(m.selections[0].odds.thousandths, 2100);
  EXPECT_EQ(m.selections[1].odds.thousandths, 1909);
  EXPECT_TRUE(m.selections[1].active);
  EXPECT_EQ(m.selections[1].liability.minor, 0);
  EXPECT_EQ(m.min_stake.minor, 100);
  EXPECT_EQ(m.max_stake.minor, 50'000);
  EXPECT_EQ(m.max_liability.minor, 1'000'000);

  EXPECT_TRUE(b.duplicate(cmd, 0));
  CreateMarket other = cmd;
  other.max_stake = Amount{50'001};
  EXPECT_TRUE(b.rejected(other, Code::conflict));
  other = cmd;
  other.selections[1].odds = Odds{1910};
  EXPECT_TRUE(b.rejected(other, Code::conflict));
}

TEST(Markets, CreateRejectsInvalidRequests) {
  Book b;
  ASSERT_TRUE(b.ok(event("e1")));
  const CreateMarket good = market("m1", "e1", {{"home", 2000}, {"away", 2000}});
  auto with = [&](auto change) {
    CreateMarket c = good;
    change(c);
    return c;
  };
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.market_id = ""; }), Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.event_id = "e 1"; }), Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.name = ""; }), Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.selections.clear(); }), Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) {
                           c.selections.clear();
                           for (int i = 0; i < 65; ++i) {
                             c.selections.push_back({"s" + std::to_string(i), "n", Odds{2000}});
                           }
                         }),
                         Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.selections[1].selection_id = "home"; }),
                         Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.selections[1].selection_id = "a b"; }),
                         Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.selections[1].name = ""; }), Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.selections[0].odds = Odds{1000}; }),
                         Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.selections[0].odds = Odds{1'000'001}; }),
                         Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.min_stake = Amount{0}; }), Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) {
                           c.min_stake = Amount{10};
                           c.max_stake = Amount{9};
                         }),
                         Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.max_stake = Amount{kAmountMax + 1}; }),
                         Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.max_liability = Amount{0}; }), Code::invalid_request));
  EXPECT_TRUE(b.rejected(with([](CreateMarket& c) { c.event_id = "no-such-event"; }), Code::not_found));
  EXPECT_TRUE(b.s().markets.empty());

  CreateMarket edge = with([](CreateMarket& c) {
    c.selections.clear();
    for (int i = 0; i < 64; ++i) c.selections.push_back({"s" + std::to_string(i), "n", Odds{1001}});
    c.selections[63].odds = Odds{1'000'000};
    c.min_stake = Amount{kAmountMax};
    c.max_stake = Amount{kAmountMax};
  });
  EXPECT_TRUE(b.ok(edge));
}

TEST(Prices, UpdateChangesOddsAllOrNothing) {
  Book b;
  b.standard();
  Outcome o = b.apply(prices("m1", {{"home", 2200}, {"away", 3800}}));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(b.sink.events.at(0).type, EventType::prices_updated);
  EXPECT_EQ(b.selection("m1", "home").odds.thousandths, 2200);
  EXPECT_EQ(b.selection("m1", "draw").odds.thousandths, 3500);
  EXPECT_EQ(b.selection("m1", "away").odds.thousandths, 3800);

  // One bad entry and nothing changes, not even the good entries before it.
  EXPECT_TRUE(b.rejected(prices("m1", {{"home", 2300}, {"away", 1000}}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(prices("m1", {{"home", 2300}, {"nope", 2000}}), Code::not_found));
  EXPECT_TRUE(b.rejected(prices("m1", {{"home", 2300}, {"home", 2400}}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(prices("m1", {{"home", 1'000'001}}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(prices("m1", {}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(prices("m9", {{"home", 2000}}), Code::not_found));
  EXPECT_EQ(b.selection("m1", "home").odds.thousandths, 2200);
}

TEST(Prices, CanTakeASelectionOutOfTheBook) {
  Book b;
  b.standard();
  UpdatePrices u = prices("m1", {{"draw", 3500}});
  u.prices[0].active = 0;
  ASSERT_TRUE(b.ok(u));
  EXPECT_FALSE(b.selection("m1", "draw").active);
  ASSERT_TRUE(b.ok(prices("m1", {{"draw", 3400}})));  // active absent: unchanged
  EXPECT_FALSE(b.selection("m1", "draw").active);
  u = prices("m1", {{"draw", 3400}});
  u.prices[0].active = 1;
  ASSERT_TRUE(b.ok(u));
  EXPECT_TRUE(b.selection("m1", "draw").active);
}

TEST(Prices, AllowedWhileSuspendedNotWhenClosedOrSettled) {
  Book b;
  b.standard();
  b.yes_no_market("m2", 1900);
  ASSERT_TRUE(b.ok(suspend("m1")));
  ASSERT_TRUE(b.ok(prices("m1", {{"home", 2500}})));
  ASSERT_TRUE(b.ok(close_market("m1")));
  EXPECT_TRUE(b.rejected(prices("m1", {{"home", 2600}}), Code::market_not_open));
  ASSERT_TRUE(b.ok(settle("m2", {{"yes", kWin}, {"no", kLose}})));
  EXPECT_TRUE(b.rejected(prices("m2", {{"yes", 2000}}), Code::market_not_open));
}

TEST(MarketStatus, SuspendResumeClose) {
  Book b;
  b.standard();
  Outcome o = b.apply(suspend("m1"));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(b.sink.events.at(0).type, EventType::market_suspended);
  EXPECT_EQ(b.market_of("m1").status, MarketStatus::suspended);
  EXPECT_EQ(b.market_of("m1").status_reason, "goal");
  // Repeating is harmless: same answer, no new event.
  o = b.apply(suspend("m1"));
  EXPECT_TRUE(o.ok());
  EXPECT_TRUE(b.sink.events.empty());

  o = b.apply(resume("m1"));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(b.sink.events.at(0).type, EventType::market_resumed);
  EXPECT_EQ(b.market_of("m1").status, MarketStatus::open);

  o = b.apply(close_market("m1"));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(b.sink.events.at(0).type, EventType::market_closed);
  EXPECT_EQ(b.market_of("m1").status, MarketStatus::closed);
  EXPECT_TRUE(b.ok(close_market("m1")));
  EXPECT_TRUE(b.rejected(resume("m1"), Code::conflict));
  EXPECT_TRUE(b.rejected(suspend("m1"), Code::conflict));

  ASSERT_TRUE(b.ok(settle("m1", {{"home", kWin}, {"draw", kLose}, {"away", kLose}})));
  EXPECT_EQ(b.market_of("m1").status, MarketStatus::settled);
  EXPECT_TRUE(b.rejected(close_market("m1"), Code::conflict));
  EXPECT_TRUE(b.rejected(resume("m1"), Code::conflict));
  EXPECT_TRUE(b.rejected(suspend("m1"), Code::conflict));
}

TEST(MarketStatus, RejectsUnknownMarketsAndLongReasons) {
  Book b;
  b.standard();
  EXPECT_TRUE(b.rejected(suspend("m9"), Code::not_found));
  ChangeMarketStatus c = suspend("m1");
  c.reason = std::string(257, 'r');
  EXPECT_TRUE(b.rejected(c, Code::invalid_request));
  c.action = static_cast<MarketAction>(9);
  c.reason = "";
  EXPECT_TRUE(b.rejected(c, Code::invalid_request));
}

TEST(MarketStatus, OnlyOpenMarketsTakeBets) {
  Book b;
  b.standard();
  const PlaceBet single = bet("b1", "alice", 100, {leg("m1", "home", 2000)});
  ASSERT_TRUE(b.ok(suspend("m1")));
  EXPECT_TRUE(b.rejected(single, Code::market_not_open));
  ASSERT_TRUE(b.ok(resume("m1")));
  ASSERT_TRUE(b.ok(single));
  ASSERT_TRUE(b.ok(close_market("m1")));
  EXPECT_TRUE(b.rejected(bet("b2", "alice", 100, {leg("m1", "home", 2000)}), Code::market_not_open));
  ASSERT_TRUE(b.ok(settle("m1", {{"home", kWin}, {"draw", kLose}, {"away", kLose}})));
  EXPECT_TRUE(b.rejected(bet("b2", "alice", 100, {leg("m1", "home", 2000)}), Code::market_not_open));
}

}  // namespace
}  // namespace betcore::domain
