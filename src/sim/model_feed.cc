// The model's odds feed (model.h), written from the rules in
// docs/integrations.md ("Failing safe") and the API notes, not from
// src/domain/feed.cc:
// - an alive creates its producer, or keeps it up until batch time + limit;
//   a producer whose deadline has passed is down, and only an alive saying
//   recovered=true brings it back (a plain one is refused with 409);
// - a price change applies only if its (source_ts, source_seq) is after the
//   market's last one; otherwise it is answered as a duplicate that changed
//   nothing (applied: false);
// - bets on a market whose producer is down are refused (model.cc, PlaceBet).
#include <limits>

#include "sim/model.h"

namespace betcore::sim {

using domain::Code;

namespace {

constexpr int64_t kLimitMinMs = 1'000;          // FeedAlive.limit_ms: 1,000 .. 600,000
constexpr int64_t kLimitMaxMs = 600'000;
constexpr int64_t kSourceAheadMaxMs = 3'600'000;  // a provider's stamp at most an hour ahead
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
  ++feed_.alives;
  auto p = producers_.find(c.producer_id);
  if (p == producers_.end()) {
    producers_[c.producer_id] = Producer{plus(now_ms_, c.limit_ms)};
    alives_accepted_.insert(op_key(c));
    return ModelAnswer{};
  }
  const bool down = producer_down(c.producer_id);
  if (down && !c.recovered) {
    ++feed_.alives_refused_down;
    return refuse(Code::conflict);  // recover what was missed first
  }
  feed_.recoveries += down ? 1 : 0;
  p->second.alive_until_ms = plus(now_ms_, c.limit_ms);
  if (!alives_accepted_.insert(op_key(c)).second) {
    ++feed_.alive_copies_accepted_again;
    feed_.reopened_by_an_old_alive += down ? 1 : 0;
  }
  return ModelAnswer{};
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
