// The odds feed in the state machine: producers that must keep saying they
// are alive, and prices applied in the provider's order. Both are decided
// on the batch time and the provider's own numbers only, so every replica
// agrees, and a feed adapter that dies cannot leave a market taking bets:
// the deadline passes by itself (State::feed_silent, checked by each bet).
#include <algorithm>
#include <cstdint>
#include <string>

#include "domain/handlers.h"

namespace betcore::domain {

inline constexpr int64_t kFeedLimitMinMs = 1'000;
inline constexpr int64_t kFeedLimitMaxMs = 600'000;
// How far ahead of the batch time a provider's time stamp may be: clocks
// differ, but a stamp far in the future would freeze a market's prices
// (every later change would look older).
inline constexpr int64_t kSourceAheadMaxMs = 60 * 60'000;

// now + limit, saturating: a batch time is whatever its node stamped.
TimeMs deadline(TimeMs now, int64_t limit_ms) {
  return TimeMs{now.ms > INT64_MAX - limit_ms ? INT64_MAX : now.ms + limit_ms};
}

namespace {

// Where an alive's limit counts from: its batch time, but never later than
// the provider's stamp + kAliveLagMaxMs, so a copy applied late keeps the
// markets open no longer than the provider's own alive did
// (docs/integrations.md, "Failing safe": limit + 1 s). An unstamped alive
// (an old log) counts from its batch time.
TimeMs alive_deadline(TimeMs now, const FeedAlive& cmd) {
  if (cmd.source_ts == 0) return deadline(now, cmd.limit_ms);
  const TimeMs sent = deadline(TimeMs{cmd.source_ts}, kAliveLagMaxMs);
  return deadline(TimeMs{std::min(now.ms, sent.ms)}, cmd.limit_ms);
}

Outcome reject_down(const std::string& producer_id) {
  return reject(Code::conflict, "feed producer " + quoted(producer_id) +
                                    " is down: recover what it sent since, then send alive with "
                                    "recovered=true");
}

// An alive from a log written before FeedAlive carried the provider's time
// stamp (source_ts 0): it counts from its batch time, as it did then, so
// old logs replay to the same state.
Outcome apply_unstamped_alive(Ctx& c, const FeedAlive& cmd, ProducerIdx idx) {
  State& s = c.s;
  Producer& p = s.producers[idx.value];
  const bool down = s.producer_down(p);
  if (down && !cmd.recovered) return reject_down(cmd.producer_id);
  p.alive_until = deadline(s.now, cmd.limit_ms);
  p.limit_ms = cmd.limit_ms;
  if (down) {
    ++p.recoveries;
    c.emit(EventType::producer_up, idx.value);
  }
  return accept(idx.value);
}

}  // namespace

Outcome apply_feed_alive(Ctx& c, const FeedAlive& cmd) {
  State& s = c.s;
  if (!valid_id(cmd.producer_id)) return reject(Code::invalid_request, "producer is not a valid id");
  if (cmd.limit_ms < kFeedLimitMinMs || cmd.limit_ms > kFeedLimitMaxMs) {
    return reject(Code::invalid_request, "limit_ms must be 1000..600000");
  }
  if (cmd.source_ts < 0) return reject(Code::invalid_request, "source_ts must be a positive time stamp");
  if (cmd.source_ts > deadline(s.now, kSourceAheadMaxMs).ms) {
    return reject(Code::invalid_request, "source_ts is more than an hour ahead of this node's clock");
  }
  ProducerIdx idx = s.producer_ids.find(cmd.producer_id);
  if (!idx.valid()) {
    idx = ProducerIdx{static_cast<uint32_t>(s.producers.size())};
    Producer& p = s.producers.emplace_back();
    p.id = s.producer_ids.insert(cmd.producer_id, idx);
    p.created_index = s.applied;
    p.alive_until = alive_deadline(s.now, cmd);
    p.limit_ms = cmd.limit_ms;
    p.last_source_ts = cmd.source_ts;
    c.emit(EventType::producer_up, idx.value);
    return accept(idx.value);
  }
  if (cmd.source_ts == 0) return apply_unstamped_alive(c, cmd, idx);
  Producer& p = s.producers[idx.value];
  const bool down = s.producer_down(p);
  const TimeMs until = alive_deadline(s.now, cmd);
  // Not after the last alive taken: a copy, or overtaken. Changes nothing,
  // like an older price (the deadline must not move on old news), and
  // answered before anything else: a copy of an alive that was accepted is
  // answered as that one was, whatever happened to the producer since.
  if (cmd.source_ts <= p.last_source_ts) return accept(idx.value, /*duplicate=*/true);
  // The adapter missed messages while the producer (or the adapter) was
  // silent: it must fetch them first, then say so.
  if (down && !cmd.recovered) return reject_down(cmd.producer_id);
  // While down, alive_until is when it went down. A recovered alive stamped
  // before that answers an earlier outage (a late copy, finding 6 of
  // docs/simulation.md): what was missed since is not recovered. One too
  // old to keep the producer up past now cannot bring it back either.
  if (down && (cmd.source_ts < p.alive_until.ms || until.ms <= s.now.ms)) {
    return reject(Code::conflict, "feed producer " + quoted(cmd.producer_id) +
                                      " went down after this alive was sent: recover again, then send "
                                      "a newer alive with recovered=true");
  }
  p.alive_until = until;
  p.limit_ms = cmd.limit_ms;
  p.last_source_ts = cmd.source_ts;
  if (down) {
    ++p.recoveries;
    c.emit(EventType::producer_up, idx.value);
  }
  return accept(idx.value);
}

Outcome apply_feed_prices(Ctx& c, const FeedPrices& cmd) {
  State& s = c.s;
  MarketIdx idx = s.market_ids.find(cmd.market_id);
  if (!idx.valid()) return reject(Code::not_found, "no market " + quoted(cmd.market_id));
  ProducerIdx producer = s.producer_ids.find(cmd.producer_id);
  if (!producer.valid()) {
    return reject(Code::not_found, "no feed producer " + quoted(cmd.producer_id) +
                                       " (its first alive message creates it)");
  }
  if (cmd.source_ts <= 0) return reject(Code::invalid_request, "source_ts must be a positive time stamp");
  if (cmd.source_ts > deadline(s.now, kSourceAheadMaxMs).ms) {
    return reject(Code::invalid_request, "source_ts is more than an hour ahead of this node's clock");
  }
  Market& m = s.markets[idx.value];
  if (!m.producer.valid()) {
    // A trader prices it: the feed must not take it over (its producer's
    // silence would then stop bets on a market nobody feeds).
    return reject(Code::conflict, "market " + quoted(cmd.market_id) +
                                      " is priced by hand, not by an odds feed (create it with a producer)");
  }
  // Not after the last change applied: a duplicate, or overtaken by a newer
  // change. Answered as a duplicate (the adapter acks the message), before
  // anything else is checked: a redelivery is harmless whatever happened
  // to the market since. The order is the provider's time first, so a live
  // producer taking a market over from pre-match continues it.
  const bool newer = cmd.source_ts > m.feed_ts || (cmd.source_ts == m.feed_ts && cmd.source_seq > m.feed_seq);
  if (!newer) return accept(idx.value, /*duplicate=*/true);
  Outcome check = check_prices(m, cmd.market_id, cmd.prices);
  if (!check.ok()) return check;
  set_prices(m, cmd.prices);
  m.producer = producer;  // a live producer may take a market over from pre-match
  m.feed_ts = cmd.source_ts;
  m.feed_seq = cmd.source_seq;
  c.emit(EventType::prices_updated, idx.value);
  Outcome out = accept(idx.value);
  out.count = 1;  // applied
  return out;
}

}  // namespace betcore::domain
