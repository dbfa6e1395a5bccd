// Events, markets, selections and prices; suspend, resume, close.
#include <string>

#include "domain/handlers.h"
#include "domain/odds.h"

namespace betcore::domain {
namespace {

bool valid_text(std::string_view t) { return !t.empty() && t.size() <= kTextBytesMax; }

bool valid_odds(Odds o) { return o.thousandths >= kOddsMin && o.thousandths <= kOddsMax; }

Outcome check_create_market(const State& s, const CreateMarket& cmd) {
  if (!valid_id(cmd.market_id)) return reject(Code::invalid_request, "market_id is not a valid id");
  if (!valid_text(cmd.name)) return reject(Code::invalid_request, "name must be 1..256 bytes");
  if (cmd.selections.empty() || cmd.selections.size() > kSelectionsMax) {
    return reject(Code::invalid_request, "a market needs 1..64 selections");
  }
  for (size_t i = 0; i < cmd.selections.size(); ++i) {
    const SelectionSpec& sel = cmd.selections[i];
    if (!valid_id(sel.selection_id)) {
      return reject(Code::invalid_request, "selection_id is not a valid id");
    }
    if (!valid_text(sel.name)) return reject(Code::invalid_request, "selection name must be 1..256 bytes");
    if (!valid_odds(sel.odds)) return reject(Code::invalid_request, "odds must be 1.001..1000");
    for (size_t j = 0; j < i; ++j) {
      if (cmd.selections[j].selection_id == sel.selection_id) {
        return reject(Code::invalid_request, "selection " + quoted(sel.selection_id) + " appears twice");
      }
    }
  }
  if (!amount_in_range(cmd.min_stake) || !amount_in_range(cmd.max_stake) ||
      cmd.min_stake > cmd.max_stake) {
    return reject(Code::invalid_request, "need 1 <= min_stake <= max_stake <= 10^13");
  }
  if (cmd.max_liability.minor < 1 || cmd.max_liability.minor > kAmountMax * 100) {
    return reject(Code::invalid_request, "max_liability must be 1..10^15");
  }
  if (!valid_id(cmd.event_id)) return reject(Code::invalid_request, "event_id is not a valid id");
  (void)s;
  return accept(0);
}

int find_selection(const Market& m, std::string_view id) {
  for (size_t i = 0; i < m.selections.size(); ++i) {
    if (m.selections[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

Outcome apply_create_event(Ctx& c, const CreateEvent& cmd) {
  State& s = c.s;
  if (!valid_id(cmd.event_id)) return reject(Code::invalid_request, "event_id is not a valid id");
  if (!valid_text(cmd.name)) return reject(Code::invalid_request, "name must be 1..256 bytes");
  const HashedId id = s.event_ids.hashed(cmd.event_id);
  if (auto answer = remembered(s.event_ids, s.events, id, c.fp, "event")) return *answer;
  EventIdx idx{static_cast<uint32_t>(s.events.size())};
  Event& e = s.events.emplace_back();
  e.id = s.event_ids.insert(id, idx);
  e.name = cmd.name;
  e.starts_at = cmd.starts_at;
  e.created_index = s.applied;
  e.fingerprint = c.fp;
  c.emit(EventType::event_created, idx.value);
  return accept(idx.value);
}

Outcome apply_create_market(Ctx& c, const CreateMarket& cmd) {
  State& s = c.s;
  Outcome check = check_create_market(s, cmd);
  if (!check.ok()) return check;
  const HashedId id = s.market_ids.hashed(cmd.market_id);
  if (auto answer = remembered(s.market_ids, s.markets, id, c.fp, "market")) return *answer;
  EventIdx event = s.event_ids.find(cmd.event_id);
  if (!event.valid()) return reject(Code::not_found, "no event " + quoted(cmd.event_id));
  ProducerIdx producer;
  if (!cmd.producer_id.empty()) {
    producer = s.producer_ids.find(cmd.producer_id);
    if (!producer.valid()) {
      return reject(Code::not_found, "no feed producer " + quoted(cmd.producer_id) +
                                         " (its first alive message creates it)");
    }
  }
  MarketIdx idx{static_cast<uint32_t>(s.markets.size())};
  Market& m = s.markets.emplace_back();
  m.id = s.market_ids.insert(id, idx);
  m.event = event;
  m.name = cmd.name;
  m.min_stake = cmd.min_stake;
  m.max_stake = cmd.max_stake;
  m.max_liability = cmd.max_liability;
  m.producer = producer;
  m.created_index = s.applied;
  m.fingerprint = c.fp;
  m.selections.reserve(cmd.selections.size());
  for (const SelectionSpec& spec : cmd.selections) {
    Selection& sel = m.selections.emplace_back();
    sel.id = spec.selection_id;
    sel.name = spec.name;
    sel.odds = spec.odds;
  }
  c.emit(EventType::market_created, idx.value);
  return accept(idx.value);
}

Outcome check_prices(const Market& m, std::string_view market_id, const std::vector<PriceSpec>& prices) {
  if (prices.empty() || prices.size() > kSelectionsMax) {
    return reject(Code::invalid_request, "prices needs 1..64 entries");
  }
  if (m.status == MarketStatus::closed || m.status == MarketStatus::settled) {
    return reject(Code::market_not_open, "market " + quoted(market_id) + " is closed");
  }
  // Check every entry before changing any: all or nothing.
  for (size_t i = 0; i < prices.size(); ++i) {
    const PriceSpec& p = prices[i];
    if (!valid_odds(p.odds)) return reject(Code::invalid_request, "odds must be 1.001..1000");
    if (p.active < -1 || p.active > 1) return reject(Code::invalid_request, "active must be true or false");
    if (find_selection(m, p.selection_id) < 0) {
      return reject(Code::not_found, "market " + quoted(market_id) + " has no selection " +
                                         quoted(p.selection_id));
    }
    for (size_t j = 0; j < i; ++j) {
      if (prices[j].selection_id == p.selection_id) {
        return reject(Code::invalid_request, "selection " + quoted(p.selection_id) + " appears twice");
      }
    }
  }
  return accept(0);
}

void set_prices(Market& m, const std::vector<PriceSpec>& prices) {
  for (const PriceSpec& p : prices) {
    Selection& sel = m.selections[static_cast<size_t>(find_selection(m, p.selection_id))];
    sel.odds = p.odds;
    if (p.active >= 0) sel.active = p.active == 1;
  }
}

Outcome apply_update_prices(Ctx& c, const UpdatePrices& cmd) {
  State& s = c.s;
  MarketIdx idx = s.market_ids.find(cmd.market_id);
  if (!idx.valid()) return reject(Code::not_found, "no market " + quoted(cmd.market_id));
  Market& m = s.markets[idx.value];
  Outcome check = check_prices(m, cmd.market_id, cmd.prices);
  if (!check.ok()) return check;
  set_prices(m, cmd.prices);
  c.emit(EventType::prices_updated, idx.value);
  return accept(idx.value);
}

Outcome apply_market_status(Ctx& c, const ChangeMarketStatus& cmd) {
  State& s = c.s;
  MarketIdx idx = s.market_ids.find(cmd.market_id);
  if (!idx.valid()) return reject(Code::not_found, "no market " + quoted(cmd.market_id));
  if (cmd.reason.size() > kTextBytesMax) return reject(Code::invalid_request, "reason is over 256 bytes");
  Market& m = s.markets[idx.value];
  if (m.status == MarketStatus::settled) {
    return reject(Code::conflict, "market " + quoted(cmd.market_id) + " is settled");
  }
  MarketStatus next = m.status;
  EventType event = EventType::market_suspended;
  switch (cmd.action) {
    case MarketAction::suspend:
      if (m.status == MarketStatus::closed) {
        return reject(Code::conflict, "market " + quoted(cmd.market_id) + " is closed");
      }
      next = MarketStatus::suspended;
      break;
    case MarketAction::resume:
      if (m.status == MarketStatus::closed) {
        return reject(Code::conflict, "market " + quoted(cmd.market_id) + " is closed");
      }
      next = MarketStatus::open;
      event = EventType::market_resumed;
      break;
    case MarketAction::close:
      next = MarketStatus::closed;
      event = EventType::market_closed;
      break;
    default:
      return reject(Code::invalid_request, "unknown market action");
  }
  // Repeating a suspend/resume/close is harmless and answers the same.
  if (next != m.status) {
    m.status = next;
    m.status_reason = cmd.reason;
    c.emit(event, idx.value);
  }
  return accept(idx.value);
}

}  // namespace betcore::domain
