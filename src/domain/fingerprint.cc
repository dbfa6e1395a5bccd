#include "domain/fingerprint.h"

#include <algorithm>
#include <type_traits>
#include <vector>

namespace betcore::domain {
namespace {

struct Visitor {
  Hasher& h;
  void operator()(const CreateAccount& c) {
    h.bytes(c.account_id);
    h.bytes(c.currency);
    h.i64(c.deposit_limit_24h.minor);
  }
  void operator()(const SetSelfExclusion& c) {
    h.bytes(c.account_id);
    h.i64(c.until.ms);
  }
  void operator()(const Deposit& c) {
    h.bytes(c.payment_ref);
    h.bytes(c.account_id);
    h.i64(c.amount.minor);
  }
  void operator()(const RequestWithdrawal& c) {
    h.bytes(c.withdrawal_id);
    h.bytes(c.account_id);
    h.i64(c.amount.minor);
  }
  void operator()(const CompleteWithdrawal& c) {
    h.bytes(c.withdrawal_id);
    h.bytes(c.gateway_ref);
  }
  void operator()(const FailWithdrawal& c) {
    h.bytes(c.withdrawal_id);
    h.bytes(c.reason);
  }
  void operator()(const CreateEvent& c) {
    h.bytes(c.event_id);
    h.bytes(c.name);
    h.i64(c.starts_at.ms);
  }
  void operator()(const CreateMarket& c) {
    h.bytes(c.market_id);
    h.bytes(c.event_id);
    h.bytes(c.name);
    h.u64(c.selections.size());
    for (const auto& s : c.selections) {
      h.bytes(s.selection_id);
      h.bytes(s.name);
      h.i64(s.odds.thousandths);
    }
    h.i64(c.min_stake.minor);
    h.i64(c.max_stake.minor);
    h.i64(c.max_liability.minor);
  }
  void operator()(const UpdatePrices& c) {
    h.bytes(c.market_id);
    h.u64(c.prices.size());
    for (const auto& p : c.prices) {
      h.bytes(p.selection_id);
      h.i64(p.odds.thousandths);
      h.i64(p.active);
    }
  }
  void operator()(const ChangeMarketStatus& c) {
    h.bytes(c.market_id);
    h.u64(static_cast<uint64_t>(c.action));
    h.bytes(c.reason);
  }
  void operator()(const PlaceBet& c) {
    h.bytes(c.bet_id);
    h.bytes(c.account_id);
    h.i64(c.stake.minor);
    h.u64(c.legs.size());
    for (const auto& l : c.legs) {
      h.bytes(l.market_id);
      h.bytes(l.selection_id);
      h.i64(l.odds.thousandths);
    }
    h.u64(c.accept_better_odds ? 1 : 0);
  }
  void operator()(const SettleMarket& c) {
    // resettle is deliberately not hashed: a settle retried as a resettle
    // with the same results is the same request. The results are a set:
    // hashed in selection order, so a retry that lists them in another
    // order is the same request too.
    h.bytes(c.market_id);
    h.u64(c.results.size());
    std::vector<const ResultSpec*> sorted;
    sorted.reserve(c.results.size());
    for (const auto& r : c.results) sorted.push_back(&r);
    std::sort(sorted.begin(), sorted.end(),
              [](const ResultSpec* a, const ResultSpec* b) { return a->selection_id < b->selection_id; });
    for (const ResultSpec* r : sorted) {
      h.bytes(r->selection_id);
      h.u64(static_cast<uint64_t>(r->result));
    }
  }
};

}  // namespace

uint64_t fingerprint(const Command& command) {
  Hasher h;
  h.u64(static_cast<uint64_t>(command_tag(command)));
  std::visit(Visitor{h}, command);
  return h.digest();
}

}  // namespace betcore::domain
