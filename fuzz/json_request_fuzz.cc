// Fuzz target: the API's JSON request body parsers (src/api/request_parsing.h).
// Every input is one request body, handed to the parsers of the routes it
// could be for (valid ids in the path where the route has one): those that
// allow one of its top-level keys. A body that is not a JSON object, or has
// no key any route knows, goes to a few parsers only: every parser reaches
// the same code for it (parse_json, Fields::only), and running all 19 on
// each input made the target four times slower.
//
// Invariants: no parser crashes or throws; a refusal names a reason; a body
// that parses yields a command the log can carry: it encodes into a record
// that decodes to the same bytes (src/codec/command_codec.cc: "any command a
// client can send encodes into a record that decodes").
#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/request_parsing.h"
#include "codec/command_codec.h"
#include "domain/assert.h"

namespace {

using namespace betcore::api;
using betcore::domain::MarketAction;

void check_encodable(const betcore::domain::Command& command) {
  std::string record;
  betcore::codec::encode_command(command, record);
  size_t pos = 0;
  const auto decoded = betcore::codec::decode_command(record, &pos);
  BETCORE_ASSERT_MSG(decoded.has_value() && pos == record.size(),
                     "a command parsed from a request does not decode from its record");
  std::string again;
  betcore::codec::encode_command(*decoded, again);
  BETCORE_ASSERT_MSG(again == record, "a parsed command's record is not stable");
}

void check(const Parsed& p) {
  if (p.ok()) {
    check_encodable(p.command);
  } else {
    BETCORE_ASSERT_MSG(p.error.find_first_not_of(' ') != std::string::npos,
                       "a body refused without a reason");
  }
}

struct Route {
  std::vector<std::string_view> keys;  // what its body allows (request_parsing.cc)
  std::function<void(std::string_view)> run;
};

void check_batch(std::string_view body) {
  const ParsedFeedBatch batch = parse_feed_prices_batch(body);
  if (batch.ok()) {
    BETCORE_ASSERT_MSG(!batch.changes.empty() && batch.changes.size() <= kFeedBatchChangesMax,
                       "a feed batch outside its bounds");
    for (const ParsedChange& change : batch.changes) check(change.parsed);
  } else {
    BETCORE_ASSERT_MSG(batch.changes.empty(), "a refused feed batch kept changes");
  }
}

void check_status(std::string_view body) {
  for (MarketAction a : {MarketAction::suspend, MarketAction::resume, MarketAction::close}) {
    check(parse_market_status("mk-1", a, body));
  }
}

// Long: one row per route with a JSON body.
const std::vector<Route>& routes() {
  static const std::vector<Route> table = {
      {{"account_id", "currency", "deposit_limit_24h"},
       [](auto b) { check(parse_create_account(b)); }},
      {{"until"}, [](auto b) { check(parse_self_exclusion("alice", b)); }},
      {{"payment_ref", "account_id", "amount"}, [](auto b) { check(parse_deposit(b)); }},
      {{"withdrawal_id", "account_id", "amount"}, [](auto b) { check(parse_withdrawal(b)); }},
      {{"gateway_ref"}, [](auto b) { check(parse_complete_withdrawal("w-1", b)); }},
      {{"reason"}, [](auto b) { check(parse_fail_withdrawal("w-1", b)); }},
      {{"event_id", "name", "starts_at"}, [](auto b) { check(parse_create_event(b)); }},
      {{"market_id", "event_id", "name", "selections", "min_stake", "max_stake", "max_liability",
        "producer"},
       [](auto b) { check(parse_create_market(b)); }},
      {{"prices", "request_id"}, [](auto b) { check(parse_prices("mk-1", b)); }},
      {{"producer", "source_ts", "source_seq", "prices"},
       [](auto b) { check(parse_feed_prices("mk-1", b)); }},
      {{"limit_ms", "recovered", "source_ts"}, [](auto b) { check(parse_feed_alive("live", b)); }},
      {{"changes"}, check_batch},
      {{"reason", "request_id"}, check_status},
      {{"bet_id", "account_id", "stake", "legs", "accept_better_odds"},
       [](auto b) { check(parse_bet(b)); }},
      {{"results", "request_id"},
       [](auto b) {
         check(parse_settle("mk-1", b, false));
         check(parse_settle("mk-1", b, true));
       }},
  };
  return table;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  bool routed = false;
  if (j.is_object()) {
    for (const Route& route : routes()) {
      bool known = false;
      for (std::string_view key : route.keys) known = known || j.contains(key);
      if (!known) continue;
      route.run(body);
      routed = true;
    }
  }
  if (!routed) {
    // Not an object, or no key any route knows: the shared refusals.
    check(parse_bet(body));
    check_status(body);  // an empty body is a valid status change
    check_batch(body);
  }
  return 0;
}
