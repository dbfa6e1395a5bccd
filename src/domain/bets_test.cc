// Placing singles and multiples (API.md, "Bets"): every rule that can refuse
// a bet, each with its code, and what an accepted bet moves.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "domain/testing/fixtures.h"

namespace betcore::domain {
namespace {

using namespace test;

TEST(Bets, ASingleMovesTheStakeIntoPlay) {
  Book b;
  b.standard(10'000);
  Outcome o = b.apply(bet("b1", "alice", 1000, {leg("m1", "draw", 3500)}));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(o.ref, 0u);
  ASSERT_EQ(b.sink.events.size(), 1u);
  EXPECT_EQ(b.sink.events[0].type, EventType::bet_placed);
  EXPECT_EQ(b.balance("alice"), 9000);
  EXPECT_EQ(b.in_play("alice"), 1000);
  EXPECT_EQ(b.account("alice").open_payouts.minor, 3500);
  const Bet& x = b.bet_of("b1");
  EXPECT_EQ(x.status, BetStatus::open);
  EXPECT_EQ(x.stake.minor, 1000);
  EXPECT_EQ(x.odds.thousandths, 3500);
  EXPECT_EQ(x.potential_payout.minor, 3500);
  EXPECT_EQ(x.leg_count, 1);
  EXPECT_EQ(x.placed_at.ms, kT0);
  EXPECT_EQ(b.s().bet_legs(x)[0].odds_thousandths, 3500);
  EXPECT_EQ(b.selection("m1", "draw").liability.minor, 2500);  // what the book would pay out net
  EXPECT_EQ(b.selection("m1", "home").liability.minor, 0);
  EXPECT_EQ(b.account("alice").bet_count, 1u);
  EXPECT_EQ(b.account("alice").last_bet, 0u);
  EXPECT_EQ(b.market_of("m1").bets, std::vector<uint32_t>{0});
  EXPECT_EQ(b.house(), 0);
}

TEST(Bets, PotentialPayoutIsTheFloorOfStakeTimesOdds) {
  Book b;
  b.standard(10'000);
  ASSERT_TRUE(b.ok(prices("m1", {{"home", 1333}})));
  ASSERT_TRUE(b.ok(bet("b1", "alice", 333, {leg("m1", "home", 1333)})));
  EXPECT_EQ(b.bet_of("b1").potential_payout.minor, 443);  // 443.889
  ASSERT_TRUE(b.ok(bet("b2", "alice", 1, {leg("m1", "home", 1333)})));
  EXPECT_EQ(b.bet_of("b2").potential_payout.minor, 1);  // 1.333
}

TEST(Bets, RejectInvalidRequests) {
  Book b;
  b.standard(10'000);
  const LegSpec ok_leg = leg("m1", "home", 2000);
  EXPECT_TRUE(b.rejected(bet("", "alice", 100, {ok_leg}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(bet(std::string(65, 'b'), "alice", 100, {ok_leg}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(bet("b1", "al ice", 100, {ok_leg}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 0, {ok_leg}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", -5, {ok_leg}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", kAmountMax + 1, {ok_leg}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m1", "home", 1000)}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m1", "home", 1'000'001)}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("", "home", 2000)}), Code::invalid_request));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m1", "ho me", 2000)}), Code::invalid_request));
  std::vector<LegSpec> many;
  for (int i = 0; i < 21; ++i) many.push_back(leg("m" + std::to_string(i), "yes", 2000));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, many), Code::invalid_request));
  EXPECT_TRUE(b.s().bets.empty());
}

TEST(Bets, RejectUnknownAccountsMarketsAndSelections) {
  Book b;
  b.standard(10'000);
  EXPECT_TRUE(b.rejected(bet("b1", "nobody", 100, {leg("m1", "home", 2000)}), Code::not_found));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m9", "home", 2000)}), Code::not_found));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m1", "nope", 2000)}), Code::not_found));
  b.yes_no_market("m2", 2000);
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m2", "yes", 2000), leg("m9", "yes", 2000)}),
                         Code::not_found));
}

