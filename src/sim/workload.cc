// What the simulated clients ask for (workload.h). Every draw from the random
// source happens in the order the seed's trace depends on.
#include "sim/workload.h"

#include "codec/command_codec.h"
#include "sim/run_context.h"

namespace betcore::sim {

namespace {

constexpr int kPunters = 6;
constexpr int kAccountsPerPunter = 4;

}  // namespace

Op write_op(int client, std::string what, domain::Command command) {
  Op op;
  op.kind = OpKind::write;
  op.client = client;
  op.what = std::move(what);
  codec::encode_command(command, op.encoded);
  op.command = std::move(command);
  return op;
}

std::vector<Client> Workload::make_clients() {
  std::vector<Client> clients;
  for (int i = 0; i < kPunters + 3; ++i) {
    Client c;
    c.number = i;
    c.role = i < kPunters         ? Role::punter
             : i == kPunters     ? Role::trader
             : i == kPunters + 1 ? Role::payments
                                 : Role::feed;
    if (c.role == Role::punter) {
      for (int a = 0; a < kAccountsPerPunter; ++a) {
        c.accounts.push_back("a" + std::to_string(i) + "-" + std::to_string(a));
      }
    }
    clients.push_back(std::move(c));
  }
  return clients;
}

std::optional<Op> Workload::next(Client& c) {
  switch (c.role) {
    case Role::punter:
      return punter_op(c);
    case Role::trader:
      return trader_op(c);
    case Role::payments:
      return payments_op(c);
    case Role::feed:
      return feed_op(c);
  }
  return std::nullopt;
}

void Workload::learn(const Op& op, const Answer& a) {
  feed_learn(op, a);
  if (a.kind != AnswerKind::applied || a.code != domain::Code::ok) return;
  if (auto* w = std::get_if<domain::RequestWithdrawal>(&op.command)) {
    withdrawals_.emplace_back(w->withdrawal_id, w->account_id);
  }
}

Op Workload::punter_op(Client& c) {
  if (c.setup_step < static_cast<int>(c.accounts.size())) {
    const std::string& a = c.accounts[static_cast<size_t>(c.setup_step++)];
    return write_op(c.number, "create account " + a,
                    domain::CreateAccount{a, "EUR", domain::Amount{0}});
  }
  const std::string& account = c.accounts[rng_.below(c.accounts.size())];
  uint64_t roll = rng_.below(100);
  std::string id = std::to_string(++id_seq_);
  if (roll < 22) {
    return write_op(c.number, "deposit d" + id,
                    domain::Deposit{"d" + id, account, domain::Amount{rng_.between(100, 10'000)}});
  }
  if (roll < 62 && markets_.size() + feed_markets_.size() > 0) {
    // The trader's markets and the feed's: bets on these meet the deadline.
    size_t pick = rng_.below(markets_.size() + feed_markets_.size());
    const MarketView& m = pick < markets_.size() ? markets_[pick] : feed_markets_[pick - markets_.size()].view;
    size_t sel = rng_.below(m.selections.size());
    domain::PlaceBet bet;
    bet.bet_id = "b" + id;
    bet.account_id = account;
    bet.stake = domain::Amount{rng_.between(1, 3'000)};
    bet.legs.push_back(domain::LegSpec{m.id, m.selections[sel], domain::Odds{m.odds[sel]}});
    return write_op(c.number, "bet b" + id + " on " + m.id, std::move(bet));
  }
  if (roll < 72) {
    return write_op(
        c.number, "withdrawal w" + id,
        domain::RequestWithdrawal{"w" + id, account, domain::Amount{rng_.between(1, 4'000)}});
  }
  Op op;
  op.kind = OpKind::read;
  op.client = c.number;
  op.what = "read " + account;
  op.account = account;
  return op;
}

Op Workload::trader_op(Client& c) {
  if (c.setup_step == 0) {
    ++c.setup_step;
    return write_op(c.number, "create event e0",
                    domain::CreateEvent{"e0", "Final", domain::TimeMs{kStartMs}});
  }
  int open = 0;
  for (const MarketView& m : markets_) open += m.status < 2 ? 1 : 0;
  uint64_t roll = rng_.below(100);
  if (open < 3 || roll < 15) return create_market(c);
  MarketView& m = markets_[rng_.below(markets_.size())];
  std::string tag = std::to_string(++id_seq_);
  if (m.status == 3 || roll < 30) return settle(c, m, tag);
  return change_status(c, m, tag, roll);
}

Op Workload::create_market(const Client& c) {
  MarketView m;
  m.id = "m" + std::to_string(markets_.size());
  domain::CreateMarket cm;
  cm.market_id = m.id;
  cm.event_id = "e0";
  cm.name = "Market " + m.id;
  size_t n = 2 + rng_.below(2);
  for (size_t i = 0; i < n; ++i) {
    std::string sid = "s" + std::to_string(i);
    int64_t odds = rng_.between(1'100, 6'000);
    cm.selections.push_back(domain::SelectionSpec{sid, "Runner " + sid, domain::Odds{odds}});
    m.selections.push_back(sid);
    m.odds.push_back(odds);
  }
  markets_.push_back(m);
  return write_op(c.number, "create market " + m.id, std::move(cm));
}

// Settle, or resettle with other results.
Op Workload::settle(const Client& c, MarketView& m, const std::string& tag) {
  using domain::LegResult;
  domain::SettleMarket s;
  s.market_id = m.id;
  s.resettle = m.status == 3;
  s.request_id = "r" + tag;  // a retry can never apply twice
  std::vector<LegResult> results(m.selections.size(), LegResult::lose);
  if (rng_.chance(100)) {
    for (auto& r : results) r = LegResult::void_;
  } else {
    results[rng_.below(results.size())] = LegResult::win;
  }
  if (s.resettle && results == m.results) {
    results[0] = results[0] == LegResult::win ? LegResult::lose : LegResult::win;
  }
  for (size_t i = 0; i < results.size(); ++i) {
    s.results.push_back(domain::ResultSpec{m.selections[i], results[i]});
  }
  m.results = results;
  m.status = 3;
  return write_op(c.number, std::string(s.resettle ? "resettle " : "settle ") + m.id + " #" + tag,
                  std::move(s));
}

Op Workload::change_status(const Client& c, MarketView& m, const std::string& tag, uint64_t roll) {
  domain::ChangeMarketStatus cs;
  cs.market_id = m.id;
  cs.reason = "op " + tag;
  cs.request_id = "r" + tag;  // a late retry cannot undo a later change
  if (roll < 60) {
    cs.action = domain::MarketAction::suspend;
    if (m.status < 2) m.status = 1;
  } else if (roll < 90) {
    cs.action = domain::MarketAction::resume;
    if (m.status < 2) m.status = 0;
  } else {
    cs.action = domain::MarketAction::close;
    if (m.status < 3) m.status = 2;
  }
  return write_op(
      c.number,
      "market " + m.id + " action " + std::to_string(static_cast<int>(cs.action)) + " #" + tag,
      std::move(cs));
}

std::optional<Op> Workload::payments_op(Client& c) {
  if (withdrawals_.empty()) return std::nullopt;
  auto [id, account] = withdrawals_.front();
  withdrawals_.pop_front();
  if (rng_.chance(750)) {
    return write_op(c.number, "complete " + id, domain::CompleteWithdrawal{id, "gw-" + id});
  }
  return write_op(c.number, "fail " + id, domain::FailWithdrawal{id, "declined by the bank"});
}

}  // namespace betcore::sim
