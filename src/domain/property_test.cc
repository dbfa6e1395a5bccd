// Randomized property test of the state machine (STYLE.md, habit 8: the
// invariants every test shares). Thousands of seeded random command
// sequences mix every command type with valid and invalid inputs, retries
// with the same and with different bodies, and batch stamps that run
// backwards. After every command:
//   - the ledger sums to zero and no punter slot has the wrong sign
//     (set_full_check_after_each_command plus explicit checks);
//   - every stored figure equals one recomputed from first principles
//     (in play, open payouts, liability, house, pending, payouts);
//   - a client id's first answer is given again for the same body, and a
//     different body is refused; a rejection or a retry changes nothing;
// and along the way:
//   - a replica fed the same log through the batch codec agrees on every
//     answer and on the digest;
//   - encode_state -> decode_state gives the same digest, and the restored
//     copy keeps agreeing as the same commands go on;
//   - every batch decodes to commands that re-encode to identical bytes.
//
// Rerun one sequence: BETCORE_PROPERTY_SEED=<seed> ./domain_property_test
// More for a night:   BETCORE_PROPERTY_RUNS=100000 BETCORE_PROPERTY_BASE_SEED=$RANDOM ...
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "codec/batch.h"
#include "codec/command_codec.h"
#include "codec/snapshot.h"
#include "domain/fingerprint.h"
#include "domain/ledger.h"
#include "domain/odds.h"
#include "domain/fields.h"
#include "domain/state_machine.h"
#include "domain/testing/fixtures.h"

#if defined(__SANITIZE_ADDRESS__)
#define BETCORE_PROPERTY_SLOW 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BETCORE_PROPERTY_SLOW 1
#endif
#endif

