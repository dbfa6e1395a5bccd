// The write routes (every POST): parse, hold punters to their account, submit, answer.
#include <string>

#include "api/answers.h"
#include "api/json_writer.h"
#include "api/request_parsing.h"
#include "api/route_handlers.h"
#include "api/views.h"
#include "codec/command_codec.h"
#include "domain/rejection.h"

namespace betcore::api {

using namespace betcore::domain;

namespace {

Parsed parse_for(Route route, std::string_view path_id, std::string_view body) {
  switch (route) {
    case Route::create_account: return parse_create_account(body);
    case Route::self_exclusion: return parse_self_exclusion(path_id, body);
    case Route::deposit: return parse_deposit(body);
    case Route::request_withdrawal: return parse_withdrawal(body);
    case Route::complete_withdrawal: return parse_complete_withdrawal(path_id, body);
    case Route::fail_withdrawal: return parse_fail_withdrawal(path_id, body);
    case Route::create_event: return parse_create_event(body);
    case Route::create_market: return parse_create_market(body);
    case Route::prices: return parse_prices(path_id, body);
    case Route::suspend: return parse_market_status(path_id, MarketAction::suspend, body);
    case Route::resume: return parse_market_status(path_id, MarketAction::resume, body);
    case Route::close: return parse_market_status(path_id, MarketAction::close, body);
    case Route::settle: return parse_settle(path_id, body, false);
    case Route::resettle: return parse_settle(path_id, body, true);
    case Route::place_bet: return parse_bet(body);
    case Route::feed_prices: return parse_feed_prices(path_id, body);
    case Route::feed_alive: return parse_feed_alive(path_id, body);
    default: break;  // not a write: the route table sent a read here (fails closed, 400)
  }
  Parsed p;
  p.error = "not a write";
  return p;
}

// The account a write acts for, to hold punters to their own.
std::string_view account_of(const Command& c) {
  if (auto* x = std::get_if<SetSelfExclusion>(&c)) return x->account_id;
  if (auto* x = std::get_if<RequestWithdrawal>(&c)) return x->account_id;
  if (auto* x = std::get_if<PlaceBet>(&c)) return x->account_id;
  if (auto* x = std::get_if<Deposit>(&c)) return x->account_id;
  return {};
}

// The answer to an applied write, rendered on the applier thread.
http::Response render_write(Route route, const Outcome& out, const State& s, uint64_t index) {
  if (!out.ok()) {
    // Where the state machine refused it: "error": {code, message, index}.
    http::Response r = error(code_http_status(out.code), code_name(out.code), out.message);
    r.body.insert(r.body.size() - 2, ",\"index\":" + std::to_string(index));
    return r;
  }
  std::string body;
  body.reserve(512);
  JsonWriter w(body);
  int status = 200;
  switch (route) {
    case Route::create_account:
      status = 201;
      write_new_account(w, s, s.accounts[out.ref]);
      break;
    case Route::self_exclusion:
      write_account(w, s, s.accounts[out.ref], static_cast<int64_t>(index));
      break;
    case Route::deposit:
      status = 201;
      write_deposit(w, s, s.deposits[out.ref]);
      break;
    case Route::request_withdrawal:
      status = 201;
      write_withdrawal(w, s, s.withdrawals[out.ref], true);
      break;
    case Route::complete_withdrawal:
    case Route::fail_withdrawal:
      write_withdrawal(w, s, s.withdrawals[out.ref], false);
      break;
    case Route::create_event:
      status = 201;
      write_event(w, s.events[out.ref]);
      break;
    case Route::create_market:
      status = 201;
      write_market(w, s, s.markets[out.ref],
                   static_cast<int64_t>(s.markets[out.ref].created_index.value));
      break;
    case Route::prices:
    case Route::suspend:
    case Route::resume:
    case Route::close:
      write_market(w, s, s.markets[out.ref], static_cast<int64_t>(index));
      break;
    case Route::settle:
    case Route::resettle: {
      const Market& m = s.markets[out.ref];
      w.begin_object();
      w.field("market_id", m.id);
      w.field_u64("settled_bets", out.count);
      w.field_u64("settlements", m.settlements);
      w.field_u64("index", m.settled_index.value);
      w.end_object();
      break;
    }
    case Route::place_bet:
      status = 201;
      write_bet(w, s, s.bets[out.ref], true);
      break;
    case Route::feed_prices:
      // Small: the feed sends thousands a second. "applied": false when the
      // change was not after the market's last one (a duplicate, or
      // overtaken), which changed nothing.
      w.begin_object();
      w.field("market_id", s.markets[out.ref].id);
      w.field_bool("applied", !out.duplicate);
      w.field_u64("index", index);
      w.end_object();
      break;
    case Route::feed_alive:
      write_producer(w, s, s.producers[out.ref]);
      break;
    default:  // parse_for let no other route through
      return error(500, "internal", "no renderer for this route");
  }
  return json_response(status, std::move(body));
}

// Answers a submitted write once its fate is known, on the applier thread.
void answer_result(const Answer& answer, Route route, const node::WriteResult& r) {
  if (r.kind == node::WriteResult::Kind::applied) {
    answer.send(render_write(route, *r.outcome, *r.state, r.index));
  } else {
    answer.send(write_failed(r));
  }
}

}  // namespace

http::Response write_failed(const node::WriteResult& r) {
  switch (r.kind) {
    case node::WriteResult::Kind::outcome_unknown:
      return error(504, "outcome_unknown",
                   "the write may or may not have been committed (" + r.detail +
                       "); retry it with the same id");
    case node::WriteResult::Kind::unavailable:
      return with_retry_after(
          error(503, "unavailable", "the write was not committed: " + r.detail + "; retry later"),
          1);
    case node::WriteResult::Kind::applied:
      break;
  }
  return error(500, "internal", "write_failed called on an applied write");
}

http::Response submit_refused(Services& services, node::SubmitStatus st) {
  if (st == node::SubmitStatus::overloaded) {
    return with_retry_after(
        error(429, "overloaded", "the node's submit queue is full; retry after a second"), 1);
  }
  node::NodeStatus ns = services.node.status();
  return with_retry_after(
      error(503, "unavailable",
            "this node takes no writes now: " +
                (ns.not_ready_reason.empty() ? std::string("stopping") : ns.not_ready_reason)),
      1);
}

namespace routes {

void write(Services& services, Call& call) {
  const Route route = call.route;
  Parsed parsed = parse_for(route, call.path_id, call.req.body);
  if (!parsed.ok()) {
    call.answer.send(error(400, "invalid_request", parsed.error));
    return;
  }
  if (call.principal->role == Role::punter) {
    std::string_view acct = account_of(parsed.command);
    if (acct != call.principal->account_id) {
      call.answer.send(error(403, "forbidden", "a punter token acts only for its own account"));
      return;
    }
  }
  std::string encoded;
  encoded.reserve(128);
  codec::encode_command(parsed.command, encoded);
  Answer answer = call.answer;
  node::SubmitStatus st =
      services.node.submit(std::move(encoded), [answer, route](const node::WriteResult& r) {
        answer_result(answer, route, r);
      }, actor_of(call));
  if (st != node::SubmitStatus::accepted) call.answer.send(submit_refused(services, st));
}

}  // namespace routes

}  // namespace betcore::api
