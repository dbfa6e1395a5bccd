// The loaded book the microbenchmarks start from: one event, `markets`
// three-way markets "mkt-N" and `accounts` EUR accounts "acct-N", each
// funded with `funds`, applied in batches of 4,096 commands as a node would.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "domain/state_machine.h"

namespace betcore::bench {

inline std::string account_id(int i) { return "acct-" + std::to_string(i); }
inline std::string market_id(int i) { return "mkt-" + std::to_string(i); }

inline constexpr int64_t kBookStartMs = 1'700'000'000'000;

// `index` is the last log index used: later batches go after it.
inline std::unique_ptr<domain::StateMachine> make_book(int accounts, int markets, int64_t funds,
                                                       uint64_t& index) {
  using namespace domain;
  auto m = std::make_unique<StateMachine>();
  m->begin_batch(LogIndex{++index}, TimeMs{kBookStartMs});
  m->apply(CreateEvent{"ev-1", "Big night", TimeMs{1'800'000'000'000}});
  for (int i = 0; i < markets; ++i) {
    CreateMarket c;
    c.market_id = market_id(i);
    c.event_id = "ev-1";
    c.name = "Match odds";
    c.selections = {{"home", "Home", Odds{2100}}, {"draw", "Draw", Odds{3400}}, {"away", "Away", Odds{3900}}};
    if (!m->apply(c).ok()) std::abort();
  }
  for (int i = 0; i < accounts; ++i) {
    if (i % 4096 == 0) m->begin_batch(LogIndex{++index}, TimeMs{kBookStartMs + i});
    if (!m->apply(CreateAccount{account_id(i), "EUR", Amount{0}}).ok()) std::abort();
    if (!m->apply(Deposit{"dep-" + std::to_string(i), account_id(i), Amount{funds}}).ok()) std::abort();
  }
  return m;
}

}  // namespace betcore::bench
