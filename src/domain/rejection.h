// Every way the state machine can say no, as a named code (API.md, Errors).
// A rejected command changes nothing.
#pragma once

#include <cstdint>
#include <string_view>

namespace betcore::domain {

enum class Code : uint8_t {
  ok = 0,
  invalid_request,         // 400: a value the domain cannot accept
  not_found,               // 404: unknown account, event, market, selection, bet, withdrawal
  conflict,                // 409: id reused with a different body, or a state conflict
  insufficient_funds,      // 422 ...
  odds_changed,
  market_not_open,
  selection_not_active,
  stake_out_of_range,
  liability_exceeded,
  account_not_active,
  deposit_limit_exceeded,
  duplicate_leg,
  // New codes go above this line: the snapshot refuses a remembered
  // refusal with a code beyond the last.
  last = duplicate_leg,
};

std::string_view code_name(Code code);
int code_http_status(Code code);

}  // namespace betcore::domain
