#include "node/business_metrics.h"

#include <algorithm>
#include <string>
#include <variant>

namespace betcore::node {
namespace {

// From minutes to two days: a market is settled soon after its event ends,
// or days later when a result is disputed.
constexpr double kSettlementLagBuckets_s[] = {60,    300,   900,   1800,  3600,  7200,
                                              10800, 21600, 43200, 86400, 172800};

}  // namespace

BusinessMetrics::BusinessMetrics(ops::Registry& metrics)
    : metrics_(metrics),
      open_bets_(metrics.gauge("betcore_open_bets", "Bets placed and not yet settled")),
      settlement_lag_(metrics.histogram(
          "betcore_settlement_lag_seconds",
          "From an event's start to the first settlement of each of its markets (log time)", {},
          kSettlementLagBuckets_s)),
      resettlements_(metrics.counter("betcore_market_resettlements_total",
                                     "Markets settled again with other results")) {
  for (size_t i = 0; i < bets_.size(); ++i) {
    auto code = static_cast<domain::Code>(i);
    std::string outcome =
        code == domain::Code::ok ? "accepted" : std::string(domain::code_name(code));
    bets_[i] = &metrics.counter("betcore_bets_total",
                                "Bets placed, by outcome: accepted or the refusal's code (API.md)",
                                {{"outcome", outcome}});
  }
  bet_retries_ = &metrics.counter(
      "betcore_bet_retries_total",
      "Bet requests that were retries of a bet already answered (the first answer again)");
}

BusinessMetrics::PerCurrency& BusinessMetrics::currency(const domain::State& s,
                                                        domain::CurrencyIdx c) {
  if (c.value >= currencies_.size()) currencies_.resize(c.value + 1);
  PerCurrency& pc = currencies_[c.value];
  if (pc.stakes == nullptr) {
    // Once per currency, on the applier's thread: the registry allocates.
    ops::Labels l{{"currency", s.currencies[c.value].code}};
    pc.stakes = &metrics_.counter("betcore_stakes_minor_units_total",
                                  "Stakes of accepted bets, in the currency's minor units", l);
    pc.payouts = &metrics_.counter(
        "betcore_payouts_minor_units_total",
        "Paid into balances by settlements (wins and void refunds; a resettlement pays again "
        "after taking the earlier payout back), in minor units",
        l);
    pc.deposits = &metrics_.counter("betcore_deposits_minor_units_total",
                                    "Deposits credited, in minor units", l);
    pc.withdrawals = &metrics_.counter("betcore_withdrawals_minor_units_total",
                                       "Withdrawals completed (paid out), in minor units", l);
    pc.open_stakes = &metrics_.gauge("betcore_open_stakes_minor_units",
                                     "Stakes of open bets, in minor units", l);
    pc.open_liability = &metrics_.gauge(
        "betcore_open_liability_minor_units",
        "What the book pays beyond the stakes if every open bet wins, in minor units", l);
  }
  return pc;
}

void BusinessMetrics::publish(PerCurrency& pc) {
  pc.open_stakes->set(static_cast<double>(pc.open_stakes_minor));
  pc.open_liability->set(static_cast<double>(pc.open_liability_minor));
}

void BusinessMetrics::recount(const domain::State& s) {
  for (PerCurrency& pc : currencies_) pc.open_stakes_minor = pc.open_liability_minor = 0;
  for (uint32_t c = 0; c < s.currencies.size(); ++c) currency(s, domain::CurrencyIdx{c});
  open_bets_count_ = 0;
  for (const domain::Bet& b : s.bets) {
    if (b.status != domain::BetStatus::open) continue;
    ++open_bets_count_;
    PerCurrency& pc = currencies_[s.accounts[b.account.value].currency.value];
    pc.open_stakes_minor += b.stake.minor;
    pc.open_liability_minor += (b.potential_payout - b.stake).minor;
  }
  for (PerCurrency& pc : currencies_) {
    if (pc.stakes != nullptr) publish(pc);
  }
  open_bets_.set(static_cast<double>(open_bets_count_));
}

double BusinessMetrics::bets_accepted() const { return static_cast<double>(bets_[0]->value()); }

double BusinessMetrics::bets_refused() const {
  uint64_t n = 0;
  for (size_t i = 1; i < bets_.size(); ++i) n += bets_[i]->value();
  return static_cast<double>(n);
}

std::vector<std::pair<std::string, double>> BusinessMetrics::bets_refused_by_code() const {
  std::vector<std::pair<std::string, double>> out;
  out.reserve(bets_.size() - 1);
  for (size_t i = 1; i < bets_.size(); ++i) {
    out.emplace_back(std::string(domain::code_name(static_cast<domain::Code>(i))),
                     static_cast<double>(bets_[i]->value()));
  }
  return out;
}

void BusinessMetrics::observe(const domain::Command& command, const domain::Outcome& outcome,
                              std::span<const domain::DomainEvent> events, const domain::State& s) {
  if (std::holds_alternative<domain::PlaceBet>(command)) {
    if (outcome.duplicate) {
      bet_retries_->inc();
    } else {
      bets_[std::min(static_cast<size_t>(outcome.code), bets_.size() - 1)]->inc();
    }
  }
  for (const domain::DomainEvent& e : events) on_event(e, s);
}

void BusinessMetrics::on_event(const domain::DomainEvent& e, const domain::State& s) {
  using domain::EventType;
  switch (e.type) {
    case EventType::bet_placed: {
      const domain::Bet& b = s.bets[e.ref];
      PerCurrency& pc = currency(s, s.accounts[b.account.value].currency);
      pc.stakes->inc(static_cast<uint64_t>(b.stake.minor));
      pc.open_stakes_minor += b.stake.minor;
      pc.open_liability_minor += (b.potential_payout - b.stake).minor;
      publish(pc);
      open_bets_.set(static_cast<double>(++open_bets_count_));
      break;
    }
    case EventType::bet_settled: {
      const domain::Bet& b = s.bets[e.ref];
      PerCurrency& pc = currency(s, s.accounts[b.account.value].currency);
      pc.payouts->inc(static_cast<uint64_t>(b.payout.minor));
      // A resettlement reopens and settles again in one command: only a
      // bet's first settlement closes it.
      if (b.settlements == 1) {
        pc.open_stakes_minor -= b.stake.minor;
        pc.open_liability_minor -= (b.potential_payout - b.stake).minor;
        publish(pc);
        open_bets_.set(static_cast<double>(--open_bets_count_));
      }
      break;
    }
    case EventType::market_settled: {
      const domain::Market& m = s.markets[e.ref];
      const int64_t lag_ms = s.now.ms - s.events[m.event.value].starts_at.ms;
      settlement_lag_.observe(static_cast<double>(std::max<int64_t>(lag_ms, 0)) / 1000.0);
      break;
    }
    case EventType::market_resettled:
      resettlements_.inc();
      break;
    case EventType::deposit_credited: {
      const domain::DepositRecord& d = s.deposits[e.ref];
      currency(s, s.accounts[d.account.value].currency)
          .deposits->inc(static_cast<uint64_t>(d.amount.minor));
      break;
    }
    case EventType::withdrawal_completed: {
      const domain::Withdrawal& w = s.withdrawals[e.ref];
      currency(s, s.accounts[w.account.value].currency)
          .withdrawals->inc(static_cast<uint64_t>(w.amount.minor));
      break;
    }
    default:
      break;
  }
}

}  // namespace betcore::node
