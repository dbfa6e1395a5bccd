#include "api/event_lines.h"

#include "api/json_writer.h"
#include "api/time_format.h"
#include "api/views.h"

namespace betcore::api {

using namespace betcore::domain;

namespace {

const char* type_name(EventType t) {
  switch (t) {
    case EventType::account_created: return "account_created";
    case EventType::self_exclusion_set: return "self_exclusion_set";
    case EventType::deposit_credited: return "deposit_credited";
    case EventType::withdrawal_requested: return "withdrawal_requested";
    case EventType::withdrawal_completed: return "withdrawal_completed";
    case EventType::withdrawal_failed: return "withdrawal_failed";
    case EventType::event_created: return "event_created";
    case EventType::market_created: return "market_created";
    case EventType::prices_updated: return "prices_updated";
    case EventType::market_suspended: return "market_suspended";
    case EventType::market_resumed: return "market_resumed";
    case EventType::market_closed: return "market_closed";
    case EventType::bet_placed: return "bet_placed";
    case EventType::bet_settled: return "bet_settled";
    case EventType::market_settled: return "market_settled";
    case EventType::market_resettled: return "market_resettled";
    case EventType::producer_up: return "producer_up";
  }
  return "unknown";
}

}  // namespace

void render_event_line(const DomainEvent& e, const State& s, uint64_t index, uint32_t seq, std::string& out) {
  JsonWriter w(out);
  w.begin_object();
  w.field_u64("index", index);
  w.field_u64("seq", seq);
  w.field("type", type_name(e.type));
  w.field("at", format_rfc3339(s.now.ms));
  switch (e.type) {
    case EventType::account_created:
    case EventType::self_exclusion_set:
      w.key("account");
      write_account(w, s, s.accounts[e.ref]);
      break;
    case EventType::deposit_credited:
      w.key("deposit");
      write_deposit(w, s, s.deposits[e.ref]);
      break;
    case EventType::withdrawal_requested:
      w.key("withdrawal");
      write_withdrawal(w, s, s.withdrawals[e.ref], true);
      break;
    case EventType::withdrawal_completed:
    case EventType::withdrawal_failed:
      w.key("withdrawal");
      write_withdrawal(w, s, s.withdrawals[e.ref], false);
      break;
    case EventType::event_created:
      w.key("event");
      write_event(w, s.events[e.ref]);
      break;
    case EventType::bet_placed:
      w.key("bet");
      write_bet(w, s, s.bets[e.ref], true);
      break;
    case EventType::bet_settled:
      w.key("bet");
      write_bet(w, s, s.bets[e.ref], false);
      break;
    case EventType::producer_up:
      w.key("producer");
      write_producer(w, s, s.producers[e.ref]);
      break;
    default:
      w.key("market");
      write_market(w, s, s.markets[e.ref]);
      break;
  }
  w.end_object();
  out.push_back('\n');
}

}  // namespace betcore::api
