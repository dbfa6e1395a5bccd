// Turns API request bodies into domain commands, strictly: malformed JSON,
// wrong types, unknown or missing fields, bad ids and out-of-range numbers
// are all 400 invalid_request with a message that names the field
// (API.md, Conventions). Nothing here touches state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "domain/commands.h"

namespace betcore::api {

struct Parsed {
  domain::Command command;
  std::string error;  // empty when the body is good
  bool ok() const { return error.empty(); }
};

Parsed parse_create_account(std::string_view body);
Parsed parse_self_exclusion(std::string_view account_id, std::string_view body);
Parsed parse_deposit(std::string_view body);
Parsed parse_withdrawal(std::string_view body);
Parsed parse_complete_withdrawal(std::string_view withdrawal_id, std::string_view body);
Parsed parse_fail_withdrawal(std::string_view withdrawal_id, std::string_view body);
Parsed parse_create_event(std::string_view body);
Parsed parse_create_market(std::string_view body);
Parsed parse_prices(std::string_view market_id, std::string_view body);
// The odds feed adapter's: prices in the provider's order, and alive.
Parsed parse_feed_prices(std::string_view market_id, std::string_view body);
Parsed parse_feed_alive(std::string_view producer_id, std::string_view body);

// POST /v1/feed-prices: {"changes": [1..kFeedBatchChangesMax feed price
// changes, each the single route's body plus market_id]}. Each change is
// parsed on its own: a bad one is that element's error, not the request's.
// A bound on the work of one request; bytes are bounded by the body limit
// (64 KiB by default), under which 256 typical changes (3 prices, ~200
// bytes each) fit. Larger changes fit fewer: an adapter bounds its batches
// by bytes too.
inline constexpr size_t kFeedBatchChangesMax = 256;

struct ParsedChange {
  std::string market_id;  // as sent, for the answer ("" when not a string)
  Parsed parsed;          // a FeedPrices, or the element's error
};

struct ParsedFeedBatch {
  std::vector<ParsedChange> changes;  // in request order
  std::string error;                  // the body as a whole is bad (400)
  bool ok() const { return error.empty(); }
};

ParsedFeedBatch parse_feed_prices_batch(std::string_view body);
Parsed parse_market_status(std::string_view market_id, domain::MarketAction action,
                           std::string_view body);
Parsed parse_bet(std::string_view body);
Parsed parse_settle(std::string_view market_id, std::string_view body, bool resettle);

}  // namespace betcore::api
