// What `betcore bench` creates and bets on: ids, odds and the preformatted
// JSON pieces the load loop glues together (no JSON library on the hot path).
//
// Every id starts with the run id, so repeated runs against the same node do
// not collide. Re-running with the same run id and flags replays the same
// setup writes, which the node answers from its memory of ids (API.md:
// exactly once); the event, whose starts_at moves, is reused on 409.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace betcore::tools {

struct BenchSelection {
  std::string id;
  std::string odds;  // decimal odds as the API writes them, e.g. "1.90"
};

struct BenchMarket {
  std::string id;
  std::vector<BenchSelection> selections;
  // One bet leg per selection, preformatted:
  // {"market_id":"...","selection_id":"...","odds":"..."}
  std::vector<std::string> leg_json;
};

struct BenchPlan {
  std::string run_id;
  // "<run id>-b<invocation nonce>-": bets are fresh even when the run id is
  // reused (a replayed bet would measure the node's memory of ids, not betting).
  std::string bet_id_prefix;
  std::string event_id;
  std::vector<BenchMarket> markets;
  std::vector<std::string> account_ids;
  int64_t deposit_cents = 0;  // credited to every account before the run
  int64_t stake_min_cents = 100;
  int64_t stake_max_cents = 1000;
  int64_t market_max_stake_cents = 1'000'000;
  int64_t market_max_liability_cents = 10'000'000'000'000;  // 10^13, the API's maximum
};

// Longest run id accepted: leaves room for the suffixes within the API's
// 64-character id limit. The longest id is a bet's:
// "<run>-b<nonce>-<connection>-<sequence>", 32 + 2 + 6 + 1 + 5 + 1 + up to 17.
inline constexpr size_t kRunIdLengthMax = 32;
inline constexpr size_t kNonceLength = 6;
inline constexpr int kConnectionsMax = 99999;  // 5 digits

// 1–64 chars of [A-Za-z0-9_.:-] (API.md, Conventions).
bool is_valid_id(std::string_view id);

// "r<unix time, hex>-<pid>": distinct for runs started in different seconds
// or by different processes.
std::string default_run_id();

// kNonceLength characters of [0-9a-z] that differ between invocations.
std::string invocation_nonce();

// REQUIRES: is_valid_id(run_id), run_id.size() <= kRunIdLengthMax,
// nonce is kNonceLength characters of [0-9a-z], markets >= 1, accounts >= 1.
BenchPlan make_plan(const std::string& run_id, const std::string& nonce, int markets, int accounts,
                    int64_t deposit_cents);

// Bodies of the setup writes (API.md: events, markets, accounts, deposits).
std::string event_body(const BenchPlan& plan, std::string_view starts_at);
std::string market_body(const BenchPlan& plan, size_t market);
std::string account_body(const BenchPlan& plan, size_t account);
std::string deposit_body(const BenchPlan& plan, size_t account);
std::string deposit_ref(const BenchPlan& plan, size_t account);

// RFC 3339 UTC of now + `offset_s`, e.g. "2024-05-01T18:00:00Z".
std::string rfc3339_utc_from_now(int64_t offset_s);

}  // namespace betcore::tools
