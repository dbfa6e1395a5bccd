// The commands of the state machine: everything that changes state. Each
// command is what the API validated and the log carries; the state machine
// applies it at a log index with the batch's stamped time.
#pragma once

#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "domain/types.h"

namespace betcore::domain {

struct CreateAccount {
  std::string account_id;
  std::string currency;              // ISO 4217 style: 3 uppercase letters
  Amount deposit_limit_24h{0};       // 0: no limit
};

struct SetSelfExclusion {
  std::string account_id;
  TimeMs until;                      // bets and deposits refused while time < until
};

struct Deposit {
  std::string payment_ref;           // client id: credits once
  std::string account_id;
  Amount amount;
};

struct RequestWithdrawal {
  std::string withdrawal_id;         // client id
  std::string account_id;
  Amount amount;
};

struct CompleteWithdrawal {
  std::string withdrawal_id;
  std::string gateway_ref;
};

struct FailWithdrawal {
  std::string withdrawal_id;
  std::string reason;
};

struct CreateEvent {
  std::string event_id;              // client id
  std::string name;
  TimeMs starts_at;
};

struct SelectionSpec {
  std::string selection_id;
  std::string name;
  Odds odds;
};

struct CreateMarket {
  std::string market_id;             // client id
  std::string event_id;
  std::string name;
  std::vector<SelectionSpec> selections;
  Amount min_stake{1};
  Amount max_stake{kAmountMax};
  Amount max_liability{kAmountMax * 100};
  // A market priced by an odds feed: bets on it are refused while the feed
  // producer is silent (FeedAlive). Empty: a market priced by hand.
  std::string producer_id;
};

struct PriceSpec {
  std::string selection_id;
  Odds odds;
  // Extension to API.md: false takes a selection out of the book (a
  // non-runner); bets on it then get selection_not_active. Absent: unchanged.
  int8_t active = -1;                // -1 unchanged, 0 inactive, 1 active
};

// The trader's commands carry an optional client id, `request_id` (empty:
// none). With one, a retry can never apply twice: not after a later request
// changed the market again (a late "suspend" after a "resume", an old
// resettlement after a newer one). Not part of the body's fingerprint.
struct UpdatePrices {
  std::string market_id;
  std::vector<PriceSpec> prices;
  std::string request_id;
};

enum class MarketAction : uint8_t { suspend = 1, resume = 2, close = 3 };

struct ChangeMarketStatus {
  std::string market_id;
  MarketAction action;
  std::string reason;
  std::string request_id;
};

struct LegSpec {
  std::string market_id;
  std::string selection_id;
  Odds odds;                         // the odds the punter saw
};

struct PlaceBet {
  std::string bet_id;                // client id
  std::string account_id;
  Amount stake;
  std::vector<LegSpec> legs;         // 1: single; 2..20: multiple
  bool accept_better_odds = false;
};

enum class LegResult : uint8_t { pending = 0, win = 1, lose = 2, void_ = 3 };

struct ResultSpec {
  std::string selection_id;
  LegResult result;
};

struct SettleMarket {
  std::string market_id;
  std::vector<ResultSpec> results;   // one for every selection of the market
  bool resettle = false;             // reverse an earlier settlement first
  std::string request_id;
};

// An odds feed producer (a provider's pre-match or live stream) is alive:
// its markets take bets until the batch time passes
// min(now, source_ts + kAliveLagMaxMs) + limit_ms, so a copy applied late
// (a retry, a queued request) cannot keep them open longer than the
// provider's own alive does. Once that has passed, the producer is down and
// only an alive sent after the adapter recovered what it missed
// (recovered = true, stamped after the producer went down) brings it back.
// An alive not stamped after the producer's last one changes nothing.
struct FeedAlive {
  std::string producer_id;
  int64_t limit_ms = 0;              // 1,000 .. 600,000
  bool recovered = false;
  // The provider's time stamp of the alive passed on (ms). 0 only in logs
  // written before it existed: such an alive counts from its batch time.
  int64_t source_ts = 0;
};

// Prices from the odds feed. Ordered by the provider: a change whose
// (source_ts, source_seq) is not after the market's last one is accepted
// and changes nothing, so a redelivered or overtaken message can never
// put an older price over a newer one. No request_id: the order is the
// memory (one per market, not one per message).
struct FeedPrices {
  std::string market_id;
  std::string producer_id;
  int64_t source_ts = 0;             // the provider's time stamp (ms)
  uint64_t source_seq = 0;           // the producer's sequence number
  std::vector<PriceSpec> prices;
};

using Command = std::variant<CreateAccount, SetSelfExclusion, Deposit, RequestWithdrawal,
                             CompleteWithdrawal, FailWithdrawal, CreateEvent, CreateMarket,
                             UpdatePrices, ChangeMarketStatus, PlaceBet, SettleMarket, FeedAlive,
                             FeedPrices>;

// A stable wire tag per command type. Never renumber: the log stores these.
enum class CommandTag : uint8_t {
  create_account = 1,
  set_self_exclusion = 2,
  deposit = 3,
  request_withdrawal = 4,
  complete_withdrawal = 5,
  fail_withdrawal = 6,
  create_event = 7,
  create_market = 8,
  update_prices = 9,
  change_market_status = 10,
  place_bet = 11,
  settle_market = 12,
  feed_alive = 13,
  feed_prices = 14,
};

inline CommandTag command_tag(const Command& c) {
  return static_cast<CommandTag>(c.index() + 1);
}

// Each command's name, in variant (and tag) order: for logs and test output.
inline constexpr std::string_view kCommandNames[] = {
    "create_account", "set_self_exclusion", "deposit",      "request_withdrawal", "complete_withdrawal",
    "fail_withdrawal", "create_event",      "create_market", "update_prices",     "change_market_status",
    "place_bet",       "settle_market",     "feed_alive",    "feed_prices"};
static_assert(std::size(kCommandNames) == std::variant_size_v<Command>);

inline std::string_view command_name(const Command& c) { return kCommandNames[c.index()]; }

}  // namespace betcore::domain
