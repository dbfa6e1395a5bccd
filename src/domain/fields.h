// Each command's and each state row's fields, written down once, in their
// stored order. The command codec, the snapshot writer and reader and the
// request fingerprint are visitors of these lists: adding a field or a
// command means adding it here (and its rules in the handlers), never
// editing four switches that must agree byte for byte.
//
// A visitor `v` is called as `v(field, Rule{...})` for every field, in
// order; a list is one call with the whole std::vector, and the visitor
// walks its elements with describe() again. The order and the rules are
// the formats: src/codec/testdata pins every byte they produce.
#pragma once

#include <concepts>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "domain/commands.h"
#include "domain/state.h"

namespace betcore::domain {

// What a field is beyond its type.
struct Rule {
  // kHashedLast, kOptionalTrailing and kNotHashed apply to a command's own
  // fields, never to fields of list elements (the hasher's second pass and
  // the record's end are the command's); kOptionalTrailing only on the
  // command's last field.
  enum Flag : uint8_t {
    kNone = 0,
    // Not part of the request's fingerprint: a client id of the request
    // itself, or a mode that does not make it another request.
    kNotHashed = 1,
    // Hashed after all other fields (it joined the fingerprint after them).
    kHashedLast = 2,
    // The record's last field, written only when not empty (a string) or
    // not 0 (an int64_t): it joined the format after records without it
    // were logged; hashed only when not empty, so records without it keep
    // their bytes and fingerprints.
    kOptionalTrailing = 4,
    // A list hashed in the order of its elements' set_key(), so a retry
    // that lists the same elements in another order is the same request.
    kHashedAsSet = 8,
  };
  uint8_t flags = kNone;
  // A small integer's valid values (an enum's, for one whose type alone
  // does not say): stored as one byte, anything else is refused on reading.
  int64_t min = 0;
  int64_t max = -1;  // max < min: the type's own range (enum_range below)
};

// One-byte enums: the values a reader accepts.
template <class E>
struct EnumRange;
template <> struct EnumRange<MarketAction> { static constexpr int64_t min = 1, max = 3; };
template <> struct EnumRange<LegResult> { static constexpr int64_t min = 0, max = 3; };
template <> struct EnumRange<MarketStatus> { static constexpr int64_t min = 0, max = 3; };
template <> struct EnumRange<BetStatus> { static constexpr int64_t min = 0, max = 3; };
template <> struct EnumRange<WithdrawalStatus> { static constexpr int64_t min = 0, max = 2; };
// A remembered refusal's code: never ok.
template <> struct EnumRange<Code> { static constexpr int64_t min = 1, max = static_cast<int64_t>(Code::last); };

// `C` is `T` or `const T`: one description serves writing and reading.
template <class C, class T>
concept Is = std::same_as<std::remove_const_t<C>, T>;

// ---- commands ----------------------------------------------------------------

template <class V, Is<CreateAccount> C>
void describe(V& v, C& c) {
  v(c.account_id);
  v(c.currency);
  v(c.deposit_limit_24h);
}

template <class V, Is<SetSelfExclusion> C>
void describe(V& v, C& c) {
  v(c.account_id);
  v(c.until);
}

template <class V, Is<Deposit> C>
void describe(V& v, C& c) {
  v(c.payment_ref);
  v(c.account_id);
  v(c.amount);
}

template <class V, Is<RequestWithdrawal> C>
void describe(V& v, C& c) {
  v(c.withdrawal_id);
  v(c.account_id);
  v(c.amount);
}

template <class V, Is<CompleteWithdrawal> C>
void describe(V& v, C& c) {
  v(c.withdrawal_id);
  v(c.gateway_ref);
}

template <class V, Is<FailWithdrawal> C>
void describe(V& v, C& c) {
  v(c.withdrawal_id);
  v(c.reason);
}

template <class V, Is<CreateEvent> C>
void describe(V& v, C& c) {
  v(c.event_id);
  v(c.name);
  v(c.starts_at);
}

template <class V, Is<SelectionSpec> C>
void describe(V& v, C& c) {
  v(c.selection_id);
  v(c.name);
  v(c.odds);
}

template <class V, Is<CreateMarket> C>
void describe(V& v, C& c) {
  v(c.market_id);
  v(c.event_id);
  v(c.name);
  v(c.selections);
  v(c.min_stake);
  v(c.max_stake);
  v(c.max_liability);
  v(c.producer_id, Rule{.flags = Rule::kOptionalTrailing});
}

template <class V, Is<PriceSpec> C>
void describe(V& v, C& c) {
  v(c.selection_id);
  v(c.odds);
  v(c.active, Rule{.min = -1, .max = 1});  // -1 unchanged, 0 inactive, 1 active
}

template <class V, Is<UpdatePrices> C>
void describe(V& v, C& c) {
  v(c.market_id);
  v(c.prices);
  v(c.request_id, Rule{.flags = Rule::kNotHashed | Rule::kOptionalTrailing});
}

template <class V, Is<ChangeMarketStatus> C>
void describe(V& v, C& c) {
  v(c.market_id);
  v(c.action);
  v(c.reason);
  v(c.request_id, Rule{.flags = Rule::kNotHashed | Rule::kOptionalTrailing});
}

template <class V, Is<LegSpec> C>
void describe(V& v, C& c) {
  v(c.market_id);
  v(c.selection_id);
  v(c.odds);
}

template <class V, Is<PlaceBet> C>
void describe(V& v, C& c) {
  v(c.bet_id);
  v(c.account_id);
  v(c.stake);
  v(c.accept_better_odds, Rule{.flags = Rule::kHashedLast});
  v(c.legs);
}

template <class V, Is<ResultSpec> C>
void describe(V& v, C& c) {
  v(c.selection_id);
  v(c.result);
}
inline std::string_view set_key(const ResultSpec& r) { return r.selection_id; }

template <class V, Is<SettleMarket> C>
void describe(V& v, C& c) {
  v(c.market_id);
  // A settle retried as a resettle with the same results is the same request.
  v(c.resettle, Rule{.flags = Rule::kNotHashed});
  v(c.results, Rule{.flags = Rule::kHashedAsSet});
  v(c.request_id, Rule{.flags = Rule::kNotHashed | Rule::kOptionalTrailing});
}

template <class V, Is<FeedAlive> C>
void describe(V& v, C& c) {
  v(c.producer_id);
  v(c.limit_ms);
  v(c.recovered);
  // Joined 2026-12 (docs/simulation.md, finding 6): absent in older logs.
  v(c.source_ts, Rule{.flags = Rule::kOptionalTrailing});
}

template <class V, Is<FeedPrices> C>
void describe(V& v, C& c) {
  v(c.market_id);
  v(c.producer_id);
  v(c.source_ts);
  v(c.source_seq);
  v(c.prices);
}

// ---- state rows (the snapshot) -----------------------------------------------
//
// Only what cannot be derived: each table's id (a std::string_view into the
// id table) comes first; the chains and back-references the reader rebuilds
// (Account::last_bet and bet_count, Bet::prev_of_account, Market::bets) are
// not listed. Typed indices (AccountIdx, ...) are checked by the reader
// against their table.

template <class V, Is<CurrencyBook> C>
void describe(V& v, C& c) {
  v(c.code);
  v(c.house);
  v(c.world);
  v(c.deposits_total);
  v(c.withdrawals_completed_total);
}

template <class V, Is<Account> C>
void describe(V& v, C& a) {
  v(a.id);
  v(a.currency);
  v(a.balance);
  v(a.in_play);
  v(a.pending_withdrawals);
  v(a.receivable);
  v(a.open_payouts);
  v(a.deposit_limit_24h);
  v(a.self_excluded_until);
  v(a.created_at);
  v(a.created_index);
  v(a.fingerprint);
}

template <class V, Is<Event> C>
void describe(V& v, C& e) {
  v(e.id);
  v(e.name);
  v(e.starts_at);
  v(e.created_index);
  v(e.fingerprint);
}

template <class V, Is<Selection> C>
void describe(V& v, C& s) {
  v(s.id);
  v(s.name);
  v(s.odds);
  v(s.active);
  v(s.result);
  v(s.liability);
}

template <class V, Is<Market> C>
void describe(V& v, C& m) {
  v(m.id);
  v(m.event);
  v(m.name);
  v(m.status);
  v(m.min_stake);
  v(m.max_stake);
  v(m.max_liability);
  v(m.status_reason);
  v(m.created_index);
  v(m.fingerprint);
  v(m.settle_fingerprint);
  v(m.settled_index);
  v(m.settled_bets);
  v(m.settlements);
  v(m.selections);
}

template <class V, Is<Leg> C>
void describe(V& v, C& l) {
  v(l.market);
  v(l.selection);
  v(l.result);
  v(l.odds_thousandths);
}

template <class V, Is<Bet> C>
void describe(V& v, C& b) {
  v(b.id);
  v(b.account);
  v(b.legs_begin);
  v(b.leg_count);
  v(b.status);
  v(b.settlements);
  v(b.stake);
  v(b.odds);
  v(b.potential_payout);
  v(b.payout);
  v(b.placed_at);
  v(b.index);
  v(b.fingerprint);
}

template <class V, Is<DepositRecord> C>
void describe(V& v, C& d) {
  v(d.payment_ref);
  v(d.account);
  v(d.amount);
  v(d.balance_after);
  v(d.at);
  v(d.index);
  v(d.fingerprint);
}

template <class V, Is<Withdrawal> C>
void describe(V& v, C& x) {
  v(x.id);
  v(x.account);
  v(x.amount);
  v(x.status);
  v(x.outcome_ref);
  v(x.requested_at);
  v(x.outcome_at);
  v(x.index);
  v(x.outcome_index);
  v(x.fingerprint);
  v(x.outcome_fingerprint);
}

template <class V, Is<DepositWindowEntry> C>
void describe(V& v, C& e) {
  v(e.at);
  v(e.amount);
}

template <class V, Is<Producer> C>
void describe(V& v, C& p) {
  v(p.id);
  v(p.alive_until);
  v(p.limit_ms);
  v(p.recoveries);
  v(p.created_index);
}

template <class V, Is<RequestRecord> C>
void describe(V& v, C& r) {
  v(r.fingerprint);
  v(r.ref);
  v(r.count);
}

template <class V, Is<RejectedRecord> C>
void describe(V& v, C& r) {
  v(r.fingerprint);
  v(r.code);
  v(r.message);
}

}  // namespace betcore::domain
