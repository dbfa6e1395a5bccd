#include "crash/bet_load.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>

namespace betcore::crash {
namespace {

using Clock = std::chrono::steady_clock;

struct SelectionSpec {
  const char* id;
  const char* odds;
};
constexpr std::array<SelectionSpec, 3> kSelections = {{{"home", "2.10"}, {"draw", "3.40"}, {"away", "3.75"}}};

std::string account_id(int i) { return fmt::format("acct-{:02}", i); }
std::string market_id(int m) { return fmt::format("mk-{}", m); }

// What each account must hold, from the definite answers alone.
struct Expected {
  int64_t deposits = kFunding;
  int64_t stakes = 0;
  std::set<std::string> bets;
};

}  // namespace

std::vector<std::string> account_ids() {
  std::vector<std::string> out;
  for (int i = 0; i < kAccounts; ++i) out.push_back(account_id(i));
  return out;
}

Load::Load(uint64_t seed, uint16_t port, const test::TestTokens& tokens, std::string id_prefix)
    : seed_(seed), port_(port), tokens_(tokens), id_prefix_(std::move(id_prefix)), ops_(kClients) {}

Load::~Load() {
  abort_.store(true);
  join();
}

void Load::start() {
  for (int t = 0; t < kClients; ++t) threads_.emplace_back([this, t] { run(t); });
}

void Load::finish() {
  stop_.store(true);
  join();
}

void Load::abort() {
  abort_.store(true);
  join();
}

std::vector<Op> Load::ops() const {
  std::vector<Op> all;
  for (const auto& v : ops_) all.insert(all.end(), v.begin(), v.end());
  return all;
}

void Load::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Load::run(int t) {
  std::mt19937_64 rng(seed_ ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(t + 1)));
  JsonClient client(port_);
  for (int n = 0; !stop_.load() && !abort_.load(); ++n) {
    Op op;
    std::string target, body;
    const std::string* token;
    op.account = account_id(static_cast<int>(rng() % kAccounts));
    if (rng() % 100 < 80) {
      op.kind = Kind::bet;
      op.id = fmt::format("{}{}-b{}", id_prefix_, t, n);
      op.amount = 100 + static_cast<int64_t>(rng() % 4'901);
      op.legs = rng() % 4 == 0 ? 2 + rng() % 2 : 1;
      std::array<int, kMarkets> markets{0, 1, 2, 3};
      std::shuffle(markets.begin(), markets.end(), rng);
      nlohmann::json legs = nlohmann::json::array();
      for (size_t k = 0; k < op.legs; ++k) {
        const SelectionSpec& s = kSelections[rng() % kSelections.size()];
        legs.push_back({{"market_id", market_id(markets[k])}, {"selection_id", s.id}, {"odds", s.odds}});
      }
      body = nlohmann::json{{"bet_id", op.id},       {"account_id", op.account}, {"stake", op.amount},
                            {"legs", legs},          {"accept_better_odds", rng() % 2 == 0}}
                 .dump();
      target = "/v1/bets";
      token = &tokens_.punters.at(op.account);
    } else {
      op.kind = Kind::deposit;
      op.id = fmt::format("{}{}-d{}", id_prefix_, t, n);
      op.amount = 100 + static_cast<int64_t>(rng() % 19'901);
      body = nlohmann::json{{"payment_ref", op.id}, {"account_id", op.account}, {"amount", op.amount}}.dump();
      target = "/v1/deposits";
      token = &tokens_.payments;
    }
    settle(client, target, body, *token, op);
    ops_[t].push_back(std::move(op));
    ++answered_;
  }
}

void Load::settle(JsonClient& client, const std::string& target, const std::string& body,
            const std::string& token, Op& op) {
  op.sent_at = Clock::now();
  auto deadline = op.sent_at + std::chrono::milliseconds(kOpDeadlineMs);
  Reply r;
  for (;;) {
    r = client.post(target, body, token);
    if (!r.indefinite() || Clock::now() >= deadline || abort_.load()) break;
    ++op.indefinite;
    op.indefinite_answers.push_back(r.status == 0 ? "no answer" : std::to_string(r.status) + " " + r.code());
    std::this_thread::sleep_for(std::chrono::milliseconds(r.status == 0 ? 10 : 30));
  }
  op.status = r.status;
  op.answered_at = Clock::now();
  if (r.indefinite()) {
    op.problem = "no definite answer: " + r.describe();
  } else if (r.status == 201) {
    op.index = r.json.value("index", uint64_t{0});
    check_ack(r, op);
    uint64_t seen = max_acked_.load();
    while (op.index > seen && !max_acked_.compare_exchange_weak(seen, op.index)) {
    }
  } else {
    op.code = r.code();
    op.problem = r.describe();
  }
}

void Load::check_ack(const Reply& r, Op& op) {
  const nlohmann::json& j = r.json;
  const char* id_field = op.kind == Kind::bet ? "bet_id" : "payment_ref";
  bool ok = j.is_object() && op.index > 0 && j.value(id_field, std::string()) == op.id &&
            j.value("account_id", std::string()) == op.account;
  if (op.kind == Kind::bet) {
    op.odds = j.value("odds", std::string());
    ok = ok && j.value("stake", int64_t{-1}) == op.amount && j.value("status", std::string()) == "open" &&
         j.contains("legs") && j["legs"].size() == op.legs && !op.odds.empty();
  } else {
    ok = ok && j.value("amount", int64_t{-1}) == op.amount;
  }
  if (!ok) op.problem = "acknowledged with a wrong body: " + r.describe();
}

// Sets up accounts (each funded by one deposit), an event and markets.
void set_up_book(uint16_t port, const test::TestTokens& tokens) {
  JsonClient c(port);
  auto must = [&](const char* target, const nlohmann::json& body, const std::string& token) {
    Reply r = c.post_until_definite(target, body.dump(), token, 10'000, nullptr);
    ASSERT_EQ(r.status, 201) << target << " " << body.dump() << ": " << r.describe();
  };
  for (int i = 0; i < kAccounts; ++i) {
    ASSERT_NO_FATAL_FAILURE(must("/v1/accounts", {{"account_id", account_id(i)}, {"currency", "EUR"}}, tokens.admin));
    ASSERT_NO_FATAL_FAILURE(must(
        "/v1/deposits", {{"payment_ref", "fund-" + account_id(i)}, {"account_id", account_id(i)}, {"amount", kFunding}},
        tokens.payments));
  }
  ASSERT_NO_FATAL_FAILURE(must("/v1/events",
                               {{"event_id", "ev-crash"}, {"name", "crash drill"}, {"starts_at", rfc3339_from_now(86'400)}},
                               tokens.trader));
  for (int m = 0; m < kMarkets; ++m) {
    nlohmann::json selections = nlohmann::json::array();
    for (const auto& s : kSelections) selections.push_back({{"selection_id", s.id}, {"name", s.id}, {"odds", s.odds}});
    ASSERT_NO_FATAL_FAILURE(must("/v1/markets",
                                 {{"market_id", market_id(m)},
                                  {"event_id", "ev-crash"},
                                  {"name", "market " + std::to_string(m)},
                                  {"selections", selections}},
                                 tokens.trader));
  }
}

// Runs `check(op, client, failures)` over `ops` on kClients threads.
void check_in_parallel(const std::vector<const Op*>& ops, uint16_t port,
                       const std::function<void(const Op&, JsonClient&, std::vector<std::string>&)>& check,
                       std::vector<std::string>& failures) {
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      JsonClient client(port, 15'000);
      std::vector<std::string> mine;
      for (size_t i = static_cast<size_t>(t); i < ops.size(); i += kClients) check(*ops[i], client, mine);
      std::lock_guard lock(mu);
      failures.insert(failures.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
}

std::string first_of(const std::vector<std::string>& failures, size_t n) {
  std::string out;
  for (size_t i = 0; i < failures.size() && i < n; ++i) out += "  " + failures[i] + "\n";
  if (failures.size() > n) out += fmt::format("  ... and {} more\n", failures.size() - n);
  return out;
}

size_t expect_definite_answers(const std::vector<Op>& ops, const char* label) {

  std::map<std::string, size_t> rejections;  // code -> count
  std::vector<std::string> problems;
  size_t acked_bets = 0, acked_deposits = 0, resolved_unknowns = 0, indefinite_answers = 0;
  for (const Op& op : ops) {
    indefinite_answers += static_cast<size_t>(op.indefinite);
    if (op.indefinite > 0) ++resolved_unknowns;
    if (op.acked()) {
      (op.kind == Kind::bet ? acked_bets : acked_deposits)++;
      if (!op.problem.empty()) problems.push_back(op.id + ": " + op.problem);
    } else if (op.status >= 400 && op.status < 500 && op.status != 429) {
      ++rejections[std::to_string(op.status) + " " + op.code];
      // Only a business rule may say no to these requests; a 409 would mean
      // a retry was taken for a different write (exactly-once broken).
      if (op.code != "insufficient_funds") problems.push_back(op.id + ": " + op.problem);
    } else {
      problems.push_back(op.id + ": " + op.problem);
    }
  }
  std::string rejected_text;
  for (const auto& [code, n] : rejections) rejected_text += fmt::format(" {}x{}", n, code);
  std::printf("%s: %zu requests: %zu bets and %zu deposits acknowledged, rejected:%s; "
              "%zu requests saw %zu indefinite answers before a definite one\n",
              label, ops.size(), acked_bets, acked_deposits, rejected_text.empty() ? " none" : rejected_text.c_str(),
              resolved_unknowns, indefinite_answers);
  EXPECT_TRUE(problems.empty()) << problems.size() << " requests went wrong:\n" << first_of(problems);
  EXPECT_GT(acked_deposits, 20u) << "too little load to prove anything";

  return acked_bets;
}

void expect_state_matches(uint16_t port, const test::TestTokens& tokens, const std::vector<Op>& ops) {
  std::map<std::string, Expected> expected;
  for (int i = 0; i < kAccounts; ++i) expected[account_id(i)];
  int64_t acked_deposit_total = 0;
  std::vector<const Op*> bets, deposits;
  for (const Op& op : ops) {
    if (op.kind == Kind::bet) bets.push_back(&op);
    if (!op.acked()) continue;
    Expected& e = expected.at(op.account);
    if (op.kind == Kind::bet) {
      e.stakes += op.amount;
      e.bets.insert(op.id);
    } else {
      e.deposits += op.amount;
      acked_deposit_total += op.amount;
      deposits.push_back(&op);
    }
  }

  // Every acknowledged bet is there as acknowledged; no rejected one is.
  std::vector<std::string> failures;
  check_in_parallel(bets, port, [&](const Op& op, JsonClient& c, std::vector<std::string>& out) {
    Reply r = c.get(fmt::format("/v1/bets/{}?account_id={}", op.id, op.account), tokens.admin);
    if (!op.acked()) {
      if (r.status != 404) out.push_back(fmt::format("{}: rejected ({}) but GET says {}", op.id, op.code, r.describe()));
      return;
    }
    if (r.status != 200 || r.json.value("stake", int64_t{-1}) != op.amount ||
        r.json.value("odds", std::string()) != op.odds || r.json.value("index", uint64_t{0}) != op.index ||
        r.json.value("status", std::string()) != "open" || !r.json.contains("legs") ||
        r.json["legs"].size() != op.legs) {
      out.push_back(fmt::format("{}: acknowledged stake {} odds {} index {} legs {}, GET says {}", op.id, op.amount,
                                op.odds, op.index, op.legs, r.describe()));
    }
  }, failures);
  EXPECT_TRUE(failures.empty()) << failures.size() << " bets differ from their acknowledgement:\n" << first_of(failures);

  // Each account: money and bets are exactly what was acknowledged.
  JsonClient client(port, 15'000);
  int64_t balances = 0, in_play = 0;
  for (const auto& [account, e] : expected) {
    Reply a = client.get("/v1/accounts/" + account, tokens.admin);
    ASSERT_EQ(a.status, 200) << a.describe();
    const int64_t balance = a.json.value("balance", int64_t{-1});
    const int64_t play = a.json.value("in_play", int64_t{-1});
    balances += balance;
    in_play += play;
    EXPECT_EQ(balance + play, e.deposits) << account << ": " << a.describe();
    EXPECT_EQ(play, e.stakes) << account << ": " << a.describe();
    EXPECT_EQ(a.json.value("pending_withdrawals", int64_t{-1}), 0) << account;

    std::vector<std::string> listed;
    int64_t listed_stakes = 0;
    uint64_t previous_index = UINT64_MAX;
    std::string after;
    for (int page = 0; page < 10'000; ++page) {
      std::string target = "/v1/accounts/" + account + "/bets?limit=37" + (after.empty() ? "" : "&after=" + after);
      Reply p = client.get(target, tokens.admin);
      ASSERT_EQ(p.status, 200) << target << ": " << p.describe();
      for (const auto& b : p.json.at("bets")) {
        listed.push_back(b.value("bet_id", std::string()));
        listed_stakes += b.value("stake", int64_t{0});
        const uint64_t index = b.value("index", uint64_t{0});
        EXPECT_LE(index, previous_index) << account << ": not newest first at " << listed.back();
        previous_index = index;
      }
      if (p.json.at("next_after").is_null()) break;
      after = p.json.at("next_after").get<std::string>();
      ASSERT_EQ(after, listed.back()) << account << ": next_after is not the page's last bet";
    }
    const std::set<std::string> listed_set(listed.begin(), listed.end());
    EXPECT_EQ(listed.size(), listed_set.size()) << account << ": a bet is listed twice";
    EXPECT_EQ(listed_set, e.bets) << account << ": the bets listed are not the acknowledged ones";
    EXPECT_EQ(listed_stakes, e.stakes) << account;
  }

  // The double-entry check, and the totals behind it.
  Reply ledger = client.get("/v1/ledger/balance", tokens.admin);
  ASSERT_EQ(ledger.status, 200) << ledger.describe();
  EXPECT_EQ(ledger.json.value("total", int64_t{-1}), 0) << ledger.describe();
  EXPECT_TRUE(ledger.json.value("balanced", false)) << ledger.describe();
  ASSERT_TRUE(ledger.json.contains("currencies") && ledger.json["currencies"].size() == 1) << ledger.describe();
  const nlohmann::json& eur = ledger.json["currencies"][0];
  EXPECT_EQ(eur.value("deposits", int64_t{-1}), kAccounts * kFunding + acked_deposit_total) << ledger.describe();
  EXPECT_EQ(eur.value("balances", int64_t{-1}), balances) << ledger.describe();
  EXPECT_EQ(eur.value("in_play", int64_t{-1}), in_play) << ledger.describe();

  // Each acknowledged deposit, sent again, answers its first answer: it was
  // credited once, whichever run took it.
  failures.clear();
  check_in_parallel(deposits, port, [&](const Op& op, JsonClient& c, std::vector<std::string>& out) {
    const std::string body =
        nlohmann::json{{"payment_ref", op.id}, {"account_id", op.account}, {"amount", op.amount}}.dump();
    Reply r = c.post_until_definite("/v1/deposits", body, tokens.payments, 10'000, nullptr);
    if (r.status != 201 || r.json.value("index", uint64_t{0}) != op.index) {
      out.push_back(fmt::format("{}: acknowledged at index {}, sent again: {}", op.id, op.index, r.describe()));
    }
  }, failures);
  EXPECT_TRUE(failures.empty()) << failures.size() << " deposits answered differently:\n" << first_of(failures);
}

}  // namespace betcore::crash
