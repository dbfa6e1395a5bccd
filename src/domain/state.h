// The whole state of the betting state machine: plain tables indexed by dense
// indices assigned in apply order, so iteration order (and so the snapshot and
// the digest) is the same on every replica. Hash maps only map ids to indices
// and are never iterated.
//
// Thread: owned by one thread (the applier); nothing here is synchronised.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "domain/commands.h"
#include "domain/id_table.h"
#include "domain/rejection.h"
#include "domain/stable_vector.h"
#include "domain/types.h"

namespace betcore::domain {

// The audit chain (docs/audit.md): the hash of the whole log so far, and
// its value after each of the last kWindow batches, which the anchors of
// new batches are checked against. Computed outside the state machine
// (codec/chain.h, over the batches' bytes); kept here so that a snapshot
// carries it and every replica checks anchors alike.
struct ChainPoint {
  uint64_t position = 0;
  std::array<uint8_t, 32> chain{};
};
struct AuditChain {
  static constexpr size_t kWindow = 1'024;
  // The chain begins at the log's first version 2 batch (codec/chain.h), a
  // point of the log itself: every replica agrees whether it has begun,
  // however it got its state (a replay, a snapshot from before the chain
  // existed, a peer's snapshot).
  std::array<uint8_t, 32> head{};  // after the last chained entry; zeros before the chain begins
  std::deque<ChainPoint> recent;   // oldest first, at most kWindow; empty until the chain begins
  bool begun() const { return !recent.empty(); }
};

// Per-currency house side of the double-entry ledger.
//   house: the book's profit and loss (lost stakes in, winnings out);
//   world: money outside the platform (deposits out of it, withdrawals into it).
// Every punter slot (balance, in_play, pending, receivable) plus house plus
// world sums to zero, per currency, after every command.
struct CurrencyBook {
  std::string code;
  Amount house{0};
  Amount world{0};
  Amount deposits_total{0};              // statistics for the conservation check
  Amount withdrawals_completed_total{0};
};

// Hot fields first: a bet reads and writes the first cache line only (the
// balance, the stake in play, the open payouts, the exclusion, the bet
// chain), and every account starts a line, so placing a bet on one of a
// million accounts is one miss for the account, not two or three.
struct alignas(64) Account {
  Amount balance{0};              // >= 0: the punter's money, free to bet or withdraw
  Amount in_play{0};              // >= 0: stakes of open bets
  Amount open_payouts{0};         // potential payouts of open bets: an overflow guard
  TimeMs self_excluded_until{0};
  CurrencyIdx currency;
  // The account's bets as a chain, newest first: last_bet, then each bet's
  // prev_of_account. A chain, not a vector, so a million accounts cost no
  // allocation each (issue 2: memory per open bet).
  uint32_t last_bet = UINT32_MAX;
  uint32_t bet_count = 0;
  Amount receivable{0};           // <= 0: what the punter owes after a resettlement
                                  // took back more than the balance held
  Amount pending_withdrawals{0};  // >= 0: requested, not yet completed or failed
  // The second line: what a bet does not touch.
  std::string_view id;
  Amount deposit_limit_24h{0};    // 0: none
  TimeMs created_at{0};
  LogIndex created_index{0};
  uint64_t fingerprint = 0;       // of the CreateAccount command
};
static_assert(sizeof(Account) == 128);
static_assert(offsetof(Account, pending_withdrawals) + sizeof(Amount) <= 64,
              "the hot fields fill one line");

struct Event {
  std::string_view id;
  std::string name;
  TimeMs starts_at{0};
  LogIndex created_index{0};
  uint64_t fingerprint = 0;
};

enum class MarketStatus : uint8_t { open = 0, suspended = 1, closed = 2, settled = 3 };

struct Selection {
  std::string id;
  std::string name;
  Odds odds;
  bool active = true;
  LegResult result = LegResult::pending;
  Amount liability{0};  // sum of (potential payout - stake) of open bets backing it
};

struct Market {
  std::string_view id;
  EventIdx event;
  std::string name;
  MarketStatus status = MarketStatus::open;
  Amount min_stake{1};
  Amount max_stake{kAmountMax};
  Amount max_liability{0};
  std::vector<Selection> selections;
  std::vector<uint32_t> bets;      // BetIdx values with a leg on this market
  std::string status_reason;
  LogIndex created_index{0};
  uint64_t fingerprint = 0;        // of the CreateMarket command
  // Settlement: the answer to settle/resettle, kept so a retry gets it again.
  uint64_t settle_fingerprint = 0;
  LogIndex settled_index{0};
  uint32_t settled_bets = 0;
  uint32_t settlements = 0;        // 1 after settle, +1 per resettle
  // Odds feed (snapshot section 4): the producer pricing it, and the
  // provider's order of the last prices applied.
  ProducerIdx producer;
  int64_t feed_ts = 0;
  uint64_t feed_seq = 0;
};

// An odds feed producer (snapshot section 3; last_source_ts: section 5).
// While it is down, alive_until is the moment it went down: a recovered
// alive stamped before it answers an earlier outage.
struct Producer {
  std::string_view id;
  TimeMs alive_until{0};           // its markets refuse bets once now >= this
  int64_t limit_ms = 0;            // of the last alive
  uint32_t recoveries = 0;         // times it came back after being down
  LogIndex created_index{0};
  int64_t last_source_ts = 0;      // of the last stamped alive accepted; 0: none
};

enum class BetStatus : uint8_t { open = 0, won = 1, lost = 2, void_ = 3 };

struct Leg {
  MarketIdx market;
  uint16_t selection = 0;          // index into the market's selections
  LegResult result = LegResult::pending;
  uint8_t reserved = 0;
  int32_t odds_thousandths = 0;    // the odds the bet took on this leg
};
static_assert(sizeof(Leg) == 12);

struct Bet {
  std::string_view id;
  AccountIdx account;
  uint32_t legs_begin = 0;         // into State::legs
  uint8_t leg_count = 0;
  BetStatus status = BetStatus::open;
  uint8_t settlements = 0;         // how many times it was (re)settled
  uint32_t prev_of_account = UINT32_MAX;  // the account's previous bet
  Amount stake{0};
  Odds odds;                       // combined odds for a multiple
  Amount potential_payout{0};
  Amount payout{0};                // what the last settlement paid to balance
  TimeMs placed_at{0};
  LogIndex index{0};
  uint64_t fingerprint = 0;
};

struct DepositRecord {
  std::string_view payment_ref;
  AccountIdx account;
  Amount amount{0};
  Amount balance_after{0};
  TimeMs at{0};
  LogIndex index{0};
  uint64_t fingerprint = 0;
};

enum class WithdrawalStatus : uint8_t { pending = 0, completed = 1, failed = 2 };

struct Withdrawal {
  std::string_view id;
  AccountIdx account;
  Amount amount{0};
  WithdrawalStatus status = WithdrawalStatus::pending;
  std::string outcome_ref;         // gateway_ref (completed) or reason (failed)
  TimeMs requested_at{0};
  TimeMs outcome_at{0};
  LogIndex index{0};
  LogIndex outcome_index{0};
  uint64_t fingerprint = 0;
  uint64_t outcome_fingerprint = 0;
};

struct DepositWindowEntry {
  TimeMs at;
  Amount amount;
};

// A request refused on its merits, remembered by its client id ("bet:b-1",
// "request:r-7", ...): a late copy of it (an attempt whose fate was unknown)
// or a retry gets this answer again, never a new evaluation.
struct RejectedRecord {
  uint64_t fingerprint = 0;
  Code code = Code::ok;
  std::string message;
};

// A trader request remembered by its request_id: the first answer.
struct RequestRecord {
  uint64_t fingerprint = 0;
  uint32_t ref = 0;
  uint32_t count = 0;
};

struct State {
  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  TimeMs now{0};                   // never runs backwards: max(previous, stamped)
  LogIndex applied{0};             // the last batch applied
  uint64_t commands_applied = 0;   // accepted as new: rejections and retries do not count

