// The odds feed's messages (docs/feed-protocol.md): what `betcore
// feed-provider` publishes and `betcore feed` consumes, as JSON on AMQP.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace betcore::feed {

enum class Kind : uint8_t {
  alive,                    // a producer's heartbeat
  fixture,                  // an event and its markets, with their first prices
  odds_change,              // new prices for one market
  bet_stop,                 // stop taking bets on a market (suspend)
  bet_start,                // take bets again (resume)
  bet_settlement,           // a market's results
  rollback_bet_settlement,  // corrected results of a settled market
  bet_cancel,               // the market is void: every stake back
  snapshot_complete,        // a recovery request has been answered in full
};
std::string_view kind_name(Kind kind);

struct Price {
  std::string selection_id;
  std::string odds;  // decimal, as in the API ("2.10")
  std::optional<bool> active;
};

struct SelectionDef {
  std::string selection_id;
  std::string name;
  std::string odds;
};

struct MarketDef {
  std::string market_id;
  std::string name;
  std::vector<SelectionDef> selections;
};

struct Result {
  std::string selection_id;
  std::string result;  // "win", "lose", "void"
};

struct Message {
  Kind kind = Kind::alive;
  std::string producer;  // "prematch", "live"
  uint64_t seq = 0;      // the producer's sequence number
  int64_t ts = 0;        // the provider's time stamp, ms since the epoch
  // alive: false when the provider lost this customer's session (the
  // customer must recover before trusting the stream again).
  bool subscribed = true;
  std::string event_id;    // fixture
  std::string event_name;  // fixture
  std::string starts_at;   // fixture, RFC 3339
  std::vector<MarketDef> markets;  // fixture
  std::string market_id;           // odds_change, bet_stop/start, settlements, cancel
  std::vector<Price> prices;       // odds_change
  std::vector<Result> results;     // bet_settlement, rollback_bet_settlement
  std::string reason;              // bet_stop, bet_cancel
  std::string request_id;          // snapshot_complete: the recovery it ends
};

// Now, as a provider time stamp (ms since the Unix epoch).
int64_t wall_ms();

std::string to_json(const Message& message);

// The message, or why it is not one ("odds_change without market_id").
std::variant<Message, std::string> parse_message(std::string_view body);

// "<producer>.<kind>.<event or market or ->", e.g. "live.odds_change.m-3-1".
std::string routing_key(const Message& message);

// The betcore client id for the effect of this message: the same message
// redelivered (adapter killed before its ack, broker restart, provider
// duplicate) gets the same id, so betcore applies it once.
std::string request_id_of(const Message& message);

}  // namespace betcore::feed
