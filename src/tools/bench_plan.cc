#include "tools/bench_plan.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "ops/wall_clock.h"

namespace betcore::tools {

namespace {

// Two-way and three-way markets with a bookmaker's margin; "1.90"/"2.10" as
// in a typical handicap line.
const std::vector<std::vector<std::string>> kOddsPatterns = {
    {"1.90", "2.10"},
    {"2.50", "3.20", "2.90"},
};

}  // namespace

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
           c == '-';
  });
}

std::string default_run_id() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  return fmt::format("r{:x}-{}", secs, static_cast<long>(::getpid()));
}

std::string invocation_nonce() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  uint64_t x =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()) ^
      (static_cast<uint64_t>(::getpid()) << 40);
  // splitmix64 finaliser: nearby times and pids give unrelated nonces.
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string nonce;
  for (size_t i = 0; i < kNonceLength; ++i, x /= 36) nonce += kDigits[x % 36];
  return nonce;
}

BenchPlan make_plan(const std::string& run_id, const std::string& nonce, int markets, int accounts,
                    int64_t deposit_cents) {
  BenchPlan plan;
  plan.run_id = run_id;
  plan.bet_id_prefix = run_id + "-b" + nonce + "-";
  plan.event_id = run_id + "-ev";
  plan.deposit_cents = deposit_cents;
  plan.markets.reserve(static_cast<size_t>(markets));
  for (int m = 0; m < markets; ++m) {
    BenchMarket market;
    market.id = fmt::format("{}-m{}", run_id, m);
    const auto& odds = kOddsPatterns[static_cast<size_t>(m) % kOddsPatterns.size()];
    for (size_t s = 0; s < odds.size(); ++s) {
      BenchSelection sel{fmt::format("s{}", s), odds[s]};
      market.leg_json.push_back(fmt::format(
          R"({{"market_id":"{}","selection_id":"{}","odds":"{}"}})", market.id, sel.id, sel.odds));
      market.selections.push_back(std::move(sel));
    }
    plan.markets.push_back(std::move(market));
  }
  plan.account_ids.reserve(static_cast<size_t>(accounts));
  for (int a = 0; a < accounts; ++a) plan.account_ids.push_back(fmt::format("{}-a{}", run_id, a));
  return plan;
}

std::string event_body(const BenchPlan& plan, std::string_view starts_at) {
  nlohmann::json j = {{"event_id", plan.event_id},
                      {"name", "betcore bench " + plan.run_id},
                      {"starts_at", starts_at}};
  return j.dump();
}

std::string market_body(const BenchPlan& plan, size_t market) {
  const BenchMarket& m = plan.markets.at(market);
  nlohmann::json selections = nlohmann::json::array();
  for (const auto& s : m.selections) {
    selections.push_back({{"selection_id", s.id}, {"name", "selection " + s.id}, {"odds", s.odds}});
  }
  nlohmann::json j = {{"market_id", m.id},
                      {"event_id", plan.event_id},
                      {"name", "bench market " + std::to_string(market)},
                      {"selections", selections},
                      {"max_stake", plan.market_max_stake_cents},
                      {"max_liability", plan.market_max_liability_cents}};
  return j.dump();
}

std::string account_body(const BenchPlan& plan, size_t account) {
  nlohmann::json j = {{"account_id", plan.account_ids.at(account)}, {"currency", "EUR"}};
  return j.dump();
}

std::string deposit_ref(const BenchPlan& plan, size_t account) {
  return fmt::format("{}-d{}", plan.run_id, account);
}

std::string deposit_body(const BenchPlan& plan, size_t account) {
  nlohmann::json j = {{"payment_ref", deposit_ref(plan, account)},
                      {"account_id", plan.account_ids.at(account)},
                      {"amount", plan.deposit_cents}};
  return j.dump();
}

std::string rfc3339_utc_from_now(int64_t offset_s) {
  return ops::utc_text((static_cast<int64_t>(std::time(nullptr)) + offset_s) * 1000);
}

}  // namespace betcore::tools
