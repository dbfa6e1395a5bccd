// What the simulated clients ask for: 6 punters (4 accounts each) deposit,
// bet on singles, withdraw and read balances; a trader runs the markets; a
// payments client completes or fails withdrawals; an odds feed keeps its
// producers alive (or falls silent) and prices its markets, out of order at
// times (docs/simulation.md).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "domain/commands.h"
#include "sim/market_view.h"
#include "sim/messages.h"
#include "sim/world.h"

namespace betcore::sim {

enum class Role { punter, trader, payments, feed };

struct Client {
  int number = 0;
  Role role = Role::punter;
  std::vector<std::string> accounts;
  int setup_step = 0;
};

// A write of `command` by client `client`, encoded once: every retry sends
// the same bytes.
Op write_op(int client, std::string what, domain::Command command);

// Each alive keeps a producer up this long past its batch time, plus the
// alive's number in the run (its identity: model.h, op_key).
inline constexpr int64_t kFeedLimitMs = 2'000;

class Workload {
 public:
  explicit Workload(World& world) : world_(world), rng_(world.rng) {}

  // Punters first, then the trader, the payments client and the feed.
  static std::vector<Client> make_clients();
  // The next operation `c` sends; none when it has nothing to do now (the
  // payments client with no withdrawal to handle, the feed between its
  // messages): ask again later.
  std::optional<Op> next(Client& c);
  // A definite answer: an accepted withdrawal request is one to handle; the
  // feed hears that a producer is down (409) or that prices applied.
  void learn(const Op& op, const Answer& a);

 private:
  Op punter_op(Client& c);
  Op trader_op(Client& c);
  std::optional<Op> payments_op(Client& c);
  Op create_market(const Client& c);
  Op settle(const Client& c, MarketView& m, const std::string& tag);
  Op change_status(const Client& c, MarketView& m, const std::string& tag, uint64_t roll);
  std::optional<Op> feed_op(Client& c);
  Op feed_alive(const Client& c, size_t producer);
  Op feed_prices(const Client& c);
  void feed_learn(const Op& op, const Answer& a);

  // The feed's own view of a producer and of a market it prices.
  struct FeedProducer {
    std::string id;
    int64_t next_alive_ms = 0;
    bool must_recover = false;  // betcore said down (409): the next alive says recovered
  };
  struct FeedMarket {
    MarketView view;                // odds as last applied (learn), for the punters
    size_t producer = 0;
    int64_t ts = 0;                 // the provider's last (ts, seq) made for this market
    uint64_t seq = 0;
    int64_t applied_ts = 0;         // the newest (ts, seq) betcore said it applied
    uint64_t applied_seq = 0;
    std::optional<domain::FeedPrices> held;  // made, held back, sent after a newer one
  };

  World& world_;
  Rng& rng_;
  uint64_t id_seq_ = 0;
  std::vector<MarketView> markets_;                              // as the trader created them
  std::deque<std::pair<std::string, std::string>> withdrawals_;  // (id, account) to complete
  std::vector<FeedProducer> producers_;
  std::vector<FeedMarket> feed_markets_;
  int64_t next_prices_ms_ = 0;
  uint64_t alives_ = 0;  // every alive of the run, numbered: its limit is kFeedLimitMs + number
};

}  // namespace betcore::sim
