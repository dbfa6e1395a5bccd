#include "domain/rejection.h"

namespace betcore::domain {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::ok: return "ok";
    case Code::invalid_request: return "invalid_request";
    case Code::not_found: return "not_found";
    case Code::conflict: return "conflict";
    case Code::insufficient_funds: return "insufficient_funds";
    case Code::odds_changed: return "odds_changed";
    case Code::market_not_open: return "market_not_open";
    case Code::selection_not_active: return "selection_not_active";
    case Code::stake_out_of_range: return "stake_out_of_range";
    case Code::liability_exceeded: return "liability_exceeded";
    case Code::account_not_active: return "account_not_active";
    case Code::deposit_limit_exceeded: return "deposit_limit_exceeded";
    case Code::duplicate_leg: return "duplicate_leg";
  }
  return "unknown";
}

int code_http_status(Code code) {
  switch (code) {
    case Code::ok: return 200;
    case Code::invalid_request: return 400;
    case Code::not_found: return 404;
    case Code::conflict: return 409;
    default: return 422;
  }
}

}  // namespace betcore::domain
