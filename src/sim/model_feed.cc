// The model's odds feed (model.h), written from the rules in
// docs/integrations.md ("Failing safe") and the API notes, not from
// src/domain/feed.cc:
// - an alive creates its producer, or keeps it up until
//   min(batch time, its stamp + 1 s) + limit; a producer whose deadline has
//   passed is down, and only an alive saying recovered=true, stamped after it
//   went down, brings it back (others are refused with 409); an alive not
//   stamped after the producer's last one changes nothing (a duplicate);
// - a price change applies only if its (source_ts, source_seq) is after the
//   market's last one; otherwise it is answered as a duplicate that changed
//   nothing (applied: false);
// - bets on a market whose producer is down are refused (model.cc, PlaceBet).
#include <algorithm>
#include <limits>

#include "sim/model.h"

namespace betcore::sim {

using domain::Code;

namespace {

constexpr int64_t kLimitMinMs = 1'000;          // FeedAlive.limit_ms: 1,000 .. 600,000
constexpr int64_t kLimitMaxMs = 600'000;
constexpr int64_t kSourceAheadMaxMs = 3'600'000;  // a provider's stamp at most an hour ahead
constexpr int64_t kAliveLagMaxMs = 1'000;          // an alive counts from at most its stamp + this
constexpr size_t kPricesMax = 64;                  // one per selection at most
constexpr int64_t kOddsMinThousandths = 1'001;     // 1.001 .. 1000
constexpr int64_t kOddsMaxThousandths = 1'000'000;

ModelAnswer refuse(Code c) { return ModelAnswer{c, false, 0}; }

// now + ms, saturating (a node's clock may be anything).
int64_t plus(int64_t now_ms, int64_t ms) {
  return now_ms > std::numeric_limits<int64_t>::max() - ms ? std::numeric_limits<int64_t>::max() : now_ms + ms;
}

}  // namespace

bool Model::producer_down(const std::string& producer) const {
  auto p = producers_.find(producer);
  return p != producers_.end() && now_ms_ >= p->second.alive_until_ms;
}

ModelAnswer Model::on(const domain::FeedAlive& c, uint64_t /*fp*/, uint64_t /*position*/) {
  if (c.limit_ms < kLimitMinMs || c.limit_ms > kLimitMaxMs) return refuse(Code::invalid_request);
  if (c.source_ts < 0 || c.source_ts > plus(now_ms_, kSourceAheadMaxMs)) return refuse(Code::invalid_request);
  ++feed_.alives;
  // Counted from the provider's stamp, allowing kAliveLagMaxMs of clock
  // skew, never from a later batch time (an unstamped alive: its batch).
  const int64_t from = c.source_ts == 0 ? now_ms_ : std::min(now_ms_, plus(c.source_ts, kAliveLagMaxMs));
  const int64_t until = plus(from, c.limit_ms);
  auto p = producers_.find(c.producer_id);
  if (p == producers_.end()) {
    producers_[c.producer_id] = Producer{until, c.source_ts};
    note_alive(c, until, false);
    return ModelAnswer{};
  }
  if (c.source_ts != 0 && c.source_ts <= p->second.last_source_ts) {
    ++feed_.alives_stale;  // a copy, or overtaken: changes nothing, whatever happened since
    return ModelAnswer{Code::ok, true, 0};
  }
  const bool down = producer_down(c.producer_id);
  if (down && !c.recovered) {
    ++feed_.alives_refused_down;
    return refuse(Code::conflict);  // recover what was missed first
  }
  // Stamped before the producer went down (its deadline), or too old to
  // keep it up: it answers an earlier outage.
  if (down && c.source_ts != 0 && (c.source_ts < p->second.alive_until_ms || until <= now_ms_)) {
    ++feed_.alives_refused_old_recovery;
    return refuse(Code::conflict);
  }
  feed_.recoveries += down ? 1 : 0;
  p->second.alive_until_ms = until;
  if (c.source_ts != 0) p->second.last_source_ts = c.source_ts;
  note_alive(c, until, down);
  return ModelAnswer{};
}

// Counts what an accepted alive did: a copy of one accepted before (a hole:
// docs/simulation.md, finding 6), and how long past its own stamp + limit
// it keeps the markets open (the promise: at most kAliveLagMaxMs).
void Model::note_alive(const domain::FeedAlive& c, int64_t until, bool reopened) {
  if (c.source_ts != 0) {
    const int64_t past = until - plus(c.source_ts, c.limit_ms);
    feed_.alive_open_past_stamp_ms_max = std::max(feed_.alive_open_past_stamp_ms_max, static_cast<uint64_t>(std::max<int64_t>(past, 0)));
  }
  if (!alives_accepted_.insert(op_key(c)).second) {
    ++feed_.alive_copies_accepted_again;
    feed_.reopened_by_an_old_alive += reopened ? 1 : 0;
  }
}

ModelAnswer Model::on(const domain::FeedPrices& c, uint64_t /*fp*/, uint64_t /*position*/) {
  auto m = markets_.find(c.market_id);
  if (m == markets_.end() || !producers_.count(c.producer_id)) return refuse(Code::not_found);
  if (c.source_ts <= 0 || c.source_ts > plus(now_ms_, kSourceAheadMaxMs)) return refuse(Code::invalid_request);
  Market& mk = m->second;
  if (mk.producer.empty()) return refuse(Code::conflict);  // priced by hand: not the feed's
  const bool after = c.source_ts > mk.feed_ts || (c.source_ts == mk.feed_ts && c.source_seq > mk.feed_seq);
  if (!after) {
    // A redelivery, or overtaken by a newer change: changes nothing,
    // whatever happened to the market since.
    ++feed_.prices_stale;
    return ModelAnswer{Code::ok, true, 0};
  }
  if (c.prices.empty() || c.prices.size() > kPricesMax) return refuse(Code::invalid_request);
  if (mk.settled || mk.closed()) return refuse(Code::market_not_open);
  // Every entry is checked before any applies: all or nothing.
  std::vector<size_t> at;
  for (const domain::PriceSpec& p : c.prices) {
    if (p.odds.thousandths < kOddsMinThousandths || p.odds.thousandths > kOddsMaxThousandths) {
      return refuse(Code::invalid_request);
    }
    if (p.active < -1 || p.active > 1) return refuse(Code::invalid_request);
    size_t i = 0;
    while (i < mk.selections.size() && mk.selections[i] != p.selection_id) ++i;
    if (i == mk.selections.size()) return refuse(Code::not_found);
    for (size_t earlier : at) {
      if (earlier == i) return refuse(Code::invalid_request);  // one selection twice
    }
    at.push_back(i);
  }
  for (size_t k = 0; k < at.size(); ++k) {
    mk.odds[at[k]] = c.prices[k].odds.thousandths;
    if (c.prices[k].active != -1) mk.active[at[k]] = c.prices[k].active == 1;
  }
  mk.producer = c.producer_id;
  mk.feed_ts = c.source_ts;
  mk.feed_seq = c.source_seq;
  ++feed_.prices_applied;
  ModelAnswer out;
  out.count = 1;  // applied
  return out;
}

}  // namespace betcore::sim
