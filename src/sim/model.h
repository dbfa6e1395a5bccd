// A sequential model of the API for the simulator's workload, written apart
// from the state machine (single bets, deposits, withdrawals, markets,
// settlement and resettlement). The checker feeds it the committed log in
// order; every answer a client got, every balance a read returned and the
// final state of every replica must agree with it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "domain/commands.h"
#include "domain/rejection.h"

namespace betcore::sim {

// Client ids make operations: "bet:b1", "deposit:d7", "request:r3", ...
// ("request:" alone: a trader request without a request_id).
std::string op_key(const domain::Command& command);

struct ModelAnswer {
  domain::Code code = domain::Code::ok;
  bool duplicate = false;
  uint32_t count = 0;  // settlements: bets settled
};

struct ModelAccount {
  int64_t balance = 0, in_play = 0, pending = 0, receivable = 0;
  std::vector<std::pair<uint64_t, int64_t>> balance_history;  // (position, balance after)
};

class Model {
 public:
  ModelAnswer apply(const domain::Command& command, uint64_t position);

  // The balance right after applying everything at or before `position`;
  // false for an account that did not exist yet.
  bool balance_at(const std::string& account, uint64_t position, int64_t& balance) const;

  const std::map<std::string, ModelAccount>& accounts() const { return accounts_; }
  int64_t house() const { return house_; }
  int64_t deposits() const { return deposits_; }
  int64_t withdrawals_completed() const { return withdrawals_completed_; }
  size_t bets() const { return bets_.size(); }
  bool has_bet(const std::string& id) const { return bets_.count(id) != 0; }
  // Settled bets, counted once per (re)settlement that settled them.
  uint64_t settlements_of_bets() const { return bet_settlements_; }

 private:
  struct Remembered {
    uint64_t fingerprint;
    uint32_t count = 0;
  };
  struct Bet {
    std::string account;
    int64_t stake = 0;
    int64_t odds = 0;  // thousandths
    size_t selection = 0;
    bool open = true;
    int64_t payout = 0;
  };
  struct Market {
    domain::MarketAction last = domain::MarketAction::resume;
    bool settled = false;
    std::vector<std::string> selections;
    std::vector<int64_t> odds;
    std::vector<std::string> bets;
    uint64_t settle_fingerprint = 0;
    uint32_t settled_bets = 0;
    bool closed() const { return last == domain::MarketAction::close; }
    bool open() const { return !settled && last == domain::MarketAction::resume; }
  };
  struct Withdrawal {
    std::string account;
    int64_t amount = 0;
    int state = 0;  // 0 pending, 1 completed, 2 failed
    uint64_t outcome_fingerprint = 0;
  };

  ModelAnswer apply_body(const domain::Command& command, uint64_t fp, uint64_t position);
  // One per command of the workload; anything else is not modelled.
  ModelAnswer on(const domain::CreateAccount& c, uint64_t fp, uint64_t position);
  ModelAnswer on(const domain::Deposit& c, uint64_t fp, uint64_t position);
  ModelAnswer on(const domain::RequestWithdrawal& c, uint64_t fp, uint64_t position);
  ModelAnswer withdrawal_outcome(const std::string& withdrawal_id, int wanted, uint64_t fp, uint64_t position);
  ModelAnswer on(const domain::CompleteWithdrawal& c, uint64_t fp, uint64_t position);
  ModelAnswer on(const domain::FailWithdrawal& c, uint64_t fp, uint64_t position);
  ModelAnswer on(const domain::CreateEvent& c, uint64_t fp, uint64_t position);
  ModelAnswer on(const domain::CreateMarket& c, uint64_t fp, uint64_t position);
  ModelAnswer on(const domain::ChangeMarketStatus& c, uint64_t fp, uint64_t position);
  ModelAnswer on(const domain::PlaceBet& c, uint64_t fp, uint64_t position);
  ModelAnswer on(const domain::SettleMarket& c, uint64_t fp, uint64_t position);
  template <class C>
  ModelAnswer on(const C&, uint64_t, uint64_t) {
    return ModelAnswer{domain::Code::invalid_request, false, 0};  // not in the workload
  }
  ModelAnswer answer_or_conflict(std::map<std::string, Remembered>& seen, const std::string& id,
                                 uint64_t fp);
  void pay_into_balance(ModelAccount& a, int64_t amount);
  void take_from_balance(ModelAccount& a, int64_t amount);
  void note(const std::string& account, uint64_t position);

  std::map<std::string, ModelAccount> accounts_;
  std::map<std::string, Remembered> account_ids_, event_ids_, market_ids_, deposit_refs_, withdrawal_ids_,
      bet_ids_, request_ids_;
  struct Refused {
    uint64_t fingerprint;
    domain::Code code;
  };
  std::map<std::string, Refused> refused_;   // by client key, as the state machine keeps them
  std::set<std::string> accepted_keys_;
  std::map<std::string, Market> markets_;
  std::map<std::string, Bet> bets_;
  std::map<std::string, Withdrawal> withdrawals_;
  int64_t house_ = 0, deposits_ = 0, withdrawals_completed_ = 0;
  uint64_t bet_settlements_ = 0;
};

}  // namespace betcore::sim