TEST(Bets, NeedTheStakeInTheBalance) {
  Book b;
  b.standard(1000);
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 1001, {leg("m1", "home", 2000)}), Code::insufficient_funds));
  ASSERT_TRUE(b.ok(bet("b1", "alice", 1000, {leg("m1", "home", 2000)})));
  EXPECT_TRUE(b.rejected(bet("b2", "alice", 1, {leg("m1", "home", 2000)}), Code::insufficient_funds));
  ASSERT_TRUE(b.ok(open_account("bob")));
  EXPECT_TRUE(b.rejected(bet("b2", "bob", 1, {leg("m1", "home", 2000)}), Code::insufficient_funds));
}

TEST(Bets, OddsMustMatchUnlessBetterOddsAreAccepted) {
  Book b;
  b.standard(10'000);
  ASSERT_TRUE(b.ok(prices("m1", {{"home", 2100}})));
  // Current 2.1 is better than the 2.0 the punter saw.
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m1", "home", 2000)}, false), Code::odds_changed));
  Outcome o = b.apply(bet("b1", "alice", 100, {leg("m1", "home", 2000)}, true));
  ASSERT_TRUE(o.ok()) << o.message;
  EXPECT_EQ(b.bet_of("b1").odds.thousandths, 2100);  // the bet gets the current odds
  EXPECT_EQ(b.bet_of("b1").potential_payout.minor, 210);
  EXPECT_EQ(b.s().bet_legs(b.bet_of("b1"))[0].odds_thousandths, 2100);
  EXPECT_EQ(b.selection("m1", "home").liability.minor, 110);

  // Current 2.1 is worse than the 2.2 the punter saw: refused either way.
  EXPECT_TRUE(b.rejected(bet("b2", "alice", 100, {leg("m1", "home", 2200)}, false), Code::odds_changed));
  EXPECT_TRUE(b.rejected(bet("b2", "alice", 100, {leg("m1", "home", 2200)}, true), Code::odds_changed));
  // Equal odds are taken with or without the flag.
  EXPECT_TRUE(b.ok(bet("b2", "alice", 100, {leg("m1", "home", 2100)}, false)));
  EXPECT_TRUE(b.ok(bet("b3", "alice", 100, {leg("m1", "home", 2100)}, true)));
}

TEST(Bets, BetterOddsOnOneLegOfAMultiple) {
  Book b;
  b.standard(10'000);
  b.yes_no_market("m2", 1500);
  ASSERT_TRUE(b.ok(prices("m2", {{"yes", 1600}})));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 1000, {leg("m1", "home", 2000), leg("m2", "yes", 1500)}),
                         Code::odds_changed));
  ASSERT_TRUE(b.ok(bet("b1", "alice", 1000, {leg("m1", "home", 2000), leg("m2", "yes", 1500)}, true)));
  EXPECT_EQ(b.bet_of("b1").odds.thousandths, 3200);
  EXPECT_EQ(b.bet_of("b1").potential_payout.minor, 3200);
}

TEST(Bets, SelectionMustBeActive) {
  Book b;
  b.standard(10'000);
  UpdatePrices u = prices("m1", {{"draw", 3500}});
  u.prices[0].active = 0;
  ASSERT_TRUE(b.ok(u));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m1", "draw", 3500)}), Code::selection_not_active));
  EXPECT_TRUE(b.ok(bet("b1", "alice", 100, {leg("m1", "home", 2000)})));
}

TEST(Bets, StakeMustBeWithinTheMarketLimits) {
  Book b;
  b.standard(100'000);
  CreateMarket m = market("m2", "e1", {{"yes", 2000}, {"no", 2000}});
  m.min_stake = Amount{100};
  m.max_stake = Amount{5000};
  ASSERT_TRUE(b.ok(m));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 99, {leg("m2", "yes", 2000)}), Code::stake_out_of_range));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 5001, {leg("m2", "yes", 2000)}), Code::stake_out_of_range));
  // A multiple's stake must be within every leg's market limits.
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 99, {leg("m1", "home", 2000), leg("m2", "yes", 2000)}),
                         Code::stake_out_of_range));
  EXPECT_TRUE(b.ok(bet("b1", "alice", 100, {leg("m2", "yes", 2000)})));
  EXPECT_TRUE(b.ok(bet("b2", "alice", 5000, {leg("m2", "yes", 2000)})));
}

