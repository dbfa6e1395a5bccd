// The paged lists a payments adapter reconciles and resyncs with (docs/api.md,
// Listing deposits and withdrawals): deposits in the order credited,
// withdrawals in the order requested.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "api/api.h"
#include "api/http/http_server.h"
#include "api/list_page.h"
#include "domain/state.h"

namespace betcore::api {

struct ListQuery {
  size_t limit = kListLimitDefault;
  std::optional<std::string> after;                // a valid id: the page starts after it
  std::optional<domain::WithdrawalStatus> status;  // list_withdrawals; none: all
};

// The query of a list route, checked before the state is read: the refusal,
// or nothing with `q` filled in. Any thread.
std::optional<http::Response> parse_list_query(const http::Request& req, Route route, ListQuery& q);

// The answers, from the state: on the applier thread or under the node's
// state lock. Each looks at no more than kListScanRowsMax rows.
http::Response list_deposits(const domain::State& s, const ListQuery& q);
http::Response list_withdrawals(const domain::State& s, const ListQuery& q);

}  // namespace betcore::api
