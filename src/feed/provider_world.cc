// The provider's fixtures and markets: the messages it sends and what it
// keeps to answer a recovery request.
#include "feed/provider_world.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace betcore::feed {
namespace {

constexpr std::array<const char*, 3> kSelections = {"home", "draw", "away"};

// Thousandths as the API's shortest decimal: 2100 -> "2.1", 2000 -> "2".
std::string odds_text(int64_t thousandths) {
  std::string s = fmt::format("{}.{:03}", thousandths / 1000, thousandths % 1000);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

int64_t thousandths_of(const std::string& odds) {
  size_t dot = odds.find('.');
  int64_t whole = 0;
  std::from_chars(odds.data(), odds.data() + (dot == std::string::npos ? odds.size() : dot), whole);
  int64_t frac = 0;
  if (dot != std::string::npos) {
    std::string digits = odds.substr(dot + 1);
    digits.resize(3, '0');
    std::from_chars(digits.data(), digits.data() + 3, frac);
  }
  return whole * 1000 + frac;
}

bool after(const Message& m, int64_t after_ms) { return m.ts > after_ms; }

}  // namespace

ProviderWorld::ProviderWorld(WorldOptions options) : options_(std::move(options)), rng_(options_.seed) {
  for (int e = 1; e <= options_.events; ++e) {
    std::string event_id = fmt::format("e-{}", e);
    const std::string& producer = options_.producers[(e - 1) % options_.producers.size()];
    for (int k = 1; k <= options_.markets_per_event; ++k) {
      MarketTruth m;
      m.market_id = fmt::format("m-{}-{}", e, k);
      m.event_id = event_id;
      m.producer = producer;
      for (const char* s : kSelections) {
        m.prices.push_back({s, odds_text(rng_.between(1100, 9000)), std::nullopt});
      }
      market_order_.push_back(m.market_id);
      markets_.emplace(m.market_id, std::move(m));
    }
  }
}

Message ProviderWorld::stamp(Kind kind, const std::string& producer, int64_t now_ms) {
  Message m;
  m.kind = kind;
  m.producer = producer;
  m.seq = ++seq_[producer];
  m.ts = now_ms;
  return m;
}

std::vector<Message> ProviderWorld::fixtures(int64_t now_ms) {
  std::vector<Message> out;
  std::map<std::string, Message> by_event;
  for (const std::string& id : market_order_) {
    MarketTruth& market = markets_.at(id);
    auto [it, created] = by_event.try_emplace(market.event_id);
    Message& f = it->second;
    if (created) {
      f = stamp(Kind::fixture, market.producer, now_ms);
      f.event_id = market.event_id;
      f.event_name = fmt::format("Team {} v Team {}", market.event_id, market.event_id + "b");
      f.starts_at = "2027-01-01T20:00:00Z";
    }
    MarketDef def{market.market_id, fmt::format("Market {}", market.market_id), {}};
    for (const Price& p : market.prices) def.selections.push_back({p.selection_id, p.selection_id, p.odds});
    f.markets.push_back(std::move(def));
    market.ts = f.ts;
    market.seq = f.seq;
  }
  for (auto& [event_id, f] : by_event) {
    fixture_of_event_[event_id] = f;
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const Message& a, const Message& b) { return a.seq < b.seq; });
  return out;
}

Message ProviderWorld::alive(const std::string& producer, int64_t now_ms, bool subscribed) {
  Message m = stamp(Kind::alive, producer, now_ms);
  m.subscribed = subscribed;
  return m;
}

std::string ProviderWorld::next_odds(const std::string& odds) {
  int64_t t = thousandths_of(odds) + rng_.between(-150, 150);
  return odds_text(std::clamp<int64_t>(t, 1010, 50000));
}

