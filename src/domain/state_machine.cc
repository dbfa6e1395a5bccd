#include "domain/state_machine.h"

#include "domain/assert.h"
#include "domain/fingerprint.h"
#include "domain/handlers.h"
#include "domain/ledger.h"

namespace betcore::domain {

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > kIdBytesMax) return false;
  for (char ch : id) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == ':' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

bool amount_in_range(Amount a) { return a.minor >= kAmountMin && a.minor <= kAmountMax; }

StateMachine::StateMachine() : state_(std::make_unique<State>()) {}

void StateMachine::begin_batch(LogIndex index, TimeMs stamped) {
  BETCORE_ASSERT_MSG(index > state_->applied, "log index went backwards");
  state_->applied = index;
  if (stamped > state_->now) state_->now = stamped;
}

void StateMachine::record_chain(uint64_t position, const std::array<uint8_t, 32>& chain) {
  AuditChain& a = state_->audit;
  BETCORE_ASSERT_MSG(a.recent.empty() || position > a.recent.back().position, "chain went backwards");
  a.head = chain;
  a.recent.push_back(ChainPoint{position, chain});
  if (a.recent.size() > AuditChain::kWindow) a.recent.pop_front();
}

void StateMachine::reset(std::unique_ptr<State> state) {
  BETCORE_ASSERT(state != nullptr);
  state_ = std::move(state);
}

namespace {

struct Dispatch {
  Ctx& c;
  Outcome operator()(const CreateAccount& x) { return apply_create_account(c, x); }
  Outcome operator()(const SetSelfExclusion& x) { return apply_self_exclusion(c, x); }
  Outcome operator()(const Deposit& x) { return apply_deposit(c, x); }
  Outcome operator()(const RequestWithdrawal& x) { return apply_request_withdrawal(c, x); }
  Outcome operator()(const CompleteWithdrawal& x) { return apply_complete_withdrawal(c, x); }
  Outcome operator()(const FailWithdrawal& x) { return apply_fail_withdrawal(c, x); }
  Outcome operator()(const CreateEvent& x) { return apply_create_event(c, x); }
  Outcome operator()(const CreateMarket& x) { return apply_create_market(c, x); }
  Outcome operator()(const UpdatePrices& x) { return apply_update_prices(c, x); }
  Outcome operator()(const ChangeMarketStatus& x) { return apply_market_status(c, x); }
  Outcome operator()(const PlaceBet& x) { return apply_place_bet(c, x); }
  Outcome operator()(const SettleMarket& x) { return apply_settle(c, x); }
  Outcome operator()(const FeedAlive& x) { return apply_feed_alive(c, x); }
  Outcome operator()(const FeedPrices& x) { return apply_feed_prices(c, x); }
};

// The request_id of a trader command; null for other commands or none.
const std::string* request_id_of(const Command& command) {
  const std::string* id = nullptr;
  if (auto* x = std::get_if<UpdatePrices>(&command)) id = &x->request_id;
  if (auto* x = std::get_if<ChangeMarketStatus>(&command)) id = &x->request_id;
  if (auto* x = std::get_if<SettleMarket>(&command)) id = &x->request_id;
  return id != nullptr && !id->empty() ? id : nullptr;
}

// The client id a request is remembered by when it is refused ("bet:b-1");
// empty for requests that act on an existing entity by its id (complete or
// fail a withdrawal, self-exclusion) and trader requests without one.
std::string client_key(const Command& command) {
  std::string key;
  if (auto* x = std::get_if<CreateAccount>(&command)) key = "account:" + x->account_id;
  else if (auto* x = std::get_if<Deposit>(&command)) key = "deposit:" + x->payment_ref;
  else if (auto* x = std::get_if<RequestWithdrawal>(&command)) key = "withdrawal:" + x->withdrawal_id;
  else if (auto* x = std::get_if<CreateEvent>(&command)) key = "event:" + x->event_id;
  else if (auto* x = std::get_if<CreateMarket>(&command)) key = "market:" + x->market_id;
  else if (auto* x = std::get_if<PlaceBet>(&command)) key = "bet:" + x->bet_id;
  else if (const std::string* r = request_id_of(command)) key = "request:" + *r;
  if (key.empty() || !valid_id(std::string_view(key).substr(key.find(':') + 1))) return {};
  return key;
}

// Whether the command's client id belongs to an accepted request already:
// its answers come from there (a retry, or a conflict), never from here.
bool id_accepted(const State& s, const Command& command) {
  if (auto* x = std::get_if<CreateAccount>(&command)) return s.account_ids.find(x->account_id).valid();
  if (auto* x = std::get_if<Deposit>(&command)) return s.deposit_refs.find(x->payment_ref).valid();
  if (auto* x = std::get_if<RequestWithdrawal>(&command)) return s.withdrawal_ids.find(x->withdrawal_id).valid();
  if (auto* x = std::get_if<CreateEvent>(&command)) return s.event_ids.find(x->event_id).valid();
  if (auto* x = std::get_if<CreateMarket>(&command)) return s.market_ids.find(x->market_id).valid();
  if (auto* x = std::get_if<PlaceBet>(&command)) return s.bet_ids.find(x->bet_id).valid();
  if (const std::string* r = request_id_of(command)) return s.request_ids.count(*r) != 0;
  return false;
}

}  // namespace

