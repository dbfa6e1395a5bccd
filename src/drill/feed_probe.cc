// Probe bets on the feed's markets, and which logged commands are the feed's.
#include "drill/feed_probe.h"
#include "drill/cluster.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <type_traits>

#include "drill/clock.h"

namespace betcore::drill {
namespace {

using nlohmann::json;

std::string error_code(const tools::Response& r) {
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return "";
  return j["error"].value("code", "");
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

const char* bets_name(Bets b) {
  switch (b) {
    case Bets::taken:
      return "taken";
    case Bets::refused:
      return "refused";
    case Bets::unknown:
      return "unknown";
  }
  return "unknown";
}

BetProbe::BetProbe(uint16_t haproxy_port, std::string trader_token, int instance)
    : http_("127.0.0.1", haproxy_port, betcore_http(500, 2000)),
      trader_(std::move(trader_token)),
      id_prefix_(fmt::format("{}{}-", kProbeBetPrefix, instance)) {}

Bets BetProbe::ask(const std::string& market_id) {
  json leg{{"market_id", market_id}, {"selection_id", "home"}, {"odds", kProbeOdds}};
  json body{{"bet_id", id_prefix_ + std::to_string(++bets_)},
            {"account_id", kProbeAccount},
            {"stake", 1},
            {"legs", json::array({leg})}};
  tools::Response r = http_.post("/v1/bets", body.dump(), trader_);
  std::string code = error_code(r);
  if (code == "market_not_open") return Bets::refused;
  if (code == "odds_changed" || code == "insufficient_funds") return Bets::taken;
  // A probe is never accepted (2xx) and never meant to be: that would be a
  // bet at odds no market offers, from an account without money.
  return Bets::unknown;
}

bool BetProbe::create_account(uint16_t haproxy_port, const std::string& admin_token,
                              std::string& why) {
  tools::HttpClient http("127.0.0.1", haproxy_port, betcore_http(1000, 5000));
  json body{{"account_id", kProbeAccount}, {"currency", "EUR"}};
  tools::Response r;
  for (int tries = 0; tries < 60; ++tries) {
    r = http.post("/v1/accounts", body.dump(), admin_token);
    if (r.ok()) return true;
    sleep_ms(500);
  }
  why = fmt::format("creating the probe account {}: {} {}", kProbeAccount, r.status,
                    r.status == 0 ? r.error : r.body.substr(0, 200));
  return false;
}

bool from_the_feed(const domain::Command& command) {
  return std::visit(
      [](const auto& c) -> bool {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, domain::FeedAlive> || std::is_same_v<T, domain::FeedPrices>) {
          return true;
        } else if constexpr (std::is_same_v<T, domain::CreateEvent>) {
          return starts_with(c.event_id, "e-");  // the provider's events; the workload's is e0
        } else if constexpr (std::is_same_v<T, domain::CreateMarket>) {
          return !c.producer_id.empty();
        } else if constexpr (std::is_same_v<T, domain::CreateAccount>) {
          return c.account_id == kProbeAccount;
        } else if constexpr (std::is_same_v<T, domain::PlaceBet>) {
          return c.account_id == kProbeAccount && starts_with(c.bet_id, kProbeBetPrefix);
        } else if constexpr (requires { c.request_id; }) {
          // Stops, starts and settlements the adapter sends (feed::request_id_of).
          return starts_with(c.request_id, "fd:") || starts_with(c.request_id, "fr:");
        } else {
          return false;
        }
      },
      command);
}

}  // namespace betcore::drill