std::vector<Message> ProviderWorld::odds_changes(int selections, int64_t now_ms,
                                                 const std::vector<std::string>& silent) {
  std::vector<Message> out;
  if (market_order_.empty()) return out;
  int tries = static_cast<int>(market_order_.size()) * 2;
  int priced = 0;
  while (priced < std::max(selections, 1) && tries-- > 0) {
    MarketTruth& market = markets_.at(market_order_[rng_.below(market_order_.size())]);
    if (market.status == "settled" || market.status == "cancelled") continue;
    if (std::find(silent.begin(), silent.end(), market.producer) != silent.end()) continue;
    Message m = stamp(Kind::odds_change, market.producer, now_ms);
    m.event_id = market.event_id;
    m.market_id = market.market_id;
    for (Price& p : market.prices) {
      p.odds = next_odds(p.odds);
      m.prices.push_back(p);
    }
    market.ts = m.ts;
    market.seq = m.seq;
    priced += static_cast<int>(m.prices.size());
    last_odds_of_market_[market.market_id] = m;
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<Message> ProviderWorld::reordered_pair(int64_t now_ms,
                                                   const std::vector<std::string>& silent) {
  std::vector<Message> first = odds_changes(1, now_ms, silent);
  if (first.empty()) return {};
  // The same market again, newer.
  MarketTruth& market = markets_.at(first.front().market_id);
  Message newer = stamp(Kind::odds_change, market.producer, now_ms);
  newer.event_id = market.event_id;
  newer.market_id = market.market_id;
  for (Price& p : market.prices) {
    p.odds = next_odds(p.odds);
    newer.prices.push_back(p);
  }
  market.ts = newer.ts;
  market.seq = newer.seq;
  last_odds_of_market_[market.market_id] = newer;
  return {newer, first.front()};
}

std::vector<Result> ProviderWorld::results_for(const MarketTruth& market,
                                               const std::string& winner) const {
  std::vector<Result> results;
  std::string win = winner.empty() ? market.prices.front().selection_id : winner;
  for (const Price& p : market.prices) {
    results.push_back({p.selection_id, p.selection_id == win ? "win" : "lose"});
  }
  return results;
}

std::vector<Message> ProviderWorld::lifecycle(const std::string& market_id, Kind kind,
                                              int64_t now_ms, const std::string& winner) {
  auto it = markets_.find(market_id);
  if (it == markets_.end()) return {};
  MarketTruth& market = it->second;
  Message m = stamp(kind, market.producer, now_ms);
  m.event_id = market.event_id;
  m.market_id = market_id;
  switch (kind) {
    case Kind::bet_stop:
      market.status = "stopped";
      m.reason = "provider bet stop";
      break;
    case Kind::bet_start:
      market.status = "open";
      break;
    case Kind::bet_settlement:
    case Kind::rollback_bet_settlement:
      market.status = "settled";
      market.results = results_for(market, winner);
      m.results = market.results;
      break;
    case Kind::bet_cancel:
      market.status = "cancelled";
      market.results.clear();
      for (const Price& p : market.prices) market.results.push_back({p.selection_id, "void"});
      m.reason = "provider cancelled the market";
      break;
    default:
      return {};
  }
  lifecycle_of_market_[market_id].push_back(m);
  return {m};
}

std::vector<Message> ProviderWorld::bet_stop(const std::string& market_id, int64_t now_ms) {
  return lifecycle(market_id, Kind::bet_stop, now_ms, {});
}
std::vector<Message> ProviderWorld::bet_start(const std::string& market_id, int64_t now_ms) {
  return lifecycle(market_id, Kind::bet_start, now_ms, {});
}
std::vector<Message> ProviderWorld::settle(const std::string& market_id, const std::string& winner,
                                           int64_t now_ms) {
  return lifecycle(market_id, Kind::bet_settlement, now_ms, winner);
}
std::vector<Message> ProviderWorld::rollback(const std::string& market_id,
                                             const std::string& winner, int64_t now_ms) {
  return lifecycle(market_id, Kind::rollback_bet_settlement, now_ms, winner);
}
std::vector<Message> ProviderWorld::cancel(const std::string& market_id, int64_t now_ms) {
  return lifecycle(market_id, Kind::bet_cancel, now_ms, {});
}

std::vector<Message> ProviderWorld::recovery(const std::string& producer, int64_t after_ms,
                                             const std::string& request_id, int64_t now_ms) {
  std::vector<Message> out;
  for (const auto& [event_id, f] : fixture_of_event_) {
    if (f.producer == producer && after(f, after_ms)) out.push_back(f);
  }
  for (const auto& [market_id, m] : last_odds_of_market_) {
    if (m.producer == producer && after(m, after_ms)) out.push_back(m);
  }
  for (const auto& [market_id, list] : lifecycle_of_market_) {
    for (const Message& m : list) {
      if (m.producer == producer && after(m, after_ms)) out.push_back(m);
    }
  }
  std::sort(out.begin(), out.end(), [](const Message& a, const Message& b) { return a.seq < b.seq; });
  Message done = stamp(Kind::snapshot_complete, producer, now_ms);
  done.request_id = request_id;
  out.push_back(std::move(done));
  return out;
}

}  // namespace betcore::feed
