// What `betcore feed-provider` knows: its fixtures, each market's prices and
// state, the messages it would send next, and what it keeps for recovery.
// No I/O and no clock: the caller passes the time, so tests can drive it.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "feed/feed_message.h"
#include "tools/splitmix.h"

namespace betcore::feed {

struct WorldOptions {
  int events = 20;
  int markets_per_event = 5;
  std::vector<std::string> producers = {"prematch", "live"};  // events alternate between them
  uint64_t seed = 1;
};

// The provider's last word on one market (GET /v1/state of the provider).
struct MarketTruth {
  std::string market_id;
  std::string event_id;
  std::string producer;
  std::vector<Price> prices;  // the last odds_change (or the fixture's odds)
  int64_t ts = 0;             // of that change
  uint64_t seq = 0;
  std::string status = "open";  // open, stopped, settled, cancelled
  std::vector<Result> results;  // once settled
};

class ProviderWorld {
 public:
  explicit ProviderWorld(WorldOptions options);

  const std::vector<std::string>& producers() const { return options_.producers; }
  // Fixtures of every event, stamped `now_ms`. The first messages sent.
  std::vector<Message> fixtures(int64_t now_ms);
  // The producer's heartbeat.
  Message alive(const std::string& producer, int64_t now_ms, bool subscribed);
  // A new price for `selections` selections (whole markets, at least one
  // market) of open markets of producers not in `silent`; empty when none
  // is open.
  std::vector<Message> odds_changes(int selections, int64_t now_ms,
                                    const std::vector<std::string>& silent);
  // Two changes of one market, the newer first: the provider "reorders".
  std::vector<Message> reordered_pair(int64_t now_ms, const std::vector<std::string>& silent);
  // Lifecycle of one market; nullopt-like empty result when the market is
  // unknown. `winner` empty: the first selection wins.
  std::vector<Message> bet_stop(const std::string& market_id, int64_t now_ms);
  std::vector<Message> bet_start(const std::string& market_id, int64_t now_ms);
  std::vector<Message> settle(const std::string& market_id, const std::string& winner,
                              int64_t now_ms);
  std::vector<Message> rollback(const std::string& market_id, const std::string& winner,
                                int64_t now_ms);
  std::vector<Message> cancel(const std::string& market_id, int64_t now_ms);

  // Recovery: what a customer that applied everything of `producer` up to
  // `after_ms` needs to be current: fixtures, each market's latest prices
  // and its lifecycle messages newer than that, in the order they were
  // sent, then snapshot_complete with `request_id`.
  std::vector<Message> recovery(const std::string& producer, int64_t after_ms,
                                const std::string& request_id, int64_t now_ms);

  const std::map<std::string, MarketTruth>& truth() const { return markets_; }

 private:
  Message stamp(Kind kind, const std::string& producer, int64_t now_ms);
  std::string next_odds(const std::string& odds);
  std::vector<Result> results_for(const MarketTruth& market, const std::string& winner) const;
  std::vector<Message> lifecycle(const std::string& market_id, Kind kind, int64_t now_ms,
                                 const std::string& winner);

  WorldOptions options_;
  tools::SplitMix64 rng_;
  std::map<std::string, uint64_t> seq_;  // per producer
  std::map<std::string, MarketTruth> markets_;
  std::vector<std::string> market_order_;           // for picking at random
  std::map<std::string, Message> fixture_of_event_;  // event_id -> its fixture message
  std::map<std::string, std::vector<Message>> lifecycle_of_market_;
  std::map<std::string, Message> last_odds_of_market_;
};

}  // namespace betcore::feed
