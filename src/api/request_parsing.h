// Turns API request bodies into domain commands, strictly: malformed JSON,
// wrong types, unknown or missing fields, bad ids and out-of-range numbers
// are all 400 invalid_request with a message that names the field
// (API.md, Conventions). Nothing here touches state.
#pragma once

#include <string>
#include <string_view>

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
Parsed parse_market_status(std::string_view market_id, domain::MarketAction action,
                           std::string_view body);
Parsed parse_bet(std::string_view body);
Parsed parse_settle(std::string_view market_id, std::string_view body, bool resettle);

}  // namespace betcore::api