Outcome StateMachine::apply(const Command& command, EventSink* sink) {
  Ctx c{*state_, sink, fingerprint(command)};
  const std::string* request_id = request_id_of(command);
  // The key is built only when there is something to look up or remember:
  // most commands are accepted while nothing was ever refused.
  std::string key = state_->rejected.empty() ? std::string() : client_key(command);
  auto refused = key.empty() ? state_->rejected.end() : state_->rejected.find(key);
  Outcome out;
  if (refused != state_->rejected.end()) {
    // Refused before: the same answer, however the state changed since. A
    // late copy of an attempt whose outcome the client never learned must
    // not succeed after the client was told no.
    if (refused->second.fingerprint == c.fp) {
      out = reject(refused->second.code, refused->second.message);
      out.duplicate = true;
    } else {
      out = reject(Code::conflict, key.substr(key.find(':') + 1) + " was used for another request, which was refused");
    }
  } else if (request_id != nullptr && !valid_id(*request_id)) {
    out = reject(Code::invalid_request, "request_id is not a valid id");
  } else if (auto it = request_id != nullptr ? state_->request_ids.find(*request_id) : state_->request_ids.end();
             it != state_->request_ids.end()) {
    // A retry: the first answer again, whatever happened since.
    if (it->second.fingerprint == c.fp) {
      out = accept(it->second.ref, true);
      out.count = it->second.count;
    } else {
      out = reject(Code::conflict, "request_id " + quoted(*request_id) + " was used for another request");
    }
  } else {
    out = std::visit(Dispatch{c}, command);
    if (request_id != nullptr && out.ok()) {
      state_->request_ids.emplace(*request_id, RequestRecord{c.fp, out.ref, out.count});
    }
    if (!out.ok()) {
      if (key.empty()) key = client_key(command);
      if (!key.empty() && !id_accepted(*state_, command)) {
        state_->rejected.emplace(key, RejectedRecord{c.fp, out.code, out.message});
      }
    }
  }
  // Only a command accepted as new counts. The counter is part of the state
  // (and so of its digest), and a rejection or a retry must change nothing
  // (API.md, Errors: "a write rejected with any 4xx changed nothing").
  if (out.ok() && !out.duplicate) ++state_->commands_applied;
  if (full_check_) {
    LedgerCheck check = verify_ledger(*state_);
    BETCORE_ASSERT_MSG(check.ok, check.problem.c_str());
  }
  return out;
}

namespace {

void prefetch_ids(const State& s, const Command& command) {
  if (const auto* b = std::get_if<PlaceBet>(&command)) {
    s.bet_ids.prefetch(b->bet_id);
    s.account_ids.prefetch(b->account_id);
    for (const LegSpec& leg : b->legs) s.market_ids.prefetch(leg.market_id);
  } else if (const auto* d = std::get_if<Deposit>(&command)) {
    s.deposit_refs.prefetch(d->payment_ref);
    s.account_ids.prefetch(d->account_id);
  }
}

void prefetch_account(const State& s, std::string_view id) {
  if (const AccountIdx a = s.account_ids.find(id); a.valid()) __builtin_prefetch(&s.accounts[a.value]);
}

void prefetch_rows(const State& s, const Command& command) {
  if (const auto* b = std::get_if<PlaceBet>(&command)) {
    prefetch_account(s, b->account_id);
    for (const LegSpec& leg : b->legs) {
      const MarketIdx m = s.market_ids.find(leg.market_id);
      if (!m.valid()) continue;
      const Market& market = s.markets[m.value];
      __builtin_prefetch(&market);
      __builtin_prefetch(market.selections.data());
      __builtin_prefetch(market.bets.data() + market.bets.size());
    }
  } else if (const auto* d = std::get_if<Deposit>(&command)) {
    prefetch_account(s, d->account_id);
  }
}

}  // namespace

void StateMachine::prefetch_before(std::span<const Command> commands, size_t i) const {
  if (i + 2 < commands.size()) prefetch_ids(*state_, commands[i + 2]);
  if (i + 1 < commands.size()) prefetch_rows(*state_, commands[i + 1]);
}

}  // namespace betcore::domain
