// The book's own series in /metrics: bets accepted and refused by reason,
// stakes, payouts, deposits and withdrawals in minor units, open bets and
// open liability, settlement lag. Derived from the committed log as this
// replica applies it, so every replica reports the same book: aggregate
// across nodes with max, never sum (docs/monitoring.md).
//
// Counters count what this process applied after it opened (a replay at
// start-up is history, not traffic: counting it would show a surge on every
// restart). Gauges (open bets, open stakes, open liability) describe the
// whole state: recounted from it when the node opens or replaces its state,
// then kept up to date command by command.
//
// Labels stay bounded: the refusal codes of API.md and the currencies of the
// book; never an account, a bet or a market.
//
// Thread: the applier's. The registry's series are read by scrapes on any
// thread (they are atomics).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "domain/rejection.h"
#include "domain/state.h"
#include "domain/state_machine.h"
#include "ops/metrics.h"

namespace betcore::node {

class BusinessMetrics {
 public:
  explicit BusinessMetrics(ops::Registry& metrics);

  // Recounts the gauges from a whole state: O(bets). At open and after the
  // state is replaced by a snapshot.
  void recount(const domain::State& s);

  // One applied command: its outcome and the events it emitted (the state
  // is the one after it).
  void observe(const domain::Command& command, const domain::Outcome& outcome,
               std::span<const domain::DomainEvent> events, const domain::State& s);

  // Totals so far, for the guard. Thread-safe.
  double bets_accepted() const;
  double bets_refused() const;
  // Refused bets so far by refusal code (domain::code_name), every code.
  std::vector<std::pair<std::string, double>> bets_refused_by_code() const;

 private:
  struct PerCurrency {
    ops::Counter* stakes = nullptr;
    ops::Counter* payouts = nullptr;
    ops::Counter* deposits = nullptr;
    ops::Counter* withdrawals = nullptr;
    ops::Gauge* open_stakes = nullptr;
    ops::Gauge* open_liability = nullptr;
    int64_t open_stakes_minor = 0;
    int64_t open_liability_minor = 0;
  };

  PerCurrency& currency(const domain::State& s, domain::CurrencyIdx c);
  void publish(PerCurrency& pc);
  void on_event(const domain::DomainEvent& e, const domain::State& s);

  ops::Registry& metrics_;
  // Index 0 (Code::ok) is "accepted"; the others are refusal codes.
  std::array<ops::Counter*, static_cast<size_t>(domain::Code::last) + 1> bets_{};
  ops::Counter* bet_retries_ = nullptr;
  ops::Gauge& open_bets_;
  ops::Histogram& settlement_lag_;
  ops::Counter& resettlements_;
  int64_t open_bets_count_ = 0;
  std::vector<PerCurrency> currencies_;  // by CurrencyIdx
};

}  // namespace betcore::node
