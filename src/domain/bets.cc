// Placing singles and multiples: every check first, then one set of changes.
#include <array>
#include <span>
#include <string>

#include "domain/handlers.h"
#include "domain/ledger.h"
#include "domain/odds.h"

namespace betcore::domain {
namespace {

struct ResolvedLeg {
  MarketIdx market;
  uint16_t selection;
  Odds odds;  // the odds the bet takes
};

Outcome check_shape(const PlaceBet& cmd) {
  if (!valid_id(cmd.bet_id)) return reject(Code::invalid_request, "bet_id is not a valid id");
  if (!valid_id(cmd.account_id)) return reject(Code::invalid_request, "account_id is not a valid id");
  if (!amount_in_range(cmd.stake)) return reject(Code::invalid_request, "stake must be 1..10^13");
  if (cmd.legs.empty() || cmd.legs.size() > kLegsMax) {
    return reject(Code::invalid_request, "a bet needs 1 leg (single) or 2..20 legs (multiple)");
  }
  for (const LegSpec& leg : cmd.legs) {
    if (!valid_id(leg.market_id) || !valid_id(leg.selection_id)) {
      return reject(Code::invalid_request, "market_id and selection_id must be valid ids");
    }
    if (leg.odds.thousandths < kOddsMin || leg.odds.thousandths > kOddsMax) {
      return reject(Code::invalid_request, "odds must be 1.001..1000");
    }
  }
  return accept(0);
}

// Resolves one leg against the book, or says why not.
Outcome resolve_leg(const State& s, const PlaceBet& cmd, const LegSpec& spec, ResolvedLeg& out) {
  MarketIdx mi = s.market_ids.find(spec.market_id);
  if (!mi.valid()) return reject(Code::not_found, "no market " + quoted(spec.market_id));
  const Market& m = s.markets[mi.value];
  int sel = -1;
  for (size_t i = 0; i < m.selections.size(); ++i) {
    if (m.selections[i].id == spec.selection_id) {
      sel = static_cast<int>(i);
      break;
    }
  }
  if (sel < 0) {
    return reject(Code::not_found, "market " + quoted(spec.market_id) + " has no selection " +
                                       quoted(spec.selection_id));
  }
  if (m.status != MarketStatus::open) {
    return reject(Code::market_not_open, "market " + quoted(spec.market_id) + " is not open");
  }
  if (s.feed_silent(m)) {
    return reject(Code::market_not_open, "market " + quoted(spec.market_id) + " is suspended: its feed producer " +
                                             quoted(s.producers[m.producer.value].id) + " is silent");
  }
  const Selection& selection = m.selections[static_cast<size_t>(sel)];
  if (!selection.active) {
    return reject(Code::selection_not_active, "selection " + quoted(spec.selection_id) + " is not active");
  }
  Odds taken = spec.odds;
  if (selection.odds != spec.odds) {
    if (!(cmd.accept_better_odds && selection.odds > spec.odds)) {
      return reject(Code::odds_changed, "odds on " + quoted(spec.selection_id) + " are now " +
                                            format_odds(selection.odds));
    }
    taken = selection.odds;
  }
  if (cmd.stake < m.min_stake || cmd.stake > m.max_stake) {
    return reject(Code::stake_out_of_range, "stake must be " + std::to_string(m.min_stake.minor) +
                                                 ".." + std::to_string(m.max_stake.minor) +
                                                 " on market " + quoted(spec.market_id));
  }
  out = ResolvedLeg{mi, static_cast<uint16_t>(sel), taken};
  return accept(0);
}

// Books a bet every check has passed: the stake moves to in play, the
// account's open payouts and each selection's liability grow, and the bet and
// its legs are appended (the account's bet list links it first).
BetIdx record_bet(Ctx& c, AccountIdx ai, const PlaceBet& cmd, const HashedId& id,
                  std::span<const ResolvedLeg> legs, Odds odds, Amount payout) {
  State& s = c.s;
  Account& account = s.accounts[ai.value];
  const Amount win = payout - cmd.stake;
  const size_t n = legs.size();
  BetIdx bi{static_cast<uint32_t>(s.bets.size())};
  move(s, balance_of(ai), in_play_of(ai), cmd.stake);
  account.open_payouts += payout;
  Bet& bet = s.bets.emplace_back();
  bet.id = s.bet_ids.insert(id, bi);
  bet.account = ai;
  bet.legs_begin = static_cast<uint32_t>(s.legs.size());
  bet.leg_count = static_cast<uint8_t>(n);
  bet.stake = cmd.stake;
  bet.odds = odds;
  bet.potential_payout = payout;
  bet.placed_at = s.now;
  bet.index = s.applied;
  bet.fingerprint = c.fp;
  for (size_t i = 0; i < n; ++i) {
    Market& m = s.markets[legs[i].market.value];
    m.selections[legs[i].selection].liability += win;
    m.bets.push_back(bi.value);
    Leg& leg = s.legs.emplace_back();
    leg.market = legs[i].market;
    leg.selection = legs[i].selection;
    leg.odds_thousandths = static_cast<int32_t>(legs[i].odds.thousandths);
  }
  bet.prev_of_account = account.last_bet;
  account.last_bet = bi.value;
  ++account.bet_count;
  return bi;
}

}  // namespace

Outcome apply_place_bet(Ctx& c, const PlaceBet& cmd) {
  State& s = c.s;
  Outcome shape = check_shape(cmd);
  if (!shape.ok()) return shape;
  const HashedId id = s.bet_ids.hashed(cmd.bet_id);
  if (auto answer = remembered(s.bet_ids, s.bets, id, c.fp, "bet")) return *answer;
  AccountIdx ai = s.account_ids.find(cmd.account_id);
  if (!ai.valid()) return reject(Code::not_found, "no account " + quoted(cmd.account_id));
  Account& account = s.accounts[ai.value];
  if (s.self_excluded(account)) {
    return reject(Code::account_not_active, "account " + quoted(cmd.account_id) + " is self-excluded");
  }

  std::array<ResolvedLeg, kLegsMax> legs;
  const size_t n = cmd.legs.size();
  for (size_t i = 0; i < n; ++i) {
    Outcome leg = resolve_leg(s, cmd, cmd.legs[i], legs[i]);
    if (!leg.ok()) return leg;
    for (size_t j = 0; j < i; ++j) {
      if (legs[j].market == legs[i].market) {
        return reject(Code::duplicate_leg, "two legs on market " + quoted(cmd.legs[i].market_id));
      }
    }
  }

  Odds odds = legs[0].odds;
  if (n > 1) {
    std::array<int64_t, kLegsMax> f;
    for (size_t i = 0; i < n; ++i) f[i] = legs[i].odds.thousandths;
    auto combined = combine_odds(std::span<const int64_t>(f.data(), n));
    if (!combined) {
      return reject(Code::liability_exceeded, "combined odds are over the maximum of 100000");
    }
    odds = *combined;
  }
  const Amount payout = payout_of(cmd.stake, odds);
  const Amount win = payout - cmd.stake;  // what the book loses if it wins

  if (account.balance < cmd.stake) {
    return reject(Code::insufficient_funds, "balance " + std::to_string(account.balance.minor) +
                                                " is less than the stake " +
                                                std::to_string(cmd.stake.minor));
  }
  for (size_t i = 0; i < n; ++i) {
    const Market& m = s.markets[legs[i].market.value];
    const Selection& sel = m.selections[legs[i].selection];
    if (sel.liability.minor + win.minor > m.max_liability.minor) {
      return reject(Code::liability_exceeded, "the bet would take the liability on " +
                                                  quoted(sel.id) + " over the market maximum");
    }
  }
  if (account.balance.minor - cmd.stake.minor + account.open_payouts.minor + payout.minor >
      kExposureMax) {
    return reject(Code::liability_exceeded, "the account's potential payouts are over the maximum");
  }

  // Every check passed: change the state.
  const BetIdx bi = record_bet(c, ai, cmd, id, std::span<const ResolvedLeg>(legs.data(), n), odds, payout);
  c.emit(EventType::bet_placed, bi.value);
  return accept(bi.value);
}

}  // namespace betcore::domain
