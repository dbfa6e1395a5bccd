#include "api/list_reads.h"

#include "api/answers.h"
#include "api/json_writer.h"
#include "api/route_handlers.h"
#include "api/views.h"
#include "domain/state_machine.h"

namespace betcore::api {

using namespace betcore::domain;

namespace {

std::optional<WithdrawalStatus> withdrawal_status_of(std::string_view name) {
  for (WithdrawalStatus st :
       {WithdrawalStatus::pending, WithdrawalStatus::completed, WithdrawalStatus::failed}) {
    if (withdrawal_status_name(st) == name) return st;
  }
  return std::nullopt;
}

// {"<key>":[...],"next":id|null}: the rows `page` holds, each written by
// `write(row)`, and the id of its next row, `id_of(row)`.
template <class Write, class IdOf>
http::Response page_answer(std::string_view key, const Page& page, Write write, IdOf id_of) {
  std::string body;
  JsonWriter w(body);
  w.begin_object().key(key).begin_array();
  for (uint32_t row : page.rows) write(w, row);
  w.end_array();
  if (page.next) {
    w.field("next", id_of(*page.next));
  } else {
    w.key("next").null();
  }
  w.end_object();
  return json_response(200, std::move(body));
}

}  // namespace

std::optional<http::Response> parse_list_query(const http::Request& req, Route route,
                                               ListQuery& q) {
  const std::string_view id_name = route == Route::list_deposits ? "payment_ref" : "withdrawal_id";
  if (auto l = req.query_param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v < 1 || *v > kListLimitMax) {
      return error(400, "invalid_request",
                   "limit must be a whole number from 1 to " + std::to_string(kListLimitMax) +
                       " (default " + std::to_string(kListLimitDefault) + ")");
    }
    q.limit = static_cast<size_t>(*v);
  }
  if (auto after = req.query_param("after")) {
    if (!valid_id(*after)) {
      return error(400, "invalid_request",
                   "after must be a " + std::string(id_name) +
                       ": 1-64 characters from [A-Za-z0-9_.:-] (the next of an earlier page)");
    }
    q.after = std::string(*after);
  }
  if (route == Route::list_withdrawals) {
    if (auto st = req.query_param("status")) {
      q.status = withdrawal_status_of(*st);
      if (!q.status) {
        return error(400, "invalid_request",
                     "status must be pending, completed or failed (or left out for all)");
      }
    }
  }
  return std::nullopt;
}

http::Response list_deposits(const State& s, const ListQuery& q) {
  size_t begin = 0;
  if (q.after) {
    DepositIdx d = s.deposit_refs.find(*q.after);
    if (!d.valid()) {
      return error(400, "invalid_request",
                   "after must be the payment_ref of a credited deposit (the next of an earlier "
                   "page); there is no deposit '" +
                       *q.after + "'");
    }
    begin = size_t{d.value} + 1;
  }
  const Page page =
      page_rows(s.deposits.size(), begin, q.limit, kListScanRowsMax, [](uint32_t) { return true; });
  return page_answer(
      "deposits", page, [&](JsonWriter& w, uint32_t r) { write_deposit(w, s, s.deposits[r]); },
      [&](uint32_t r) { return s.deposits[r].payment_ref; });
}

http::Response list_withdrawals(const State& s, const ListQuery& q) {
  size_t begin = 0;
  if (q.after) {
    WithdrawalIdx x = s.withdrawal_ids.find(*q.after);
    if (!x.valid()) {
      return error(400, "invalid_request",
                   "after must be the withdrawal_id of a requested withdrawal (the next of an "
                   "earlier page); there is no withdrawal '" +
                       *q.after + "'");
    }
    begin = size_t{x.value} + 1;
  }
  const Page page =
      page_rows(s.withdrawals.size(), begin, q.limit, kListScanRowsMax,
                [&](uint32_t r) { return !q.status || s.withdrawals[r].status == *q.status; });
  return page_answer(
      "withdrawals", page,
      [&](JsonWriter& w, uint32_t r) { write_withdrawal(w, s, s.withdrawals[r], false); },
      [&](uint32_t r) { return s.withdrawals[r].id; });
}

}  // namespace betcore::api
