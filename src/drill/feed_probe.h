// Whether a feed market takes bets, asked the one way that proves it: a
// bet. The probe account holds no money and bets at odds of 1000, which no
// market has (the provider keeps odds under 50), so a bet that gets past
// the market's own checks is refused for its odds or funds and never moves
// money. The drill's model refuses every probe too (it refuses on the
// odds), so the ledger check is unchanged.
#pragma once
#include <cstdint>
#include <string>

#include "domain/commands.h"
#include "tools/http_client.h"

namespace betcore::drill {

inline constexpr const char* kProbeAccount = "feed-probe";
inline constexpr const char* kProbeBetPrefix = "fp";  // bet ids: fp<instance>-<n>
inline constexpr const char* kProbeOdds = "1000";

enum class Bets : uint8_t {
  taken,    // refused for its odds or funds: the market takes bets
  refused,  // market_not_open: the market takes none (its feed is silent)
  unknown,  // no definite answer (no answer, 429, 5xx)
};
const char* bets_name(Bets b);  // "taken", "refused", "unknown"

// Thread: one per thread (each has its own connection and bet ids).
class BetProbe {
 public:
  // `instance` keeps bet ids apart between probes of one drill.
  BetProbe(uint16_t haproxy_port, std::string trader_token, int instance);

  // One bet on the market's first selection ("home").
  Bets ask(const std::string& market_id);

  // The probe account, with no money; false with `why` after 30 s of tries.
  static bool create_account(uint16_t haproxy_port, const std::string& admin_token,
                             std::string& why);

 private:
  tools::HttpClient http_;
  std::string trader_;
  std::string id_prefix_;
  uint64_t bets_ = 0;
};

// True for the commands the odds feed and its probes send: the drill's
// history check has no client operation for them (docs/drill.md).
bool from_the_feed(const domain::Command& command);

}  // namespace betcore::drill
