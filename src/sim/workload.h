// What the simulated clients ask for: 6 punters (4 accounts each) deposit,
// bet on singles, withdraw and read balances; a trader runs the markets; a
// payments client completes or fails withdrawals (docs/simulation.md).
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

enum class Role { punter, trader, payments };

struct Client {
  int number = 0;
  Role role = Role::punter;
  std::vector<std::string> accounts;
  int setup_step = 0;
};

class Workload {
 public:
  explicit Workload(Rng& rng) : rng_(rng) {}

  // Punters first, then the trader, then the payments client.
  static std::vector<Client> make_clients();
  // The next operation `c` sends; none when it has nothing to do now (the
  // payments client with no withdrawal to handle): ask again later.
  std::optional<Op> next(Client& c);
  // A definite answer: an accepted withdrawal request is one to handle.
  void learn(const Op& op, const Answer& a);

 private:
  Op punter_op(Client& c);
  Op trader_op(Client& c);
  std::optional<Op> payments_op(Client& c);
  Op create_market(const Client& c);
  Op settle(const Client& c, MarketView& m, const std::string& tag);
  Op change_status(const Client& c, MarketView& m, const std::string& tag, uint64_t roll);

  Rng& rng_;
  uint64_t id_seq_ = 0;
  std::vector<MarketView> markets_;                              // as the trader created them
  std::deque<std::pair<std::string, std::string>> withdrawals_;  // (id, account) to complete
};

}  // namespace betcore::sim
