// The read routes: accounts, bets, deposits, withdrawals, markets and the ledger, from the state.
#include <memory>
#include <optional>
#include <string>

#include "api/answers.h"
#include "api/json_writer.h"
#include "api/list_reads.h"
#include "api/route_handlers.h"
#include "api/views.h"
#include "domain/ledger.h"
#include "domain/state_machine.h"

namespace betcore::api {

using namespace betcore::domain;

namespace {

// What a read needs once its request is checked. Copied into the read, which
// may run later, on the applier thread.
struct ReadArgs {
  node::Consistency consistency = node::Consistency::linearizable;
  uint64_t min_index = 0;
  std::string id;           // the path's
  std::string bet_account;  // get_bet: ?account_id=, empty when not given
  ListQuery list;           // list_deposits, list_withdrawals
};

// The reads whose path has no {id}.
bool without_path_id(Route route) {
  return route == Route::ledger_balance || route == Route::producers ||
         route == Route::list_deposits || route == Route::list_withdrawals;
}

// The query and the caller's reach, checked before the state is read: the
// refusal, or nothing with `args` filled in.
std::optional<http::Response> check_read(const Call& call, ReadArgs& args) {
  const http::Request& req = call.req;
  const Route route = call.route;
  if (!without_path_id(route) && !valid_id(call.path_id)) {
    return error(400, "invalid_request",
                 "the id in the path must be 1-64 characters from [A-Za-z0-9_.:-]");
  }
  if (auto stale = req.query_param("stale")) {
    if (*stale == "true") args.consistency = node::Consistency::stale;
    else if (*stale != "false") return error(400, "invalid_request", "stale must be true or false");
  }
  if (auto mi = req.query_param("min_index")) {
    auto v = parse_u64(*mi);
    if (!v) return error(400, "invalid_request", "min_index must be a non-negative integer");
    args.min_index = *v;
  }
  const Principal& who = *call.principal;
  if (who.role == Role::punter && (route == Route::get_account || route == Route::account_bets) &&
      call.path_id != who.account_id) {
    return error(403, "forbidden", "a punter token reads only its own account");
  }
  if (route == Route::get_bet) {
    args.bet_account = req.query_param("account_id").value_or("");
    if (!args.bet_account.empty() && !valid_id(args.bet_account)) {
      return error(400, "invalid_request",
                   "account_id must be 1-64 characters from [A-Za-z0-9_.:-]");
    }
    if (who.role == Role::punter && args.bet_account != who.account_id) {
      return error(403, "forbidden",
                   "a punter token reads only its own bets: pass ?account_id=<yours>");
    }
  }
  if (route == Route::list_deposits || route == Route::list_withdrawals) {
    if (auto refused = parse_list_query(req, route, args.list)) return refused;
  }
  args.id = std::string(call.path_id);
  return std::nullopt;
}

http::Response read_account_bets(const State& s, const Account& a, const http::Request& req) {
  std::string status = req.query_param("status").value_or("all");
  std::optional<BetStatus> want;
  bool settled_only = false;
  if (status == "open") want = BetStatus::open;
  else if (status == "won") want = BetStatus::won;
  else if (status == "lost") want = BetStatus::lost;
  else if (status == "void") want = BetStatus::void_;
  else if (status == "settled") settled_only = true;
  else if (status != "all") {
    return error(400, "invalid_request", "status must be open, settled, won, lost, void or all");
  }
  uint64_t limit = 100;
  if (auto l = req.query_param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v < 1 || *v > 1000) return error(400, "invalid_request", "limit must be 1..1000");
    limit = *v;
  }
  // Newest first, following the account's chain of bets.
  uint32_t next = a.last_bet;
  if (auto after = req.query_param("after")) {
    BetIdx b = s.bet_ids.find(*after);
    if (!b.valid() ||
        s.bets[b.value].account.value != static_cast<uint32_t>(&a - s.accounts.data())) {
      return error(400, "invalid_request", "after must be the id of a bet of this account");
    }
    next = s.bets[b.value].prev_of_account;
  }
  std::string body;
  JsonWriter w(body);
  w.begin_object().key("bets").begin_array();
  uint64_t n = 0;
  // Bounded scan: at most 100 x limit bets looked at per page.
  const uint64_t scan_max = limit * 100;
  uint32_t last_seen = UINT32_MAX;
  for (uint64_t scanned = 0; next != UINT32_MAX && n < limit && scanned < scan_max; ++scanned) {
    const Bet& b = s.bets[next];
    last_seen = next;
    next = b.prev_of_account;
    if (want && b.status != *want) continue;
    if (settled_only && b.status == BetStatus::open) continue;
    write_bet(w, s, b, false);
    ++n;
  }
  w.end_array();
  if (next != UINT32_MAX && last_seen != UINT32_MAX) {
    w.field("next_after", s.bets[last_seen].id);
  } else {
    w.key("next_after").null();
  }
  w.end_object();
  return json_response(200, std::move(body));
}

http::Response read_ledger(const State& s) {
  LedgerCheck check = verify_ledger(s);
  std::string body;
  JsonWriter w(body);
  w.begin_object();
  w.field_i64("total", ledger_total(s));
  w.field_u64("accounts", s.accounts.size());
  w.field_bool("balanced", check.ok);
  if (!check.ok) w.field("problem", check.problem);
  w.key("currencies").begin_array();
  for (size_t c = 0; c < s.currencies.size(); ++c) {
    int64_t bal = 0, play = 0, pend = 0, recv = 0;
    for (const Account& a : s.accounts) {
      if (a.currency.value != c) continue;
      bal += a.balance.minor;
      play += a.in_play.minor;
      pend += a.pending_withdrawals.minor;
      recv += a.receivable.minor;
    }
    const CurrencyBook& b = s.currencies[c];
    w.begin_object();
    w.field("currency", b.code);
    w.field_i64("balances", bal);
    w.field_i64("in_play", play);
    w.field_i64("pending_withdrawals", pend);
    w.field_i64("receivable", recv);
    w.field_i64("house", b.house.minor);
    w.field_i64("world", b.world.minor);
    w.field_i64("deposits", b.deposits_total.minor);
    w.field_i64("withdrawals_completed", b.withdrawals_completed_total.minor);
    w.end_object();
  }
  w.end_array();
  w.field_u64("index", s.applied.value);
  w.end_object();
  return json_response(200, std::move(body));
}

// The position a successful read reflects: a client can check the answer
// against the log, or pass it back as min_index.
http::Response with_index(const State& s, http::Response r) {
  if (r.status == 200) r.headers.emplace_back("X-Betcore-Index", std::to_string(s.applied.value));
  return r;
}

// The answer to a checked read, from the state `s`.
http::Response answer_read(const State& s, const Call& call, const ReadArgs& args) {
  const std::string& id = args.id;
  std::string body;
  JsonWriter w(body);
  switch (call.route) {
    case Route::get_account: {
      AccountIdx a = s.account_ids.find(id);
      if (!a.valid()) return error(404, "not_found", "no account '" + id + "'");
      write_account(w, s, s.accounts[a.value]);
      break;
    }
    case Route::account_bets: {
      AccountIdx a = s.account_ids.find(id);
      if (!a.valid()) return error(404, "not_found", "no account '" + id + "'");
      return with_index(s, read_account_bets(s, s.accounts[a.value], call.req));
    }
    case Route::get_withdrawal: {
      WithdrawalIdx x = s.withdrawal_ids.find(id);
      if (!x.valid() ||
          (call.principal->role == Role::punter &&
           s.accounts[s.withdrawals[x.value].account.value].id != call.principal->account_id)) {
        return error(404, "not_found", "no withdrawal '" + id + "'");
      }
      write_withdrawal(w, s, s.withdrawals[x.value], false);
      break;
    }
    case Route::get_deposit: {
      DepositIdx d = s.deposit_refs.find(id);
      if (!d.valid()) return error(404, "not_found", "no deposit '" + id + "'");
      write_deposit(w, s, s.deposits[d.value]);
      break;
    }
    case Route::list_deposits:
      return with_index(s, list_deposits(s, args.list));
    case Route::list_withdrawals:
      return with_index(s, list_withdrawals(s, args.list));
    case Route::ledger_balance:
      return with_index(s, read_ledger(s));
    case Route::get_market: {
      MarketIdx m = s.market_ids.find(id);
      if (!m.valid()) return error(404, "not_found", "no market '" + id + "'");
      write_market(w, s, s.markets[m.value]);
      break;
    }
    case Route::get_bet: {
      const std::string& acct = args.bet_account;
      BetIdx b = s.bet_ids.find(id);
      if (!b.valid() || (!acct.empty() && s.accounts[s.bets[b.value].account.value].id != acct)) {
        return error(404, "not_found",
                     "no bet '" + id + "'" + (acct.empty() ? "" : " for account '" + acct + "'"));
      }
      write_bet(w, s, s.bets[b.value], false);
      break;
    }
    case Route::producers: {
      w.begin_object();
      w.key("producers").begin_array();
      for (const Producer& p : s.producers) write_producer(w, s, p);
      w.end_array();
      w.end_object();
      break;
    }
    default:  // the route table sent a write here: fail closed
      return error(500, "internal", "no reader for this route");
  }
  return with_index(s, json_response(200, std::move(body)));
}

}  // namespace

namespace routes {

void read(Services& services, Call& call) {
  ReadArgs args;
  if (std::optional<http::Response> refused = check_read(call, args)) {
    call.answer.send(std::move(*refused));
    return;
  }
  node::Consistency consistency = args.consistency;
  uint64_t min_index = args.min_index;
  auto shared = std::make_shared<Call>(std::move(call));
  services.node.read(consistency, min_index, [shared, args = std::move(args)](const State* s) {
    if (s == nullptr) {
      shared->answer.send(with_retry_after(
          error(503, "unavailable",
                "this node has not caught up with the log in time; retry, or pass stale=true"),
          1));
      return;
    }
    shared->answer.send(answer_read(*s, *shared, args));
  });
}

}  // namespace routes

}  // namespace betcore::api