  std::vector<CurrencyBook> currencies;
  std::vector<Account> accounts;
  std::vector<Event> events;
  std::vector<Market> markets;
  // The tables that grow with every bet and deposit never move their rows
  // (stable_vector.h: no copy of millions of rows in one apply).
  StableVector<Bet> bets;
  std::vector<Leg> legs;  // contiguous: a bet's legs are one span
  StableVector<DepositRecord> deposits;
  std::vector<Withdrawal> withdrawals;
  std::vector<Producer> producers;

  IdTable<AccountIdx> account_ids;
  IdTable<EventIdx> event_ids;
  IdTable<MarketIdx> market_ids;
  IdTable<BetIdx> bet_ids;
  IdTable<DepositIdx> deposit_refs;
  IdTable<WithdrawalIdx> withdrawal_ids;
  IdTable<ProducerIdx> producer_ids;

  // Rolling 24-hour deposit windows, only for accounts with a limit.
  absl::flat_hash_map<uint32_t, std::vector<DepositWindowEntry>> deposit_windows;

  // Trader requests by request_id (ordered: snapshots iterate it).
  std::map<std::string, RequestRecord, std::less<>> request_ids;
  // Refused requests by client id (ordered: snapshots iterate it).
  std::map<std::string, RejectedRecord, std::less<>> rejected;

  AuditChain audit;

  // Room for `commands` more commands' bets and deposits, when a replay
  // knows how many are coming (a restore): the legs and the id maps then
  // grow without copying or rehashing (the bets and deposits never copy),
  // and the legs and the bets' and deposits' big chunks ask for huge pages
  // (a replay's time goes largely to faulting in its new state otherwise).
  // Reserved memory is untouched until used. Changes nothing a digest or a
  // snapshot sees.
  void reserve_for(uint64_t commands) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(commands, uint64_t{8} << 20));
    bets.advise_huge_pages();
    deposits.advise_huge_pages();
    legs.reserve(legs.size() + n + n / 2);
    advise_huge_pages(legs.data(), legs.capacity() * sizeof(Leg));
    bet_ids.reserve(bets.size() + n);
    deposit_refs.reserve(deposits.size() + n / 4);
  }

  CurrencyIdx find_currency(std::string_view code) const {
    for (uint32_t i = 0; i < currencies.size(); ++i) {
      if (currencies[i].code == code) return CurrencyIdx{i};
    }
    return CurrencyIdx{};
  }
  const Leg* bet_legs(const Bet& b) const { return legs.data() + b.legs_begin; }
  Leg* bet_legs(const Bet& b) { return legs.data() + b.legs_begin; }
  bool self_excluded(const Account& a) const { return now < a.self_excluded_until; }
  // A producer is down once the batch time reaches its alive deadline.
  bool producer_down(const Producer& p) const { return now >= p.alive_until; }
  // A market whose feed producer has gone silent takes no bets.
  bool feed_silent(const Market& m) const {
    return m.producer.valid() && producer_down(producers[m.producer.value]);
  }
};

}  // namespace betcore::domain
