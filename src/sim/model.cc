#include "sim/model.h"

#include <type_traits>

#include "domain/fingerprint.h"

namespace betcore::sim {

using domain::Code;

namespace {
ModelAnswer ok() { return ModelAnswer{}; }
ModelAnswer no(Code c) { return ModelAnswer{c, false, 0}; }
}  // namespace

ModelAnswer Model::answer_or_conflict(std::map<std::string, Remembered>& seen, const std::string& id,
                                      uint64_t fp) {
  const Remembered& r = seen.at(id);
  if (r.fingerprint != fp) return no(Code::conflict);
  return ModelAnswer{Code::ok, true, r.count};
}

void Model::pay_into_balance(ModelAccount& a, int64_t amount) {
  if (amount <= 0) return;
  int64_t repay = std::min(-a.receivable, amount);
  if (repay > 0) a.receivable += repay;
  a.balance += amount - std::max<int64_t>(repay, 0);
}

void Model::take_from_balance(ModelAccount& a, int64_t amount) {
  if (amount <= 0) return;
  int64_t take = std::min(a.balance, amount);
  a.balance -= take;
  a.receivable -= amount - take;
}

void Model::note(const std::string& account, uint64_t position) {
  ModelAccount& a = accounts_.at(account);
  if (!a.balance_history.empty() && a.balance_history.back().first == position) {
    a.balance_history.back().second = a.balance;
  } else {
    a.balance_history.emplace_back(position, a.balance);
  }
}

bool Model::balance_at(const std::string& account, uint64_t position, int64_t& balance) const {
  auto it = accounts_.find(account);
  if (it == accounts_.end()) return false;
  const auto& h = it->second.balance_history;
  // The last change at or before `position`.
  size_t lo = 0, hi = h.size();
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (h[mid].first <= position) lo = mid + 1; else hi = mid;
  }
  if (lo == 0) return false;
  balance = h[lo - 1].second;
  return true;
}

std::string op_key(const domain::Command& command) {
  return std::visit(
      [](const auto& c) -> std::string {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, domain::CreateAccount>) return "account:" + c.account_id;
        else if constexpr (std::is_same_v<T, domain::SetSelfExclusion>) return "exclusion:" + c.account_id;
        else if constexpr (std::is_same_v<T, domain::Deposit>) return "deposit:" + c.payment_ref;
        else if constexpr (std::is_same_v<T, domain::RequestWithdrawal>) return "withdrawal:" + c.withdrawal_id;
        else if constexpr (std::is_same_v<T, domain::CompleteWithdrawal>) return "complete:" + c.withdrawal_id;
        else if constexpr (std::is_same_v<T, domain::FailWithdrawal>) return "fail:" + c.withdrawal_id;
        else if constexpr (std::is_same_v<T, domain::CreateEvent>) return "event:" + c.event_id;
        else if constexpr (std::is_same_v<T, domain::CreateMarket>) return "market:" + c.market_id;
        else if constexpr (std::is_same_v<T, domain::PlaceBet>) return "bet:" + c.bet_id;
        else if constexpr (requires { c.request_id; }) return "request:" + c.request_id;  // prices, status, settlement
        else if constexpr (std::is_same_v<T, domain::FeedPrices>) {
          return "prices:" + c.market_id + ":" + std::to_string(c.source_ts) + ":" + std::to_string(c.source_seq);
        } else if constexpr (std::is_same_v<T, domain::FeedAlive>) {
          return "alive:" + c.producer_id + ":" + std::to_string(c.limit_ms);
        } else {
          static_assert(!sizeof(T*), "every command has an op key");  // a new command needs its row
        }
      },
      command);
}

ModelAnswer Model::apply(const domain::Command& command, uint64_t position, int64_t batch_ms) {
  if (batch_ms > now_ms_) now_ms_ = batch_ms;
  const uint64_t fp = domain::fingerprint(command);
  std::string key = op_key(command);
  // A trader request with a request_id: its first answer, forever.
  const std::string request_id = key.rfind("request:", 0) == 0 ? key.substr(8) : std::string();
  // Refusals are remembered by client id, as the state machine keeps them:
  // not for requests that act on an entity by its id, nor for trader
  // requests without one, nor for the odds feed's (no client id: the
  // sim's keys for them are the checker's, not the API's).
  for (const char* by_entity : {"exclusion:", "complete:", "fail:", "prices:", "alive:"}) {
    if (key.rfind(by_entity, 0) == 0) key.clear();
  }
  if (key == "request:") key.clear();
  if (!key.empty()) {
    auto r = refused_.find(key);
    if (r != refused_.end()) {
      return r->second.fingerprint == fp ? ModelAnswer{r->second.code, true, 0} : no(Code::conflict);
    }
  }
  ModelAnswer a;
  if (request_id.empty()) {
    a = apply_body(command, fp, position);
  } else if (request_ids_.count(request_id)) {
    a = answer_or_conflict(request_ids_, request_id, fp);
  } else {
    a = apply_body(command, fp, position);
    if (a.code == Code::ok) request_ids_[request_id] = Remembered{fp, a.count};
  }
  if (!key.empty()) {
    if (a.code == Code::ok) {
      accepted_keys_.insert(key);
    } else if (!accepted_keys_.count(key)) {
      refused_[key] = Refused{fp, a.code};
    }
  }
  // An unstamped alive (none in the sim's workload) applies again at each
  // copy; a stamped one is applied once, its copies are duplicates.
  auto* alive = std::get_if<domain::FeedAlive>(&command);
  a.repeats = alive != nullptr && alive->source_ts == 0;
  return a;
}

