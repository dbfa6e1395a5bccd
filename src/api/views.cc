#include "api/views.h"

#include "api/time_format.h"
#include "domain/odds.h"

namespace betcore::api {

using namespace betcore::domain;

std::string_view bet_status_name(BetStatus s) {
  switch (s) {
    case BetStatus::open: return "open";
    case BetStatus::won: return "won";
    case BetStatus::lost: return "lost";
    case BetStatus::void_: return "void";
  }
  return "unknown";
}

std::string_view market_status_name(MarketStatus s) {
  switch (s) {
    case MarketStatus::open: return "open";
    case MarketStatus::suspended: return "suspended";
    case MarketStatus::closed: return "closed";
    case MarketStatus::settled: return "settled";
  }
  return "unknown";
}

std::string_view withdrawal_status_name(WithdrawalStatus s) {
  switch (s) {
    case WithdrawalStatus::pending: return "pending";
    case WithdrawalStatus::completed: return "completed";
    case WithdrawalStatus::failed: return "failed";
  }
  return "unknown";
}

namespace {

std::string_view result_name(LegResult r) {
  switch (r) {
    case LegResult::pending: return "pending";
    case LegResult::win: return "win";
    case LegResult::lose: return "lose";
    case LegResult::void_: return "void";
  }
  return "unknown";
}

void write_account_fields(JsonWriter& w, const State& s, const Account& a, bool as_created) {
  w.field("account_id", a.id);
  w.field("currency", s.currencies[a.currency.value].code);
  bool excluded = !as_created && s.self_excluded(a);
  w.field("status", excluded ? "self_excluded" : "active");
  w.field_i64("balance", as_created ? 0 : a.balance.minor);
  w.field_i64("in_play", as_created ? 0 : a.in_play.minor);
  w.field_i64("pending_withdrawals", as_created ? 0 : a.pending_withdrawals.minor);
  w.field_i64("debt", as_created ? 0 : -a.receivable.minor);
  if (a.deposit_limit_24h.minor > 0) {
    w.field_i64("deposit_limit_24h", a.deposit_limit_24h.minor);
  } else {
    w.key("deposit_limit_24h").null();
  }
  if (!as_created && a.self_excluded_until.ms > 0) {
    w.field("self_excluded_until", format_rfc3339(a.self_excluded_until.ms));
  }
  w.field("created_at", format_rfc3339(a.created_at.ms));
}

}  // namespace

void write_account(JsonWriter& w, const State& s, const Account& a, int64_t index) {
  w.begin_object();
  write_account_fields(w, s, a, false);
  if (index >= 0) w.field_i64("index", index);
  w.end_object();
}

void write_new_account(JsonWriter& w, const State& s, const Account& a) {
  w.begin_object();
  write_account_fields(w, s, a, true);
  w.field_u64("index", a.created_index.value);
  w.end_object();
}

void write_event(JsonWriter& w, const Event& e) {
  w.begin_object();
  w.field("event_id", e.id);
  w.field("name", e.name);
  w.field("starts_at", format_rfc3339(e.starts_at.ms));
  w.field_u64("index", e.created_index.value);
  w.end_object();
}

void write_market(JsonWriter& w, const State& s, const Market& m, int64_t index) {
  w.begin_object();
  w.field("market_id", m.id);
  w.field("event_id", s.events[m.event.value].id);
  w.field("name", m.name);
  if (m.status == MarketStatus::open && s.feed_silent(m)) {
    // Open, but its feed went silent: bets are refused until it recovers.
    w.field("status", market_status_name(MarketStatus::suspended));
    w.field("status_reason", "feed producer '" + std::string(s.producers[m.producer.value].id) + "' is silent");
  } else {
    w.field("status", market_status_name(m.status));
    if (!m.status_reason.empty()) w.field("status_reason", m.status_reason);
  }
  if (m.producer.valid()) {
    w.key("feed").begin_object();
    w.field("producer", s.producers[m.producer.value].id);
    w.field_i64("source_ts", m.feed_ts);
    w.field_u64("source_seq", m.feed_seq);
    w.end_object();
  }
  w.field_i64("min_stake", m.min_stake.minor);
  w.field_i64("max_stake", m.max_stake.minor);
  w.field_i64("max_liability", m.max_liability.minor);
  w.key("selections").begin_array();
  for (const Selection& sel : m.selections) {
    w.begin_object();
    w.field("selection_id", sel.id);
    w.field("name", sel.name);
    w.field("odds", format_odds(sel.odds));
    w.field_bool("active", sel.active);
    w.field_i64("liability", sel.liability.minor);
    if (sel.result != LegResult::pending) w.field("result", result_name(sel.result));
    w.end_object();
  }
  w.end_array();
  if (m.status == MarketStatus::settled) {
    w.field_u64("settled_index", m.settled_index.value);
    w.field_u64("settlements", m.settlements);
  }
  if (index >= 0) w.field_i64("index", index);
  w.end_object();
}

void write_producer(JsonWriter& w, const State& s, const Producer& p) {
  w.begin_object();
  w.field("producer", p.id);
  w.field("status", s.producer_down(p) ? "down" : "up");
  w.field("alive_until", format_rfc3339(p.alive_until.ms));
  w.field_i64("limit_ms", p.limit_ms);
  w.field_u64("recoveries", p.recoveries);
  w.field_i64("source_ts", p.last_source_ts);
  w.end_object();
}

void write_bet(JsonWriter& w, const State& s, const Bet& b, bool as_placed) {
  w.begin_object();
  w.field("bet_id", b.id);
  w.field("account_id", s.accounts[b.account.value].id);
  w.field_i64("stake", b.stake.minor);
  w.field("odds", format_odds(b.odds));
  w.field_i64("potential_payout", b.potential_payout.minor);
  w.field("status", as_placed ? "open" : bet_status_name(b.status));
  if (!as_placed && b.status != BetStatus::open) w.field_i64("payout", b.payout.minor);
  w.field("type", b.leg_count == 1 ? "single" : "multiple");
  w.key("legs").begin_array();
  const Leg* legs = s.bet_legs(b);
  for (size_t i = 0; i < b.leg_count; ++i) {
    const Market& m = s.markets[legs[i].market.value];
    w.begin_object();
    w.field("market_id", m.id);
    w.field("selection_id", m.selections[legs[i].selection].id);
    w.field("odds", format_odds(Odds{legs[i].odds_thousandths}));
    if (!as_placed && legs[i].result != LegResult::pending) w.field("result", result_name(legs[i].result));
    w.end_object();
  }
  w.end_array();
  w.field("placed_at", format_rfc3339(b.placed_at.ms));
  w.field_u64("index", b.index.value);
  w.end_object();
}

void write_withdrawal(JsonWriter& w, const State& s, const Withdrawal& x, bool as_requested) {
  const WithdrawalStatus status = as_requested ? WithdrawalStatus::pending : x.status;
  w.begin_object();
  w.field("withdrawal_id", x.id);
  w.field("account_id", s.accounts[x.account.value].id);
  w.field_i64("amount", x.amount.minor);
  w.field("status", withdrawal_status_name(status));
  if (status == WithdrawalStatus::completed) w.field("gateway_ref", x.outcome_ref);
  if (status == WithdrawalStatus::failed) w.field("reason", x.outcome_ref);
  w.field("requested_at", format_rfc3339(x.requested_at.ms));
  w.field_u64("index", status == WithdrawalStatus::pending ? x.index.value : x.outcome_index.value);
  w.end_object();
}

void write_deposit(JsonWriter& w, const State& s, const DepositRecord& d) {
  w.begin_object();
  w.field("payment_ref", d.payment_ref);
  w.field("account_id", s.accounts[d.account.value].id);
  w.field_i64("amount", d.amount.minor);
  w.field_i64("balance", d.balance_after.minor);
  w.field("credited_at", format_rfc3339(d.at.ms));
  w.field_u64("index", d.index.value);
  w.end_object();
}

}  // namespace betcore::api
