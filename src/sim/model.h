// A sequential model of the API for the simulator's workload, written apart
// from the state machine (single bets, deposits, withdrawals, markets,
// settlement and resettlement, the odds feed: producers, their deadlines and
// prices in the provider's order). The checker feeds it the committed log in
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
// ("request:" alone: a trader request without a request_id). The odds
// feed's commands have no client id: a price change is the provider's
// (market, ts, seq), "prices:m1:1767225600123:7"; an alive is
// "alive:p0:2017", its producer and limit_ms. An alive names nothing else,
// so the sim's feed client makes every alive of a run distinct by its
// limit (kFeedLimitMs + its number, workload.cc); the checker then tells
// alives apart, and ModelAnswer::repeats says what a copy of one does.
std::string op_key(const domain::Command& command);

struct ModelAnswer {
  domain::Code code = domain::Code::ok;
  bool duplicate = false;
  uint32_t count = 0;  // settlements: bets settled; feed prices: 1 applied, 0 not (stale)
  // A heartbeat (FeedAlive): every copy that lands applies again, at its own
  // batch time, so it is not exactly-once; each copy's answer is the model's.
  bool repeats = false;
};

// What the odds feed did in the log, for the run's report.
struct FeedCounts {
  uint64_t alives = 0, alives_refused_down = 0, recoveries = 0;
  // Copies of one alive accepted again (a retry, a late copy); of those, the
  // ones that reopened a producer that went down after an earlier copy was
  // accepted: a recovery nobody made (docs/simulation.md, findings).
  uint64_t alive_copies_accepted_again = 0, reopened_by_an_old_alive = 0;
  // Copies answered as duplicates; recovered alives refused as answering an
  // earlier outage; how far past its stamp + limit an alive kept markets open.
  uint64_t alives_stale = 0, alives_refused_old_recovery = 0, alive_open_past_stamp_ms_max = 0;
  uint64_t prices_applied = 0, prices_stale = 0;
  uint64_t bets_on_feed_markets = 0, bets_refused_feed_silent = 0;
};

struct ModelAccount {
  int64_t balance = 0, in_play = 0, pending = 0, receivable = 0;
  std::vector<std::pair<uint64_t, int64_t>> balance_history;  // (position, balance after)
};

class Model {
 public:
  // `batch_ms`: the time stamp of the batch the command is in
  // (codec::BatchHeader::stamped_ms). Time runs as the state machine's does:
  // never backwards, the latest stamp seen so far.
  ModelAnswer apply(const domain::Command& command, uint64_t position, int64_t batch_ms);

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
  const FeedCounts& feed_counts() const { return feed_; }

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
  // An odds feed producer: its markets take bets while now < alive_until.
  struct Producer {
    int64_t alive_until_ms = 0;
    int64_t last_source_ts = 0;  // of the last stamped alive accepted
  };
  struct Market {
    domain::MarketAction last = domain::MarketAction::resume;
    std::string producer;      // empty: priced by hand
    int64_t feed_ts = 0;       // the last price change applied: (ts, seq)
    uint64_t feed_seq = 0;
    bool settled = false;
    std::vector<std::string> selections;
    std::vector<int64_t> odds;
    std::vector<bool> active;  // false: taken out of the book by the feed (a non-runner)
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
  ModelAnswer on(const domain::FeedAlive& c, uint64_t fp, uint64_t position);   // model_feed.cc
  void note_alive(const domain::FeedAlive& c, int64_t until, bool reopened);
  ModelAnswer on(const domain::FeedPrices& c, uint64_t fp, uint64_t position);  // model_feed.cc
  bool producer_down(const std::string& producer) const;
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
  std::map<std::string, Producer> producers_;
  std::set<std::string> alives_accepted_;  // by op_key: for FeedCounts only
  int64_t now_ms_ = 0;  // as State::now: max(previous, batch time)
  FeedCounts feed_;
  int64_t house_ = 0, deposits_ = 0, withdrawals_completed_ = 0;
  uint64_t bet_settlements_ = 0;
};

}  // namespace betcore::sim
