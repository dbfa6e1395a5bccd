// JSON views of the state (API.md). Called with the state on the applier
// thread, or under the node's shared state lock: they read, never write.
#pragma once

#include <string>

#include "api/json_writer.h"
#include "domain/state.h"

namespace betcore::api {

std::string_view bet_status_name(domain::BetStatus s);
std::string_view market_status_name(domain::MarketStatus s);
std::string_view withdrawal_status_name(domain::WithdrawalStatus s);

// `index` >= 0 adds the index of the write this answers.
void write_account(JsonWriter& w, const domain::State& s, const domain::Account& a,
                   int64_t index = -1);
// The answer to creating an account: as it was at creation.
void write_new_account(JsonWriter& w, const domain::State& s, const domain::Account& a);
void write_event(JsonWriter& w, const domain::Event& e);
void write_market(JsonWriter& w, const domain::State& s, const domain::Market& m,
                  int64_t index = -1);
// `as_placed`: the answer to placing it (status open, no results), the same
// on every retry; otherwise the bet as it is now.
void write_bet(JsonWriter& w, const domain::State& s, const domain::Bet& b, bool as_placed);
// `as_requested`: the answer to requesting it (pending), the same on retries.
void write_withdrawal(JsonWriter& w, const domain::State& s, const domain::Withdrawal& x,
                      bool as_requested);
void write_deposit(JsonWriter& w, const domain::State& s, const domain::DepositRecord& d);
// An odds feed producer: up while the batch time is before its deadline.
void write_producer(JsonWriter& w, const domain::State& s, const domain::Producer& p);

}  // namespace betcore::api