namespace betcore::domain {
namespace {

using test::kDayMs;
using test::kHourMs;
using test::kT0;

// ---- configuration --------------------------------------------------------------

struct Config {
  uint64_t base_seed = 0x6265'7463'6f72'6531;  // "betcore1"
  uint64_t runs = 0;
  bool one_seed = false;
  uint64_t seed = 0;
};

uint64_t env_u64(const char* name, uint64_t fallback, bool* found = nullptr) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  if (found != nullptr) *found = true;
  return std::strtoull(v, nullptr, 0);
}

Config config() {
  Config c;
#ifdef BETCORE_PROPERTY_SLOW
  const uint64_t default_runs = 1000;  // ASan (at -O1): about 16 s
#else
  const uint64_t default_runs = 2000;
#endif
  c.runs = env_u64("BETCORE_PROPERTY_RUNS", default_runs);
  c.base_seed = env_u64("BETCORE_PROPERTY_BASE_SEED", c.base_seed);
  c.seed = env_u64("BETCORE_PROPERTY_SEED", 0, &c.one_seed);
  return c;
}

uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// An always-on assertion (or a sanitizer) aborts the process without a
// test failure message: say which sequence was running, from the handler
// (only async-signal-safe calls: write and the pre-formatted text).
char g_rerun_line[256];

extern "C" void on_abort(int sig) {
  ssize_t ignored = ::write(2, g_rerun_line, std::strlen(g_rerun_line));
  (void)ignored;
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void set_rerun_line(uint64_t seed) {
  std::snprintf(g_rerun_line, sizeof g_rerun_line,
                "\n*** property sequence seed %llu; rerun it alone with:\n"
                "***   BETCORE_PROPERTY_SEED=%llu ./domain_property_test\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
}

// ---- random source --------------------------------------------------------------

// Our own generator and arithmetic (not <random>'s distributions, whose
// results differ between standard libraries), so a seed means the same
// sequence everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() { return splitmix(s_); }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  int64_t range(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }
  bool pct(uint64_t p) { return below(100) < p; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

 private:
  uint64_t s_;
};

// ---- describing commands (for failure messages) ----------------------------------

// Prints a command's fields (domain/fields.h) for a failure message.
struct Describe {
  std::ostringstream& o;
  template <class T>
  void operator()(const T& v, Rule = {}) {
    if constexpr (std::is_same_v<T, std::string>) o << "'" << v << "' ";
    else if constexpr (std::is_same_v<T, Amount>) o << v.minor << " ";
    else if constexpr (std::is_same_v<T, TimeMs>) o << v.ms << " ";
    else if constexpr (std::is_same_v<T, Odds>) o << v.thousandths << " ";
    else if constexpr (std::is_enum_v<T>) o << static_cast<int>(v) << " ";
    else o << +v << " ";
  }
  template <class T>
  void operator()(const std::vector<T>& list, Rule = {}) {
    o << "[ ";
    for (const T& x : list) {
      o << "{ ";
      betcore::domain::describe(*this, x);
      o << "} ";
    }
    o << "] ";
  }
};

std::string describe(const Command& c) {
  std::ostringstream o;
  o << command_name(c) << "{ ";
  Describe d{o};
  std::visit([&](const auto& x) { betcore::domain::describe(d, x); }, c);
  o << "}";
  return o.str();
}

std::string describe(const Outcome& o) {
  std::ostringstream s;
  s << code_name(o.code) << (o.duplicate ? " (duplicate)" : "") << " ref=" << o.ref << " count=" << o.count;
  return s.str();
}

// ---- the generator --------------------------------------------------------------

const std::vector<int64_t> kOddsTable = {1001, 1010, 1333, 1500, 1750, 1909, 2000,
                                         2100, 3333, 5000, 10'000, 99'999, 1'000'000};

class Generator {
 public:
  explicit Generator(uint64_t seed) : r_(seed) {}

  Rng& rng() { return r_; }

  Command next(const State& s) {
    if (!history_.empty() && r_.pct(8)) return r_.pick(history_);  // a retry, same body
    Command c = (!history_.empty() && r_.pct(5)) ? mutate(r_.pick(history_)) : fresh(s);
    if (history_.size() < kHistoryMax) history_.push_back(c);
    else history_[r_.below(kHistoryMax)] = c;
    return c;
  }

  // The stamp of the next batch: mostly forward, sometimes far forward
  // (past deposit windows), sometimes backwards.
  int64_t stamp(int64_t last) {
    uint64_t k = r_.below(100);
    if (k < 70) return last + r_.range(0, 10 * 60'000);
    if (k < 80) return last + r_.range(kHourMs, 30 * kHourMs);
    if (k < 92) return last - r_.range(1, 3 * kHourMs);
    if (k < 96) return last;
    return kT0 - r_.range(0, kDayMs);
  }

 private:
  static constexpr size_t kHistoryMax = 256;
  static constexpr uint64_t kMarketIds = 32;

  std::string bad_id() {
    static const std::vector<std::string> bad = {"", std::string(65, 'x'), "sp ace", "sl/ash",
                                                 "caf\xc3\xa9", std::string(1, '\0')};
    return r_.pick(bad);
  }
  std::string text(const std::string& base) {
    uint64_t k = r_.below(100);
    if (k < 1) return "";
    if (k < 2) return std::string(257 + r_.below(40), 't');
    return base + std::to_string(r_.below(3));
  }
  int64_t amount() {
    uint64_t k = r_.below(100);
    if (k < 2) return -static_cast<int64_t>(r_.below(3));  // 0, -1, -2
    if (k < 4) return kAmountMax + 1;
    if (k < 6) return kAmountMax;
    if (k < 60) return r_.range(1, 1000);
    if (k < 92) return r_.range(1, 100'000);
    return r_.range(1, 1'000'000'000);
  }
  int64_t odds() {
    if (r_.pct(2)) return r_.pct(50) ? 1000 : 1'000'001;  // out of range
    if (r_.pct(70)) return r_.pick(kOddsTable);
    return r_.range(1001, 20'000);
  }

  std::string account(const State& s) {
    if (!s.accounts.empty() && r_.pct(95)) return std::string(s.accounts[r_.below(s.accounts.size())].id);
    if (r_.pct(10)) return bad_id();
    return "acc" + std::to_string(r_.below(12));
  }
  const Market* some_market(const State& s, bool prefer_open) {
    if (s.markets.empty()) return nullptr;
    for (int tries = 0; prefer_open && tries < 8; ++tries) {
      const Market& m = s.markets[r_.below(s.markets.size())];
      if (m.status == MarketStatus::open) return &m;
    }
    return &s.markets[r_.below(s.markets.size())];
  }
  std::string market_id(const Market* m) {
    if (m != nullptr && r_.pct(97)) return std::string(m->id);
    uint64_t k = r_.below(100);
    return k < 70 ? "mk" + std::to_string(r_.below(kMarketIds)) : k < 85 ? "mk-none" : bad_id();
  }

  Command fresh(const State& s) {
    // A young book gets accounts and markets first.
    if (s.accounts.size() < 3 && r_.pct(30)) return create_account();
    if (s.events.empty() && r_.pct(30)) return create_event();
    if (s.markets.size() < 3 && r_.pct(30)) return create_market(s);
    // Weights: bets and money dominate, as in production.
    uint64_t k = r_.below(100);
    if (k < 4) return create_account();
    if (k < 5) return self_exclusion(s);
    if (k < 19) return deposit(s);
    if (k < 24) return withdrawal(s);
    if (k < 28) return withdrawal_outcome(s);
    if (k < 30) return create_event();
    if (k < 37) return create_market(s);
    if (k < 43) return update_prices(s);
    if (k < 48) return market_status(s);
    if (k < 92) return place_bet(s);
    if (k < 96) return settle(s);
    if (k < 98) return feed_alive();
    return feed_prices(s);
  }

  // The odds feed: two producers with short limits (the generated clock
  // jumps by minutes and hours, so they go down and come back often), and
  // provider time stamps from a small range, so orders collide.
  Command feed_alive() {
    FeedAlive c;
    c.producer_id = r_.pct(3) ? bad_id() : "prod" + std::to_string(r_.below(2));
    c.limit_ms = r_.pct(3) ? 999 : r_.range(1'000, 600'000);
    c.recovered = r_.pct(50);
    return c;
  }
  Command feed_prices(const State& s) {
    UpdatePrices u = std::get<UpdatePrices>(update_prices(s));
    FeedPrices c;
    c.market_id = std::move(u.market_id);
    c.producer_id = r_.pct(5) ? "prod-none" : "prod" + std::to_string(r_.below(2));
    c.source_ts = r_.pct(2) ? 0 : r_.range(1, 50);
    c.source_seq = r_.below(4);
    c.prices = std::move(u.prices);
    return c;
  }

  Command create_account() {
    CreateAccount c;
    c.account_id = r_.pct(3) ? bad_id() : "acc" + std::to_string(r_.below(12));
    static const std::vector<std::string> currencies = {"EUR", "EUR", "EUR", "GBP", "USD"};
    static const std::vector<std::string> bad_currencies = {"eur", "EU", "EURO", ""};
    c.currency = r_.pct(95) ? r_.pick(currencies) : r_.pick(bad_currencies);
    uint64_t k = r_.below(100);
    c.deposit_limit_24h.minor = k < 60 ? 0 : k < 95 ? r_.range(1, 200'000) : k < 98 ? -1 : kAmountMax + 1;
    return c;
  }
  Command self_exclusion(const State& s) {
    SetSelfExclusion c;
    c.account_id = account(s);
    c.until.ms = r_.pct(5) ? -static_cast<int64_t>(r_.below(2)) : s.now.ms + r_.range(-kHourMs, 2 * kHourMs);
    return c;
  }
  Command deposit(const State& s) {
    Deposit c;
    c.payment_ref = r_.pct(3) ? bad_id() : "p" + std::to_string(fresh_id_++);
    c.account_id = account(s);
    c.amount.minor = amount();
    if (r_.pct(30)) c.amount.minor = r_.range(1, 5'000'000);
    return c;
  }
  Command withdrawal(const State& s) {
    RequestWithdrawal c;
    c.withdrawal_id = r_.pct(3) ? bad_id() : "w" + std::to_string(fresh_id_++);
    c.account_id = account(s);
    AccountIdx a = s.account_ids.find(c.account_id);
    int64_t balance = a.valid() ? s.accounts[a.value].balance.minor : 0;
    c.amount.minor = (balance > 0 && r_.pct(70)) ? r_.range(1, balance + balance / 10) : amount();
    return c;
  }
  Command withdrawal_outcome(const State& s) {
    std::string id;
    if (!s.withdrawals.empty() && r_.pct(90)) {
      id = std::string(s.withdrawals[r_.below(s.withdrawals.size())].id);
    } else {
      id = r_.pct(50) ? "w-none" : bad_id();
    }
    if (r_.pct(55)) return CompleteWithdrawal{id, text("gw")};
    return FailWithdrawal{id, r_.pct(10) ? "" : text("reason")};
  }
  Command create_event() {
    CreateEvent c;
    c.event_id = r_.pct(3) ? bad_id() : "ev" + std::to_string(r_.below(6));
    c.name = text("Event ");
    c.starts_at.ms = kT0 + static_cast<int64_t>(r_.below(10)) * kDayMs;
    return c;
  }
  Command create_market(const State& s) {
    CreateMarket c;
    if (r_.pct(20)) c.producer_id = "prod" + std::to_string(r_.below(3));  // prod2 never exists
    c.market_id = r_.pct(3) ? bad_id() : "mk" + std::to_string(r_.below(kMarketIds));
    if (!s.events.empty() && r_.pct(92)) {
      c.event_id = std::string(s.events[r_.below(s.events.size())].id);
    } else {
      c.event_id = r_.pct(50) ? "ev-none" : bad_id();
    }
    c.name = text("Market ");
    uint64_t n = r_.pct(97) ? 1 + r_.below(4) : (r_.pct(50) ? 0 : 65);
    for (uint64_t i = 0; i < n; ++i) {
      SelectionSpec sel;
      sel.selection_id = r_.pct(1) ? bad_id() : "s" + std::to_string(r_.pct(1) ? 0 : i);
      sel.name = text("Sel ");
      sel.odds.thousandths = odds();
      c.selections.push_back(std::move(sel));
    }
    if (r_.pct(30)) c.min_stake.minor = r_.range(1, 500);
    if (r_.pct(30)) c.max_stake.minor = c.min_stake.minor + r_.range(0, 50'000);
    if (r_.pct(2)) c.min_stake.minor = r_.pct(50) ? 0 : c.max_stake.minor + 1;
    if (r_.pct(30)) c.max_liability.minor = r_.range(1, 1'000'000);
    if (r_.pct(1)) c.max_liability.minor = 0;
    return c;
  }
  std::string selection_of(const Market* m) {
    if (m == nullptr || m->selections.empty() || r_.pct(2)) return r_.pct(50) ? "s9" : bad_id();
    return m->selections[r_.below(m->selections.size())].id;
  }
  Command update_prices(const State& s) {
    UpdatePrices c;
    const Market* m = some_market(s, true);
    c.market_id = market_id(m);
    uint64_t n = r_.pct(97) ? 1 + r_.below(3) : 0;
    for (uint64_t i = 0; i < n; ++i) {
      PriceSpec p;
      p.selection_id = selection_of(m);
      p.odds.thousandths = odds();
      uint64_t k = r_.below(100);
      p.active = k < 80 ? -1 : k < 90 ? 0 : 1;
      c.prices.push_back(std::move(p));
    }
    return c;
  }
  Command market_status(const State& s) {
    ChangeMarketStatus c;
    c.market_id = market_id(some_market(s, false));
    uint64_t k = r_.below(100);
    c.action = k < 40 ? MarketAction::suspend : k < 85 ? MarketAction::resume : MarketAction::close;
    c.reason = r_.pct(50) ? "" : text("why ");
    return c;
  }
  Command place_bet(const State& s) {
    PlaceBet c;
    uint64_t k = r_.below(100);
    c.bet_id = k < 2 ? bad_id() : k < 5 ? "b" + std::to_string(r_.below(fresh_id_ + 1))
                                        : "b" + std::to_string(fresh_id_++);
    c.account_id = account(s);
    uint64_t legs = 1;
    k = r_.below(100);
    if (k < 30) legs = 2 + r_.below(3);
    else if (k < 33) legs = 5 + r_.below(16);
    else if (k < 34) legs = r_.pct(50) ? 0 : 21;
    for (uint64_t i = 0; i < legs; ++i) {
      const Market* m = some_market(s, true);
      LegSpec l;
      l.market_id = market_id(m);
      l.selection_id = selection_of(m);
      int64_t current = 2000;
      if (m != nullptr) {
        for (const Selection& sel : m->selections) {
          if (sel.id == l.selection_id) current = sel.odds.thousandths;
        }
      }
      uint64_t q = r_.below(100);
      if (q < 75) l.odds.thousandths = current;
      else if (q < 85) l.odds.thousandths = std::max<int64_t>(kOddsMin, current - r_.range(1, 200));
      else if (q < 95) l.odds.thousandths = std::min<int64_t>(kOddsMax, current + r_.range(1, 200));
      else l.odds.thousandths = odds();
      c.legs.push_back(std::move(l));
    }
    AccountIdx a = s.account_ids.find(c.account_id);
    int64_t balance = a.valid() ? s.accounts[a.value].balance.minor : 0;
    c.stake.minor = (balance > 0 && r_.pct(75)) ? r_.range(1, std::min<int64_t>(balance, 20'000)) : amount();
    c.accept_better_odds = r_.pct(50);
    return c;
  }
  Command settle(const State& s) {
    SettleMarket c;
    const Market* m = nullptr;
    for (int tries = 0; tries < 4 && !s.markets.empty(); ++tries) {
      m = &s.markets[r_.below(s.markets.size())];
      if (m->status != MarketStatus::settled) break;
    }
    c.market_id = market_id(m);
    const size_t n = m != nullptr ? m->selections.size() : 2;
    const uint64_t winner = r_.below(n);
    const bool all_void = r_.pct(10);
    const bool random_results = r_.pct(20);
    for (size_t i = 0; i < n; ++i) {
      ResultSpec res;
      res.selection_id = m != nullptr ? m->selections[i].id : "s" + std::to_string(i);
      if (all_void) res.result = LegResult::void_;
      else if (random_results) res.result = static_cast<LegResult>(1 + r_.below(3));
      else res.result = i == winner ? LegResult::win : LegResult::lose;
      c.results.push_back(std::move(res));
    }
    if (r_.pct(15) && c.results.size() > 1) std::swap(c.results.front(), c.results.back());
    if (r_.pct(5)) {  // something wrong with the results
      uint64_t q = r_.below(4);
      if (q == 0 && !c.results.empty()) c.results.pop_back();
      else if (q == 1 && !c.results.empty()) c.results.back().result = LegResult::pending;
      else if (q == 2 && c.results.size() > 1) c.results.back().selection_id = c.results.front().selection_id;
      else if (!c.results.empty()) c.results.back().selection_id = "s9";
    }
    bool settled = m != nullptr && m->status == MarketStatus::settled;
    c.resettle = settled ? r_.pct(70) : r_.pct(5);
    return c;
  }

  // The same client id with a different body.
  struct Mutate {
    Rng& r;
    void operator()(CreateAccount& c) {
      if (r.pct(50)) c.currency = c.currency == "GBP" ? "EUR" : "GBP";
      else c.deposit_limit_24h.minor += 1;
    }
    void operator()(SetSelfExclusion& c) { c.until.ms += 1; }
    void operator()(Deposit& c) { c.amount.minor += 1; }
    void operator()(RequestWithdrawal& c) { c.amount.minor += 1; }
    void operator()(CompleteWithdrawal& c) { c.gateway_ref += "x"; }
    void operator()(FailWithdrawal& c) { c.reason += "x"; }
    void operator()(CreateEvent& c) { c.name += "x"; }
    void operator()(CreateMarket& c) { c.max_liability.minor += 1; }
    void operator()(UpdatePrices& c) {
      for (auto& p : c.prices) p.odds.thousandths += 1;
    }
    void operator()(ChangeMarketStatus& c) { c.reason += "x"; }
    void operator()(PlaceBet& c) {
      if (r.pct(50)) c.stake.minor += 1;
      else c.accept_better_odds = !c.accept_better_odds;
    }
    void operator()(SettleMarket& c) {
      for (auto& x : c.results) {
        if (x.result == LegResult::win) x.result = LegResult::lose;
        else if (x.result == LegResult::lose) x.result = LegResult::win;
      }
      c.resettle = r.pct(50);
    }
    void operator()(FeedAlive& c) { c.limit_ms += 1; }
    void operator()(FeedPrices& c) {
      for (auto& p : c.prices) p.odds.thousandths += 1;
    }
  };
  Command mutate(Command c) {
    std::visit(Mutate{r_}, c);
    return c;
  }

  Rng r_;
  uint64_t fresh_id_ = 0;
  std::vector<Command> history_;
};

// ---- the invariants ---------------------------------------------------------------

// Recomputes every derived figure from the bets, deposits and withdrawals
// and compares it with what the state holds. Empty when all agree.
std::string check_model(const State& s) {
  LedgerCheck lc = verify_ledger(s);
  if (!lc.ok) return "verify_ledger: " + lc.problem;
  if (ledger_total(s) != 0) return "ledger total is not zero";

  const size_t na = s.accounts.size();
  std::vector<int64_t> in_play(na), open_payouts(na), pending(na);
  std::vector<int64_t> house(s.currencies.size()), deposited(s.currencies.size()),
      withdrawn(s.currencies.size());
  std::vector<std::vector<int64_t>> liability(s.markets.size());
  for (size_t m = 0; m < s.markets.size(); ++m) liability[m].resize(s.markets[m].selections.size());

  for (const Bet& b : s.bets) {
    const std::string who = "bet " + std::string(b.id) + ": ";
    const Leg* legs = s.bet_legs(b);
    std::vector<int64_t> taken(b.leg_count), settled_at(b.leg_count);
    bool pending_leg = false, lost = false, all_void = true;
    for (size_t i = 0; i < b.leg_count; ++i) {
      const Market& m = s.markets[legs[i].market.value];
      if (legs[i].result != m.selections[legs[i].selection].result) return who + "leg result is not its market's";
      for (size_t j = 0; j < i; ++j) {
        if (legs[j].market == legs[i].market) return who + "two legs on one market";
      }
      taken[i] = legs[i].odds_thousandths;
      pending_leg = pending_leg || legs[i].result == LegResult::pending;
      lost = lost || legs[i].result == LegResult::lose;
      all_void = all_void && legs[i].result == LegResult::void_;
      settled_at[i] = legs[i].result == LegResult::void_ ? kOddsOne : legs[i].odds_thousandths;
    }
    auto odds = combine_odds(taken);
    if (!odds || *odds != b.odds) return who + "odds are not the floor of the product of its legs";
    if (payout_of(b.stake, b.odds) != b.potential_payout) return who + "potential payout is not floor(stake x odds)";
    const uint32_t a = b.account.value;
    const uint32_t cur = s.accounts[a].currency.value;
    if (b.status == BetStatus::open) {
      if (!pending_leg) return who + "open with every leg resulted";
      if (b.payout.minor != 0) return who + "open with a payout";
      in_play[a] += b.stake.minor;
      open_payouts[a] += b.potential_payout.minor;
      for (size_t i = 0; i < b.leg_count; ++i) {
        liability[legs[i].market.value][legs[i].selection] += (b.potential_payout - b.stake).minor;
      }
      continue;
    }
    if (pending_leg) return who + "settled before its last leg";
    if (b.settlements == 0) return who + "settled zero times";
    BetStatus want = lost ? BetStatus::lost : all_void ? BetStatus::void_ : BetStatus::won;
    Amount pay = lost ? Amount{0} : all_void ? b.stake : payout_of(b.stake, *combine_odds(settled_at));
    if (b.status != want) return who + "wrong status";
    if (b.payout != pay) {
      return who + "paid " + std::to_string(b.payout.minor) + ", should be " + std::to_string(pay.minor);
    }
    house[cur] += (b.stake - b.payout).minor;
  }
  for (size_t i = 0; i < na; ++i) {
    const Account& a = s.accounts[i];
    const std::string who = "account " + std::string(a.id) + ": ";
    if (a.balance.minor < 0 || a.in_play.minor < 0 || a.pending_withdrawals.minor < 0 || a.receivable.minor > 0) {
      return who + "a slot with the wrong sign";
    }
    if (a.receivable.minor < 0 && a.balance.minor != 0) return who + "owes money while holding a balance";
    if (a.in_play.minor != in_play[i]) return who + "in_play is not the stakes of its open bets";
    if (a.open_payouts.minor != open_payouts[i]) return who + "open_payouts is not its open bets'";
  }
  for (size_t m = 0; m < s.markets.size(); ++m) {
    for (size_t k = 0; k < s.markets[m].selections.size(); ++k) {
      if (s.markets[m].selections[k].liability.minor != liability[m][k]) {
        return "market " + std::string(s.markets[m].id) + ": liability of selection " +
               s.markets[m].selections[k].id + " is not its open bets'";
      }
    }
  }
  for (const Withdrawal& w : s.withdrawals) {
    if (w.status == WithdrawalStatus::pending) pending[w.account.value] += w.amount.minor;
    if (w.status == WithdrawalStatus::completed) {
      withdrawn[s.accounts[w.account.value].currency.value] += w.amount.minor;
    }
  }
  std::vector<int64_t> last_day(na);  // deposits in the rolling window (now - 24h, now]
  for (const DepositRecord& d : s.deposits) {
    deposited[s.accounts[d.account.value].currency.value] += d.amount.minor;
    if (d.at.ms > s.now.ms - kDayMs) last_day[d.account.value] += d.amount.minor;
  }
  for (size_t i = 0; i < na; ++i) {
    const Account& a = s.accounts[i];
    if (a.deposit_limit_24h.minor > 0 && last_day[i] > a.deposit_limit_24h.minor) {
      return "account " + std::string(a.id) + ": deposits in the last 24 hours are over its limit";
    }
  }
  for (size_t i = 0; i < na; ++i) {
    if (s.accounts[i].pending_withdrawals.minor != pending[i]) {
      return "account " + std::string(s.accounts[i].id) + ": pending is not its pending withdrawals'";
    }
  }
  for (size_t c = 0; c < s.currencies.size(); ++c) {
    const CurrencyBook& b = s.currencies[c];
    if (b.house.minor != house[c]) {
      return b.code + ": house " + std::to_string(b.house.minor) + " is not the stakes less payouts of settled bets (" +
             std::to_string(house[c]) + ")";
    }
    if (b.deposits_total.minor != deposited[c]) return b.code + ": deposits_total is not the deposits'";
    if (b.withdrawals_completed_total.minor != withdrawn[c]) return b.code + ": completed withdrawals total is off";
  }
  return {};
}

// What a client id was first answered, to check retries and reuse.
class IdOracle {
 public:
  // Empty when `o` is a right answer to `c` given the ids seen so far.
  std::string check(const Command& c, const Outcome& o) {
    std::string key, body;
    bool settle = false, resettle = false;
    if (!key_of(c, key, body, settle, resettle)) return {};
    auto it = first_.find(key);
    if (it != first_.end() && it->second.body == body) {
      if (!o.ok() || !o.duplicate) return "a retry with the same body did not get the first answer";
      if (o.ref != it->second.ref) return "a retry got another ref than the first answer";
      if (settle && o.count != it->second.count) return "a settlement retry got another count";
      return {};
    }
    if (o.ok() && o.duplicate) return "answered as a retry, but the body is new";
    if (it != first_.end() && !resettle && o.ok()) return "an id reused with a different body was accepted";
    if (it != first_.end() && !settle && o.code != Code::conflict && o.code != Code::invalid_request) {
      return "an id reused with a different body got " + std::string(code_name(o.code));
    }
    if (o.ok()) first_[key] = First{body, o.ref, o.count};
    return {};
  }

 private:
  struct First {
    std::string body;
    uint32_t ref;
    uint32_t count;
  };

  static bool key_of(const Command& c, std::string& key, std::string& body, bool& settle, bool& resettle) {
    codec::encode_command(c, body);
    if (auto* x = std::get_if<CreateAccount>(&c)) key = "account:" + x->account_id;
    else if (auto* x = std::get_if<Deposit>(&c)) key = "deposit:" + x->payment_ref;
    else if (auto* x = std::get_if<RequestWithdrawal>(&c)) key = "withdrawal:" + x->withdrawal_id;
    else if (auto* x = std::get_if<CompleteWithdrawal>(&c)) key = "outcome:" + x->withdrawal_id;
    else if (auto* x = std::get_if<FailWithdrawal>(&c)) key = "outcome:" + x->withdrawal_id;
    else if (auto* x = std::get_if<CreateEvent>(&c)) key = "event:" + x->event_id;
    else if (auto* x = std::get_if<CreateMarket>(&c)) key = "market:" + x->market_id;
    else if (auto* x = std::get_if<PlaceBet>(&c)) key = "bet:" + x->bet_id;
    else if (auto* x = std::get_if<SettleMarket>(&c)) {
      // The market's answer is that of its latest (re)settlement; the
      // resettle flag is not part of the body, and the results are a set
      // (a retry may list them in another order).
      SettleMarket plain = *x;
      plain.resettle = false;
      std::stable_sort(plain.results.begin(), plain.results.end(),
                       [](const ResultSpec& a, const ResultSpec& b) { return a.selection_id < b.selection_id; });
      body.clear();
      codec::encode_command(plain, body);
      key = "settle:" + x->market_id;
      settle = true;
      resettle = x->resettle;
    } else {
      return false;
    }
    return true;
  }

  std::map<std::string, First> first_;
};

class CountingSink : public EventSink {
 public:
  void emit(const DomainEvent&) override { ++count; }
  uint64_t count = 0;
};

// ---- one sequence -------------------------------------------------------------------

struct Totals {
  uint64_t commands = 0, accepted = 0, duplicates = 0, snapshots = 0;
  std::map<Code, uint64_t> by_code;
  std::map<std::string_view, uint64_t> accepted_by_command;
};

std::unique_ptr<StateMachine> restored_copy(const State& s, std::string& problem) {
  std::string encoded = codec::encode_state(s);
  codec::DecodedState d = codec::decode_state(encoded);
  if (!d.state) {
    problem = "decode_state refused a fresh encoding: " + d.error;
    return nullptr;
  }
  if (codec::encode_state(*d.state) != encoded) {
    problem = "decode_state -> encode_state is not the identity";
    return nullptr;
  }
  auto sm = std::make_unique<StateMachine>();
  sm->reset(std::move(d.state));
  sm->set_full_check_after_each_command(true);
  return sm;
}

// Runs one seeded sequence; adds a failure (with the seed) on the first
// broken property and returns.
void run_sequence(uint64_t seed, Totals& totals) {
  set_rerun_line(seed);
  SCOPED_TRACE(::testing::Message() << "sequence seed " << seed << "; rerun it alone with: BETCORE_PROPERTY_SEED="
                                    << seed << " ./domain_property_test");
  Generator gen(seed);
  Rng& r = gen.rng();
  const uint64_t commands = 20 + r.below(r.pct(10) ? 1500 : 250);

  StateMachine a;  // the original
  StateMachine b;  // a replica fed the decoded batches
  std::unique_ptr<StateMachine> c;  // restored from a snapshot of `a`
  a.set_full_check_after_each_command(true);
  b.set_full_check_after_each_command(true);
  IdOracle oracle;
  CountingSink sink;

  uint64_t index = 0, seq = 0;
  int64_t stamp = kT0;
  uint64_t done = 0;
  while (done < commands) {
    index += r.pct(5) ? 2 + r.below(3) : 1;  // gaps: refused log entries
    stamp = gen.stamp(stamp);
    const size_t n = 1 + r.below(8);
    std::vector<Command> batch;
    std::vector<std::string> encoded(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(gen.next(a.state()));
      codec::encode_command(batch.back(), encoded[i]);
    }
    codec::BatchHeader header{"node-" + std::to_string(r.below(3)), seq, stamp};
    seq += n;
    const std::string bytes = codec::encode_batch(header, encoded);
    codec::DecodedBatch decoded = codec::decode_batch(bytes);
    ASSERT_EQ(decoded.error, codec::BatchError::none) << decoded.detail;
    ASSERT_EQ(decoded.header.node_id, header.node_id);
    ASSERT_EQ(decoded.header.first_seq, header.first_seq);
    ASSERT_EQ(decoded.header.stamped_ms, header.stamped_ms);
    ASSERT_EQ(decoded.commands.size(), n);
    for (size_t i = 0; i < n; ++i) {
      std::string again;
      codec::encode_command(decoded.commands[i], again);
      ASSERT_EQ(again, encoded[i]) << describe(batch[i]);
      ASSERT_EQ(fingerprint(decoded.commands[i]), fingerprint(batch[i])) << describe(batch[i]);
    }

    const TimeMs before_now = a.state().now;
    a.begin_batch(LogIndex{index}, TimeMs{stamp});
    b.begin_batch(LogIndex{index}, TimeMs{decoded.header.stamped_ms});
    if (c) c->begin_batch(LogIndex{index}, TimeMs{stamp});
    ASSERT_EQ(a.state().now.ms, std::max(before_now.ms, stamp)) << "time ran backwards";
    ASSERT_EQ(a.state().applied.value, index);

    for (size_t i = 0; i < n; ++i, ++done) {
      const Command& cmd = batch[i];
      SCOPED_TRACE("command #" + std::to_string(done) + ": " + describe(cmd));
      const bool sample = r.pct(10);
      // A refusal is remembered by its client id; nothing else may change.
      const std::string digest_before = sample ? codec::digest_without_refusals(a.state()) : std::string();
      const uint64_t accepted_before = a.state().commands_applied;
      sink.count = 0;

      const Outcome oa = a.apply(cmd, &sink);
      // The replica applies as the node's applier does, with cache hints
      // for the next commands; its digest must match the one without.
      b.prefetch_before(decoded.commands, i);
      const Outcome ob = b.apply(decoded.commands[i]);
      ASSERT_EQ(describe(ob), describe(oa)) << "the replica answered differently";
      ASSERT_EQ(ob.message, oa.message);
      if (c) {
        const Outcome oc = c->apply(cmd);
        ASSERT_EQ(describe(oc), describe(oa)) << "the restored copy answered differently";
      }

      const bool changed = oa.ok() && !oa.duplicate;
      ASSERT_EQ(a.state().commands_applied, accepted_before + (changed ? 1 : 0));
      if (!changed) {
        ASSERT_EQ(sink.count, 0u) << "a rejection or retry emitted events: " << describe(oa);
        if (sample) {
          ASSERT_EQ(codec::digest_without_refusals(a.state()), digest_before) << describe(oa) << " changed the state";
        }
      }
      if (!oa.ok()) {
        ASSERT_FALSE(oa.message.empty()) << "a rejection without a message";
      }
      std::string problem = oracle.check(cmd, oa);
      ASSERT_TRUE(problem.empty()) << problem << "; answer " << describe(oa);
      problem = check_model(a.state());
      ASSERT_TRUE(problem.empty()) << problem << "; answer " << describe(oa);

      ++totals.commands;
      if (changed) ++totals.accepted;
      if (oa.duplicate) ++totals.duplicates;
      ++totals.by_code[oa.code];
      if (oa.ok() && !oa.duplicate) ++totals.accepted_by_command[command_name(cmd)];
    }

    if (r.pct(3)) {
      ASSERT_EQ(codec::state_digest(b.state()), codec::state_digest(a.state())) << "replicas diverged";
      if (c) {
        ASSERT_EQ(codec::state_digest(c->state()), codec::state_digest(a.state())) << "restored copy diverged";
      }
    }
    if (r.pct(2)) {
      std::string problem;
      c = restored_copy(a.state(), problem);
      ASSERT_TRUE(c != nullptr) << problem;
      ASSERT_EQ(codec::state_digest(c->state()), codec::state_digest(a.state()));
      ++totals.snapshots;
      if (r.pct(20)) {
        std::string enc = codec::encode_state(a.state());
        codec::OpenedSnapshot o = codec::open_snapshot(codec::seal_snapshot(enc, index));
        ASSERT_TRUE(o.error.empty()) << o.error;
        ASSERT_EQ(o.applied_index, index);
        ASSERT_TRUE(o.encoded_state == enc);
      }
    }
  }

  const std::string digest = codec::state_digest(a.state());
  ASSERT_EQ(codec::state_digest(b.state()), digest) << "replicas diverged";
  if (c) {
    ASSERT_EQ(codec::state_digest(c->state()), digest) << "restored copy diverged";
  }
  std::string problem;
  auto last = restored_copy(a.state(), problem);
  ASSERT_TRUE(last != nullptr) << problem;
  ASSERT_EQ(codec::state_digest(last->state()), digest);
}

TEST(Property, RandomCommandSequencesKeepEveryInvariant) {
  const Config cfg = config();
  struct sigaction sa {};
  sa.sa_handler = on_abort;
  struct sigaction old {};
  ::sigaction(SIGABRT, &sa, &old);

  const auto t0 = std::chrono::steady_clock::now();
  Totals totals;
  uint64_t runs = 0;
  if (cfg.one_seed) {
    run_sequence(cfg.seed, totals);
    runs = 1;
  } else {
    std::printf("property: %llu sequences from base seed %llu (BETCORE_PROPERTY_RUNS, "
                "BETCORE_PROPERTY_BASE_SEED to change)\n",
                static_cast<unsigned long long>(cfg.runs), static_cast<unsigned long long>(cfg.base_seed));
    uint64_t x = cfg.base_seed;
    for (; runs < cfg.runs && !HasFailure(); ++runs) run_sequence(splitmix(x), totals);
  }
  ::sigaction(SIGABRT, &old, nullptr);

  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("property: %llu sequences, %llu commands (%llu accepted, %llu retries answered), "
              "%llu snapshot restores, %.1f s\n",
              static_cast<unsigned long long>(runs), static_cast<unsigned long long>(totals.commands),
              static_cast<unsigned long long>(totals.accepted), static_cast<unsigned long long>(totals.duplicates),
              static_cast<unsigned long long>(totals.snapshots), s);
  for (const auto& [code, count] : totals.by_code) {
    std::printf("  %-24s %llu\n", std::string(code_name(code)).c_str(), static_cast<unsigned long long>(count));
  }
  if (HasFailure() || runs < 100) return;
  // The generator must reach every answer, or the test proves less than
  // it claims: each code (and retries) at least a few times.
  for (Code code : {Code::ok, Code::invalid_request, Code::not_found, Code::conflict, Code::insufficient_funds,
                    Code::odds_changed, Code::market_not_open, Code::selection_not_active,
                    Code::stake_out_of_range, Code::liability_exceeded, Code::account_not_active,
                    Code::deposit_limit_exceeded, Code::duplicate_leg}) {
    EXPECT_GE(totals.by_code[code], 10u) << "the generator rarely reaches " << code_name(code);
  }
  // And every command must be accepted as new, not only refused.
  for (std::string_view name : kCommandNames) {
    EXPECT_GE(totals.accepted_by_command[name], 10u) << "the generator rarely gets " << name << " accepted";
  }
  EXPECT_GE(totals.duplicates, 100u);
  EXPECT_GE(totals.snapshots, 100u);
}

}  // namespace
}  // namespace betcore::domain