TEST(Bets, LiabilityPerSelectionAccumulatesUpToTheMarketMaximum) {
  Book b;
  b.standard(100'000);
  CreateMarket m = market("m2", "e1", {{"yes", 2000}, {"no", 2000}});
  m.max_liability = Amount{1000};
  ASSERT_TRUE(b.ok(m));
  ASSERT_TRUE(b.ok(bet("b1", "alice", 600, {leg("m2", "yes", 2000)})));
  EXPECT_EQ(b.selection("m2", "yes").liability.minor, 600);
  EXPECT_TRUE(b.rejected(bet("b2", "alice", 401, {leg("m2", "yes", 2000)}), Code::liability_exceeded));
  ASSERT_TRUE(b.ok(bet("b2", "alice", 400, {leg("m2", "yes", 2000)})));  // exactly the maximum
  EXPECT_EQ(b.selection("m2", "yes").liability.minor, 1000);
  EXPECT_TRUE(b.rejected(bet("b3", "alice", 1, {leg("m2", "yes", 2000)}), Code::liability_exceeded));
  // Per selection: the other side has its own room.
  ASSERT_TRUE(b.ok(bet("b3", "alice", 1000, {leg("m2", "no", 2000)})));
  EXPECT_EQ(b.selection("m2", "no").liability.minor, 1000);
  // A multiple counts its whole potential win against every leg's selection.
  EXPECT_TRUE(b.rejected(bet("b4", "alice", 10, {leg("m1", "home", 2000), leg("m2", "no", 2000)}),
                         Code::liability_exceeded));
  ASSERT_TRUE(b.ok(bet("b4", "alice", 10, {leg("m1", "home", 2000)})));
  EXPECT_EQ(b.selection("m1", "home").liability.minor, 10);

  // Settlement frees it.
  ASSERT_TRUE(b.ok(settle("m2", {{"yes", kLose}, {"no", kWin}})));
  EXPECT_EQ(b.selection("m2", "yes").liability.minor, 0);
  EXPECT_EQ(b.selection("m2", "no").liability.minor, 0);
}

TEST(Bets, CombinedOddsOverTheCapAreRefused) {
  Book b;
  b.standard(100'000);
  b.yes_no_market("m2", 100'000);     // 100.0
  b.yes_no_market("m3", 1'000'000);   // 1000.0
  b.yes_no_market("m4", 100'001);     // 100.001
  // 100 x 1000 = 100000: exactly the cap.
  ASSERT_TRUE(b.ok(bet("b1", "alice", 1, {leg("m2", "yes", 100'000), leg("m3", "yes", 1'000'000)})));
  EXPECT_EQ(b.bet_of("b1").odds.thousandths, kCombinedOddsMax);
  EXPECT_EQ(b.bet_of("b1").potential_payout.minor, 100'000);
  EXPECT_TRUE(b.rejected(bet("b2", "alice", 1, {leg("m4", "yes", 100'001), leg("m3", "yes", 1'000'000)}),
                         Code::liability_exceeded));
}

TEST(Bets, SelfExcludedAccountsAreNotActive) {
  Book b;
  b.standard(10'000);
  ASSERT_TRUE(b.ok(exclude("alice", kT0 + kHourMs)));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m1", "home", 2000)}), Code::account_not_active));
  b.at(kT0 + kHourMs);
  EXPECT_TRUE(b.ok(bet("b1", "alice", 100, {leg("m1", "home", 2000)})));
}

TEST(Bets, AMultipleNeedsDifferentMarkets) {
  Book b;
  b.standard(10'000);
  b.yes_no_market("m2", 2000);
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m1", "home", 2000), leg("m1", "away", 4000)}),
                         Code::duplicate_leg));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100, {leg("m1", "home", 2000), leg("m1", "home", 2000)}),
                         Code::duplicate_leg));
  EXPECT_TRUE(b.rejected(bet("b1", "alice", 100,
                             {leg("m2", "yes", 2000), leg("m1", "home", 2000), leg("m2", "no", 2000)}),
                         Code::duplicate_leg));
}

TEST(Bets, AMultipleTakesTheFloorOfTheProductOfItsOdds) {
  Book b;
  b.standard(1'000'000);
  b.yes_no_market("m2", 1333);
  b.yes_no_market("m3", 1333);
  b.yes_no_market("m4", 1333);
  Outcome o = b.apply(bet("b1", "alice", 100'000,
                          {leg("m2", "yes", 1333), leg("m3", "no", 1333), leg("m4", "yes", 1333)}));
  ASSERT_TRUE(o.ok()) << o.message;
  const Bet& x = b.bet_of("b1");
  // 1.333^3 = 2.368593037: 2.368 exactly floored (stepwise flooring would
  // give 1.776 x 1.333 = 2.367).
  EXPECT_EQ(x.odds.thousandths, 2368);
  EXPECT_EQ(x.potential_payout.minor, 236'800);
  EXPECT_EQ(x.leg_count, 3);
  EXPECT_EQ(b.balance("alice"), 900'000);
  EXPECT_EQ(b.in_play("alice"), 100'000);
  for (const char* m : {"m2", "m3", "m4"}) {
    EXPECT_EQ(b.market_of(m).bets, std::vector<uint32_t>{0}) << m;
  }
  EXPECT_EQ(b.selection("m2", "yes").liability.minor, 136'800);
  EXPECT_EQ(b.selection("m3", "no").liability.minor, 136'800);
  EXPECT_EQ(b.selection("m3", "yes").liability.minor, 0);
}

TEST(Bets, AMultipleHasAtMostTwentyLegs) {
  Book b;
  b.standard(10'000);
  std::vector<LegSpec> legs;
  for (int i = 0; i < 20; ++i) {
    std::string id = "mm" + std::to_string(i);
    b.yes_no_market(id, 1001);
    legs.push_back(leg(id, "yes", 1001));
  }
  ASSERT_TRUE(b.ok(bet("b20", "alice", 1000, legs)));
  EXPECT_EQ(b.bet_of("b20").leg_count, 20);
  EXPECT_EQ(b.bet_of("b20").odds.thousandths, 1020);  // 1.001^20 = 1.0202...
  b.yes_no_market("mm20", 1001);
  legs.push_back(leg("mm20", "yes", 1001));
  EXPECT_TRUE(b.rejected(bet("b21", "alice", 1000, legs), Code::invalid_request));
}

TEST(Bets, SameIdSameBodyIsTheFirstAnswerDifferentBodyIsConflict) {
  Book b;
  b.standard(10'000);
  ASSERT_TRUE(b.ok(bet("b0", "alice", 50, {leg("m1", "away", 4000)})));
  const PlaceBet first = bet("b1", "alice", 1000, {leg("m1", "home", 2000)});
  ASSERT_TRUE(b.ok(first));
  EXPECT_TRUE(b.duplicate(first, 1));
  EXPECT_EQ(b.balance("alice"), 10'000 - 50 - 1000);  // debited once
  // The retry gets the first answer even when the bet could not be placed now.
  ASSERT_TRUE(b.ok(prices("m1", {{"home", 1800}})));
  ASSERT_TRUE(b.ok(suspend("m1")));
  EXPECT_TRUE(b.duplicate(first, 1));

  PlaceBet other = first;
  other.stake = Amount{1001};
  EXPECT_TRUE(b.rejected(other, Code::conflict));
  other = first;
  other.legs[0].odds = Odds{1800};
  EXPECT_TRUE(b.rejected(other, Code::conflict));
  other = first;
  other.accept_better_odds = true;
  EXPECT_TRUE(b.rejected(other, Code::conflict));
  other = first;
  other.legs[0].selection_id = "draw";
  EXPECT_TRUE(b.rejected(other, Code::conflict));
}

}  // namespace
}  // namespace betcore::domain