ModelAnswer Model::apply_body(const domain::Command& command, uint64_t fp, uint64_t position) {
  return std::visit([&](const auto& c) { return on(c, fp, position); }, command);
}

ModelAnswer Model::on(const domain::CreateAccount& c, uint64_t fp, uint64_t position) {
  if (account_ids_.count(c.account_id)) return answer_or_conflict(account_ids_, c.account_id, fp);
  account_ids_[c.account_id] = Remembered{fp};
  accounts_[c.account_id];
  note(c.account_id, position);
  return ok();
}

ModelAnswer Model::on(const domain::Deposit& c, uint64_t fp, uint64_t position) {
  if (deposit_refs_.count(c.payment_ref)) return answer_or_conflict(deposit_refs_, c.payment_ref, fp);
  auto a = accounts_.find(c.account_id);
  if (a == accounts_.end()) return no(Code::not_found);
  pay_into_balance(a->second, c.amount.minor);
  deposits_ += c.amount.minor;
  deposit_refs_[c.payment_ref] = Remembered{fp};
  note(c.account_id, position);
  return ok();
}

ModelAnswer Model::on(const domain::RequestWithdrawal& c, uint64_t fp, uint64_t position) {
  if (withdrawal_ids_.count(c.withdrawal_id)) {
    return answer_or_conflict(withdrawal_ids_, c.withdrawal_id, fp);
  }
  auto a = accounts_.find(c.account_id);
  if (a == accounts_.end()) return no(Code::not_found);
  if (a->second.balance < c.amount.minor) return no(Code::insufficient_funds);
  a->second.balance -= c.amount.minor;
  a->second.pending += c.amount.minor;
  withdrawal_ids_[c.withdrawal_id] = Remembered{fp};
  withdrawals_[c.withdrawal_id] = Withdrawal{c.account_id, c.amount.minor, 0, 0};
  note(c.account_id, position);
  return ok();
}

// 1: completed, 2: failed.
ModelAnswer Model::withdrawal_outcome(const std::string& withdrawal_id, int wanted, uint64_t fp,
                                      uint64_t position) {
  auto w = withdrawals_.find(withdrawal_id);
  if (w == withdrawals_.end()) return no(Code::not_found);
  if (w->second.state == wanted && w->second.outcome_fingerprint == fp) {
    return ModelAnswer{Code::ok, true, 0};
  }
  if (w->second.state != 0) return no(Code::conflict);
  ModelAccount& a = accounts_.at(w->second.account);
  a.pending -= w->second.amount;
  if (wanted == 1) {
    withdrawals_completed_ += w->second.amount;
  } else {
    pay_into_balance(a, w->second.amount);
  }
  w->second.state = wanted;
  w->second.outcome_fingerprint = fp;
  note(w->second.account, position);
  return ok();
}

ModelAnswer Model::on(const domain::CompleteWithdrawal& c, uint64_t fp, uint64_t position) {
  return withdrawal_outcome(c.withdrawal_id, 1, fp, position);
}

ModelAnswer Model::on(const domain::FailWithdrawal& c, uint64_t fp, uint64_t position) {
  return withdrawal_outcome(c.withdrawal_id, 2, fp, position);
}

ModelAnswer Model::on(const domain::CreateEvent& c, uint64_t fp, uint64_t /*position*/) {
  if (event_ids_.count(c.event_id)) return answer_or_conflict(event_ids_, c.event_id, fp);
  event_ids_[c.event_id] = Remembered{fp};
  return ok();
}

ModelAnswer Model::on(const domain::CreateMarket& c, uint64_t fp, uint64_t /*position*/) {
  if (market_ids_.count(c.market_id)) return answer_or_conflict(market_ids_, c.market_id, fp);
  if (!event_ids_.count(c.event_id)) return no(Code::not_found);
  if (!c.producer_id.empty() && !producers_.count(c.producer_id)) return no(Code::not_found);
  Market m;
  m.producer = c.producer_id;
  for (const auto& s : c.selections) {
    m.selections.push_back(s.selection_id);
    m.odds.push_back(s.odds.thousandths);
    m.active.push_back(true);
  }
  markets_[c.market_id] = std::move(m);
  market_ids_[c.market_id] = Remembered{fp};
  return ok();
}

