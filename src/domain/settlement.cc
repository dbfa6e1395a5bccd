// Settlement and resettlement. A single settles with its market; a multiple
// settles when its last leg does (void legs count at odds 1). Every
// settlement moves the stake from in_play to the house and pays the payout
// from the house into the balance; resettlement first reverses exactly that.
#include <array>
#include <string>

#include "domain/handlers.h"
#include "domain/ledger.h"
#include "domain/odds.h"

namespace betcore::domain {
namespace {

Outcome check_results(const Market& m, const SettleMarket& cmd,
                      std::array<LegResult, kSelectionsMax>& by_selection) {
  if (cmd.results.size() != m.selections.size()) {
    return reject(Code::invalid_request, "results must name every selection of the market exactly once (" +
                                             std::to_string(m.selections.size()) + ")");
  }
  by_selection.fill(LegResult::pending);
  for (const ResultSpec& r : cmd.results) {
    if (r.result != LegResult::win && r.result != LegResult::lose && r.result != LegResult::void_) {
      return reject(Code::invalid_request, "result must be win, lose or void");
    }
    int sel = -1;
    for (size_t i = 0; i < m.selections.size(); ++i) {
      if (m.selections[i].id == r.selection_id) sel = static_cast<int>(i);
    }
    if (sel < 0) {
      return reject(Code::not_found, "market " + quoted(m.id) + " has no selection " + quoted(r.selection_id));
    }
    if (by_selection[static_cast<size_t>(sel)] != LegResult::pending) {
      return reject(Code::invalid_request, "selection " + quoted(r.selection_id) + " appears twice");
    }
    by_selection[static_cast<size_t>(sel)] = r.result;
  }
  return accept(0);
}

// What a bet whose legs all have results pays into the balance.
Amount payout_for(const State& s, const Bet& bet, BetStatus& status) {
  const Leg* legs = s.bet_legs(bet);
  if (bet.leg_count == 1) {
    switch (legs[0].result) {
      case LegResult::win: status = BetStatus::won; return bet.potential_payout;
      case LegResult::void_: status = BetStatus::void_; return bet.stake;
      default: status = BetStatus::lost; return Amount{0};
    }
  }
  std::array<int64_t, kLegsMax> f;
  bool all_void = true;
  for (size_t i = 0; i < bet.leg_count; ++i) {
    if (legs[i].result == LegResult::lose) {
      status = BetStatus::lost;
      return Amount{0};
    }
    bool is_void = legs[i].result == LegResult::void_;
    all_void = all_void && is_void;
    f[i] = is_void ? kOddsOne : legs[i].odds_thousandths;
  }
  if (all_void) {
    status = BetStatus::void_;
    return bet.stake;
  }
  status = BetStatus::won;
  // Never above the bet's own combined odds, so never over the cap.
  auto odds = combine_odds(std::span<const int64_t>(f.data(), bet.leg_count));
  BETCORE_ASSERT(odds.has_value());
  return payout_of(bet.stake, *odds);
}

void adjust_liability(State& s, const Bet& bet, int sign) {
  const Amount win = bet.potential_payout - bet.stake;
  const Leg* legs = s.bet_legs(bet);
  for (size_t i = 0; i < bet.leg_count; ++i) {
    Selection& sel = s.markets[legs[i].market.value].selections[legs[i].selection];
    sel.liability.minor += sign * win.minor;
  }
}

void settle_bet(Ctx& c, BetIdx bi) {
  State& s = c.s;
  Bet& bet = s.bets[bi.value];
  BETCORE_ASSERT(bet.status == BetStatus::open);
  BetStatus status = BetStatus::lost;
  Amount payout = payout_for(s, bet, status);
  Account& a = s.accounts[bet.account.value];
  move(s, in_play_of(bet.account), house_of(a.currency), bet.stake);
  pay_into_balance(s, house_of(a.currency), bet.account, payout);
  adjust_liability(s, bet, -1);
  a.open_payouts -= bet.potential_payout;
  bet.status = status;
  bet.payout = payout;
  if (bet.settlements < UINT8_MAX) ++bet.settlements;  // a count for people; saturates
  c.emit(EventType::bet_settled, bi.value);
}

// Exactly reverses settle_bet's money: the bet is open again.
void unsettle_bet(Ctx& c, BetIdx bi) {
  State& s = c.s;
  Bet& bet = s.bets[bi.value];
  BETCORE_ASSERT(bet.status != BetStatus::open);
  Account& a = s.accounts[bet.account.value];
  take_from_balance(s, bet.account, house_of(a.currency), bet.payout);
  move(s, house_of(a.currency), in_play_of(bet.account), bet.stake);
  adjust_liability(s, bet, +1);
  a.open_payouts += bet.potential_payout;
  bet.status = BetStatus::open;
  bet.payout = Amount{0};
}

bool all_legs_have_results(const State& s, const Bet& bet) {
  const Leg* legs = s.bet_legs(bet);
  for (size_t i = 0; i < bet.leg_count; ++i) {
    if (legs[i].result == LegResult::pending) return false;
  }
  return true;
}

Leg& leg_on(State& s, const Bet& bet, MarketIdx market) {
  Leg* legs = s.bet_legs(bet);
  for (size_t i = 0; i < bet.leg_count; ++i) {
    if (legs[i].market == market) return legs[i];
  }
  BETCORE_ASSERT_MSG(false, "bet listed on a market it has no leg on");
}

}  // namespace

Outcome apply_settle(Ctx& c, const SettleMarket& cmd) {
  State& s = c.s;
  MarketIdx mi = s.market_ids.find(cmd.market_id);
  if (!mi.valid()) return reject(Code::not_found, "no market " + quoted(cmd.market_id));
  Market& m = s.markets[mi.value];
  std::array<LegResult, kSelectionsMax> results;
  Outcome checked = check_results(m, cmd, results);
  if (!checked.ok()) return checked;

  const bool settled = m.status == MarketStatus::settled;
  if (!cmd.resettle && settled) {
    if (m.settle_fingerprint == c.fp) {
      Outcome o = accept(mi.value, true);
      o.count = m.settled_bets;
      return o;
    }
    return reject(Code::conflict, "market " + quoted(cmd.market_id) +
                                      " is already settled with other results; use resettle");
  }
  if (cmd.resettle && !settled) {
    return reject(Code::conflict, "market " + quoted(cmd.market_id) + " is not settled; settle it first");
  }
  if (cmd.resettle && m.settle_fingerprint == c.fp) {
    // Same results as now: a retry of this resettlement (or a no-op).
    Outcome o = accept(mi.value, true);
    o.count = m.settled_bets;
    return o;
  }

  uint32_t settled_bets = 0;
  for (uint32_t b : m.bets) {
    BetIdx bi{b};
    if (cmd.resettle && s.bets[b].status != BetStatus::open) unsettle_bet(c, bi);
    Bet& bet = s.bets[b];
    Leg& leg = leg_on(s, bet, mi);
    leg.result = results[leg.selection];
    if (bet.status == BetStatus::open && all_legs_have_results(s, bet)) {
      settle_bet(c, bi);
      ++settled_bets;
    }
  }
  for (size_t i = 0; i < m.selections.size(); ++i) m.selections[i].result = results[i];
  m.status = MarketStatus::settled;
  m.settle_fingerprint = c.fp;
  m.settled_index = s.applied;
  m.settled_bets = settled_bets;
  ++m.settlements;
  c.emit(cmd.resettle ? EventType::market_resettled : EventType::market_settled, mi.value);
  Outcome o = accept(mi.value);
  o.count = settled_bets;
  return o;
}

}  // namespace betcore::domain
