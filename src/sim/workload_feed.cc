// The sim's odds feed (workload.h): one client that plays both the provider
// and the adapter. It creates an event, two producers (their first alive)
// and three markets priced by them; then it sends each producer's alive every
// 300-700 ms of simulated time, now and then falls silent for longer than
// the limit (betcore must then refuse bets on its markets by itself, and
// answer the next alive 409), and recovers with recovered=true. Between
// alives it sends price changes with increasing (ts, seq), and holds some
// back to send after a newer one (a reorder: betcore must not apply them).
// Every draw from the random source happens in a fixed order.
#include <algorithm>

#include "domain/assert.h"
#include "sim/run_context.h"
#include "sim/workload.h"

namespace betcore::sim {

namespace {

constexpr size_t kProducers = 2;
constexpr size_t kFeedMarkets = 3;
constexpr size_t kFeedSelections = 3;
// Alive numbers make alive limits, which must stay within 1,000..600,000 ms.
constexpr uint64_t kAlivesMax = 500'000;

}  // namespace

std::optional<Op> Workload::feed_op(Client& c) {
  // Set up: the event, each producer (its first alive creates it), the markets.
  if (c.setup_step == 0) {
    ++c.setup_step;
    for (size_t i = 0; i < kProducers; ++i) producers_.push_back(FeedProducer{"p" + std::to_string(i)});
    return write_op(c.number, "create event ef", domain::CreateEvent{"ef", "Feed", domain::TimeMs{kStartMs}});
  }
  if (c.setup_step <= static_cast<int>(kProducers)) {
    return feed_alive(c, static_cast<size_t>(c.setup_step++ - 1));
  }
  if (feed_markets_.size() < kFeedMarkets) {
    FeedMarket m;
    m.view.id = "f" + std::to_string(feed_markets_.size());
    m.producer = feed_markets_.size() % kProducers;
    domain::CreateMarket cm;
    cm.market_id = m.view.id;
    cm.event_id = "ef";
    cm.name = "Feed market " + m.view.id;
    cm.producer_id = producers_[m.producer].id;
    for (size_t i = 0; i < kFeedSelections; ++i) {
      std::string sid = "s" + std::to_string(i);
      int64_t odds = rng_.between(1'100, 6'000);
      cm.selections.push_back(domain::SelectionSpec{sid, "Runner " + sid, domain::Odds{odds}});
      m.view.selections.push_back(sid);
      m.view.odds.push_back(odds);
    }
    feed_markets_.push_back(std::move(m));
    return write_op(c.number, "create market " + cm.market_id + " fed by " + cm.producer_id, std::move(cm));
  }
  const int64_t now = world_.now();
  for (size_t i = 0; i < producers_.size(); ++i) {
    if (now >= producers_[i].next_alive_ms) return feed_alive(c, i);
  }
  if (now < next_prices_ms_) return std::nullopt;
  next_prices_ms_ = now + rng_.between(10, 60);
  return feed_prices(c);
}

// An alive has no id: each alive of the run is made distinct by its limit,
// kFeedLimitMs + its number (model.h, op_key), so the checker can tell which
// one a copy in the log is.
Op Workload::feed_alive(const Client& c, size_t producer) {
  FeedProducer& p = producers_[producer];
  const uint64_t n = alives_++;
  BETCORE_ASSERT_MSG(n < kAlivesMax, "alive limits would leave 1,000..600,000 ms");
  const int64_t limit_ms = kFeedLimitMs + static_cast<int64_t>(n);
  // Mostly well within the limit; now and then silent past it.
  const bool silent = rng_.chance(80);
  p.next_alive_ms = world_.now() + (silent ? rng_.between(limit_ms + 200, limit_ms + 2'500) : rng_.between(300, 700));
  // Stamped with the provider's clock (true time): a retry carries it.
  domain::FeedAlive a{p.id, limit_ms, p.must_recover, world_.now()};
  return write_op(c.number, "alive " + p.id + " #" + std::to_string(n) + (a.recovered ? " recovered" : ""), a);
}

Op Workload::feed_prices(const Client& c) {
  FeedMarket& m = feed_markets_[rng_.below(feed_markets_.size())];
  if (m.held && rng_.chance(300)) {
    // Sent after a newer change: a reorder, which must not apply if the
    // newer one did.
    domain::FeedPrices late = std::move(*m.held);
    m.held.reset();
    return write_op(c.number, "prices " + m.view.id + " (" + std::to_string(late.source_ts) + ", " +
                                  std::to_string(late.source_seq) + ") sent late",
                    std::move(late));
  }
  auto make = [&] {
    domain::FeedPrices fp;
    fp.market_id = m.view.id;
    fp.producer_id = producers_[m.producer].id;
    m.ts = std::max(m.ts, world_.now());
    fp.source_ts = m.ts;
    fp.source_seq = ++m.seq;
    size_t first = rng_.below(kFeedSelections);
    size_t count = 1 + rng_.below(2);
    for (size_t k = 0; k < count; ++k) {
      std::string sid = "s" + std::to_string((first + k) % kFeedSelections);
      fp.prices.push_back(domain::PriceSpec{sid, domain::Odds{rng_.between(1'100, 6'000)}, -1});
    }
    return fp;
  };
  domain::FeedPrices fp = make();
  if (!m.held && rng_.chance(100)) {
    m.held = std::move(fp);
    fp = make();
  }
  return write_op(c.number, "prices " + m.view.id + " (" + std::to_string(fp.source_ts) + ", " +
                                std::to_string(fp.source_seq) + ")",
                  std::move(fp));
}

// 409 to an alive: the producer is down, recover now (the sim's feed has
// nothing to fetch: everything it made is sent or held). Prices applied:
// the punters bet at them.
void Workload::feed_learn(const Op& op, const Answer& a) {
  if (a.kind != AnswerKind::applied) return;
  if (auto* alive = std::get_if<domain::FeedAlive>(&op.command)) {
    for (FeedProducer& p : producers_) {
      if (p.id != alive->producer_id) continue;
      if (a.code == domain::Code::conflict) {
        // Recover with the next alive the provider sends (a node clock far
        // ahead of the provider's refuses every alive: not in a tight loop).
        p.must_recover = true;
      } else if (a.code == domain::Code::ok) {
        p.must_recover = false;
      }
    }
    return;
  }
  auto* prices = std::get_if<domain::FeedPrices>(&op.command);
  if (prices == nullptr || a.code != domain::Code::ok || a.count != 1) return;
  for (FeedMarket& m : feed_markets_) {
    if (m.view.id != prices->market_id) continue;
    if (prices->source_ts < m.applied_ts ||
        (prices->source_ts == m.applied_ts && prices->source_seq <= m.applied_seq)) {
      return;  // an older change applied after a newer one was: betcore has the newer
    }
    m.applied_ts = prices->source_ts;
    m.applied_seq = prices->source_seq;
    for (const domain::PriceSpec& p : prices->prices) {
      for (size_t i = 0; i < m.view.selections.size(); ++i) {
        if (m.view.selections[i] == p.selection_id) m.view.odds[i] = p.odds.thousandths;
      }
    }
  }
}

}  // namespace betcore::sim