ModelAnswer Model::on(const domain::ChangeMarketStatus& c, uint64_t /*fp*/, uint64_t /*position*/) {
  auto m = markets_.find(c.market_id);
  if (m == markets_.end()) return no(Code::not_found);
  if (m->second.settled) return no(Code::conflict);
  if (c.action != domain::MarketAction::close && m->second.closed()) return no(Code::conflict);
  m->second.last = c.action;
  return ok();
}

ModelAnswer Model::on(const domain::PlaceBet& c, uint64_t fp, uint64_t position) {
  if (bet_ids_.count(c.bet_id)) return answer_or_conflict(bet_ids_, c.bet_id, fp);
  auto a = accounts_.find(c.account_id);
  if (a == accounts_.end()) return no(Code::not_found);
  if (c.legs.size() != 1) return no(Code::invalid_request);  // the workload places singles
  const domain::LegSpec& leg = c.legs[0];
  auto m = markets_.find(leg.market_id);
  if (m == markets_.end()) return no(Code::not_found);
  size_t sel = 0;
  while (sel < m->second.selections.size() && m->second.selections[sel] != leg.selection_id) ++sel;
  if (sel == m->second.selections.size()) return no(Code::not_found);
  if (!m->second.open()) return no(Code::market_not_open);
  // A feed market takes no bet once its producer's deadline has passed at
  // this batch's time (docs/integrations.md, "A silent producer").
  const bool feed_market = !m->second.producer.empty();
  feed_.bets_on_feed_markets += feed_market ? 1 : 0;
  if (feed_market && producer_down(m->second.producer)) {
    ++feed_.bets_refused_feed_silent;
    return no(Code::market_not_open);
  }
  if (!m->second.active[sel]) return no(Code::selection_not_active);
  if (leg.odds.thousandths != m->second.odds[sel]) return no(Code::odds_changed);
  if (a->second.balance < c.stake.minor) return no(Code::insufficient_funds);
  a->second.balance -= c.stake.minor;
  a->second.in_play += c.stake.minor;
  bets_[c.bet_id] = Bet{c.account_id, c.stake.minor, m->second.odds[sel], sel, true, 0};
  m->second.bets.push_back(c.bet_id);
  bet_ids_[c.bet_id] = Remembered{fp};
  note(c.account_id, position);
  return ok();
}

ModelAnswer Model::on(const domain::SettleMarket& c, uint64_t fp, uint64_t position) {
  auto m = markets_.find(c.market_id);
  if (m == markets_.end()) return no(Code::not_found);
  Market& mk = m->second;
  if (c.results.size() != mk.selections.size()) return no(Code::invalid_request);
  std::vector<domain::LegResult> results(mk.selections.size(), domain::LegResult::pending);
  for (const auto& r : c.results) {
    size_t i = 0;
    while (i < mk.selections.size() && mk.selections[i] != r.selection_id) ++i;
    if (i == mk.selections.size()) return no(Code::not_found);
    results[i] = r.result;
  }
  if (!c.resettle && mk.settled) {
    if (mk.settle_fingerprint == fp) return ModelAnswer{Code::ok, true, mk.settled_bets};
    return no(Code::conflict);
  }
  if (c.resettle && !mk.settled) return no(Code::conflict);
  if (c.resettle && mk.settle_fingerprint == fp) return ModelAnswer{Code::ok, true, mk.settled_bets};
  uint32_t settled = 0;
  for (const std::string& id : mk.bets) {
    Bet& b = bets_.at(id);
    ModelAccount& a = accounts_.at(b.account);
    if (c.resettle && !b.open) {  // reverse exactly
      take_from_balance(a, b.payout);
      house_ += b.payout;
      house_ -= b.stake;
      a.in_play += b.stake;
      b.open = true;
      b.payout = 0;
    }
    domain::LegResult r = results[b.selection];
    int64_t payout = r == domain::LegResult::win    ? static_cast<int64_t>(__int128(b.stake) * b.odds / 1000)
                     : r == domain::LegResult::void_ ? b.stake
                                                     : 0;
    a.in_play -= b.stake;
    house_ += b.stake;
    pay_into_balance(a, payout);
    house_ -= payout;
    b.open = false;
    b.payout = payout;
    ++settled;
    ++bet_settlements_;
    note(b.account, position);
  }
  mk.settled = true;
  mk.settle_fingerprint = fp;
  mk.settled_bets = settled;
  ModelAnswer out = ok();
  out.count = settled;
  return out;
}

}  // namespace betcore::sim
