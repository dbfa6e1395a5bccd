// Internal to the domain: one function per command, grouped by file
// (accounts.cc, markets.cc, bets.cc, settlement.cc). Each checks everything
// before it changes anything, so a rejection leaves the state untouched.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "domain/state_machine.h"

namespace betcore::domain {

struct Ctx {
  State& s;
  EventSink* sink;
  uint64_t fp;  // fingerprint of the command being applied
  void emit(EventType t, uint32_t ref) const {
    if (sink != nullptr) sink->emit(DomainEvent{t, ref});
  }
};

inline Outcome reject(Code code, std::string message) {
  Outcome o;
  o.code = code;
  o.message = std::move(message);
  return o;
}

inline Outcome accept(uint32_t ref, bool duplicate = false) {
  Outcome o;
  o.ref = ref;
  o.duplicate = duplicate;
  return o;
}

inline std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('\'');
  out.append(s);
  out.push_back('\'');
  return out;
}

bool amount_in_range(Amount a);

// Exactly once: if `id` is already in `ids`, the answer to give now: the
// first answer again when the body's fingerprint matches, else 409 conflict.
// nullopt when the id is new (the caller then inserts the same HashedId).
template <class Idx, class Records>
std::optional<Outcome> remembered(const IdTable<Idx>& ids, const Records& records, const HashedId& id,
                                  uint64_t fp, std::string_view what) {
  Idx existing = ids.find(id);
  if (!existing.valid()) return std::nullopt;
  if (records[existing.value].fingerprint == fp) return accept(existing.value, true);
  return reject(Code::conflict, std::string(what) + " " + quoted(id.id) +
                                    " was already used with different details");
}

// The largest balance a deposit may bring an account to (10^17 minor units),
// and the largest balance + open payouts a bet may bring it to: together
// they keep every later settlement far from int64 overflow.
inline constexpr int64_t kDepositBalanceMax = 100'000'000'000'000'000;
inline constexpr int64_t kExposureMax = 2'000'000'000'000'000'000;

Outcome apply_create_account(Ctx& c, const CreateAccount& cmd);
Outcome apply_self_exclusion(Ctx& c, const SetSelfExclusion& cmd);
Outcome apply_deposit(Ctx& c, const Deposit& cmd);
Outcome apply_request_withdrawal(Ctx& c, const RequestWithdrawal& cmd);
Outcome apply_complete_withdrawal(Ctx& c, const CompleteWithdrawal& cmd);
Outcome apply_fail_withdrawal(Ctx& c, const FailWithdrawal& cmd);
Outcome apply_create_event(Ctx& c, const CreateEvent& cmd);
Outcome apply_create_market(Ctx& c, const CreateMarket& cmd);
Outcome apply_update_prices(Ctx& c, const UpdatePrices& cmd);
Outcome apply_market_status(Ctx& c, const ChangeMarketStatus& cmd);
Outcome apply_place_bet(Ctx& c, const PlaceBet& cmd);
Outcome apply_settle(Ctx& c, const SettleMarket& cmd);
Outcome apply_feed_alive(Ctx& c, const FeedAlive& cmd);
// How far a provider's alive stamp may be behind the batch that applies it
// and still count from the batch time: the clock skew allowed between the
// provider and the nodes (docs/integrations.md, "Failing safe").
inline constexpr int64_t kAliveLagMaxMs = 1'000;
Outcome apply_feed_prices(Ctx& c, const FeedPrices& cmd);

// Shared by UpdatePrices and FeedPrices: refuses (changing nothing) or
// sets every price of `prices` on market `m`.
Outcome check_prices(const Market& m, std::string_view market_id, const std::vector<PriceSpec>& prices);
void set_prices(Market& m, const std::vector<PriceSpec>& prices);

}  // namespace betcore::domain
