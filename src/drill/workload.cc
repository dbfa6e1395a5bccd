// The drill's workload: punters and a trader through HAProxy, with retries.
#include "drill/workload.h"
#include "drill/cluster.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "domain/rejection.h"
#include "drill/clock.h"

namespace betcore::drill {
namespace {

using json = nlohmann::json;
using domain::LegResult;

constexpr int kAccountsPerClient = 4;
// Then the op stays unanswered: a failure the checker reports.
constexpr int64_t kRetryForMs = 90'000;

std::string odds_text(int64_t thousandths) {
  return fmt::format("{}.{:03}", thousandths / 1000, thousandths % 1000);
}

// The API's name of a leg result (api/request_parsing.cc reads it).
const char* result_text(LegResult r) {
  switch (r) {
    case LegResult::pending:
      return "pending";
    case LegResult::win:
      return "win";
    case LegResult::lose:
      return "lose";
    case LegResult::void_:
      return "void";
  }
  return "pending";
}

DrillOp make_write(std::string what, std::string key, std::string method, std::string target,
                   std::string body, std::string token) {
  DrillOp op;
  op.h.what = std::move(what);
  op.h.key = std::move(key);
  op.method = std::move(method);
  op.target = std::move(target);
  op.body = std::move(body);
  op.token = std::move(token);
  return op;
}

std::string error_code(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j["error"].is_object()) return j["error"].value("code", "");
  return "";
}

// 2xx, or a 4xx the state machine or the API gave; 408 and 429 are worth a retry.
bool definite(int status) {
  return status >= 200 && status < 500 && status != 429 && status != 408;
}

}  // namespace

Workload::Workload(uint16_t port, const DrillCluster& c, int clients, uint64_t seed)
    : port_(port),
      admin_(c.admin),
      trader_(c.trader),
      payments_(c.payments),
      clients_(clients),
      seed_(seed) {
  for (int i = 0; i < clients_; ++i) {
    for (int a = 0; a < kAccountsPerClient; ++a) accounts_.push_back(fmt::format("a{}-{}", i, a));
  }
}

bool Workload::set_up(std::string& why) {
  tools::HttpClient http("127.0.0.1", port_, betcore_http(2000, 15000));
  std::mt19937_64 rng(seed_);
  for (const std::string& a : accounts_) {
    if (!run_op(http,
                make_write("create account " + a, "account:" + a, "POST", "/v1/accounts",
                           json{{"account_id", a}, {"currency", "EUR"}}.dump(), admin_),
                rng)) {
      why = "creating " + a + " failed";
      return false;
    }
    json deposit{{"payment_ref", "init-" + a}, {"account_id", a}, {"amount", 100'000}};
    if (!run_op(http,
                make_write("deposit to " + a, "deposit:init-" + a, "POST", "/v1/deposits",
                           deposit.dump(), payments_),
                rng)) {
      why = "funding " + a + " failed";
      return false;
    }
  }
  json event{{"event_id", "e0"}, {"name", "Final"}, {"starts_at", "2027-01-01T00:00:00Z"}};
  if (!run_op(
          http,
          make_write("create event e0", "event:e0", "POST", "/v1/events", event.dump(), trader_),
          rng)) {
    why = "creating the event failed";
    return false;
  }
  for (int m = 0; m < 3; ++m) {
    if (!create_market(http, rng)) {
      why = "creating a market failed";
      return false;
    }
  }
  return true;
}

void Workload::start() {
  for (int i = 0; i < clients_; ++i) threads_.emplace_back([this, i] { punter(i); });
  threads_.emplace_back([this] { trader(); });
}

void Workload::stop() {
  stop_.store(true);
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::vector<DrillOp> Workload::ops() const {
  std::lock_guard lock(mu_);
  return ops_;
}

// Sends until a definite answer, retrying with the same body (the same
// client id) after a jittered backoff, for at most kRetryForMs.
bool Workload::run_op(tools::HttpClient& http, DrillOp op, std::mt19937_64& rng) {
  op.h.first_sent_ms = now_ms();
  if (op.h.read) op.h.must_include = acked_index();
  int tries = 0;
  const int64_t deadline = op.h.first_sent_ms + kRetryForMs;
  for (;;) {
    tools::Response r = http.request(op.method, op.target, op.body, op.token);
    int64_t t = now_ms();
    if (definite(r.status)) {
      record_answer(op, r, t);
      bool ok = r.status < 300;
      std::lock_guard lock(mu_);
      ops_.push_back(std::move(op));
      return ok;
    }
    op.indefinite.push_back(Attempt{
        t, r.status == 0 ? "no answer" : fmt::format("{} {}", r.status, error_code(r.body))});
    if (t > deadline) {
      op.status = r.status;
      std::lock_guard lock(mu_);
      ops_.push_back(std::move(op));
      return false;
    }
    ++tries;
    int64_t backoff = std::min<int64_t>(1000, 20 << std::min(tries, 6));
    sleep_ms(backoff / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(backoff / 2 + 1)));
  }
}

// What the checker needs of a definite answer: the balance and index a
// read reflects, the index of a write or of its rejection.
void Workload::record_answer(DrillOp& op, const tools::Response& r, int64_t t) {
  op.status = r.status;
  op.h.answered = true;
  op.h.answered_ms = t;
  op.latency_ms = t - op.h.first_sent_ms;
  json body = json::parse(r.body, nullptr, false);
  if (op.h.read) {
    op.h.found = r.status == 200;
    if (op.h.found && body.is_object()) op.h.balance = body.value("balance", int64_t{0});
    op.h.index = std::strtoull(r.header("x-betcore-index").c_str(), nullptr, 10);
  } else if (r.status < 300) {
    op.h.code = domain::Code::ok;
    if (body.is_object()) {
      op.h.index = body.value("index", uint64_t{0});
      op.h.count = body.value("settled_bets", 0u);
    }
    uint64_t seen = acked_index_.load();
    while (op.h.index > seen && !acked_index_.compare_exchange_weak(seen, op.h.index)) {
    }
  } else {
    const json& e = body.is_object() ? body["error"] : json();
    std::string code = e.is_object() ? e.value("code", "") : "";
    op.h.code = domain::Code::invalid_request;
    for (int c = 0; c <= static_cast<int>(domain::Code::last); ++c) {
      if (domain::code_name(static_cast<domain::Code>(c)) == code) {
        op.h.code = static_cast<domain::Code>(c);
      }
    }
    op.h.index = e.is_object() ? e.value("index", uint64_t{0}) : 0;
  }
}

bool Workload::create_market(tools::HttpClient& http, std::mt19937_64& rng) {
  sim::MarketView m;
  {
    std::lock_guard lock(markets_mu_);
    m.id = fmt::format("m{}", markets_.size() + next_market_++);
  }
  json sels = json::array();
  int n = 2 + static_cast<int>(rng() % 2);
  for (int i = 0; i < n; ++i) {
    int64_t odds = 1100 + static_cast<int64_t>(rng() % 4900);
    m.selections.push_back(fmt::format("s{}", i));
    m.odds.push_back(odds);
    sels.push_back(json{{"selection_id", m.selections.back()},
                        {"name", "Runner " + m.selections.back()},
                        {"odds", odds_text(odds)}});
  }
  json body{
      {"market_id", m.id}, {"event_id", "e0"}, {"name", "Market " + m.id}, {"selections", sels}};
  bool ok = run_op(http,
                   make_write("create market " + m.id, "market:" + m.id, "POST", "/v1/markets",
                              body.dump(), trader_),
                   rng);
  if (ok) {
    std::lock_guard lock(markets_mu_);
    markets_.push_back(m);
  }
  return ok;
}

void Workload::punter(int client) {
  tools::HttpClient http("127.0.0.1", port_, betcore_http(1000, 12000));
  std::mt19937_64 rng(seed_ * 1000 + static_cast<uint64_t>(client));
  uint64_t n = 0;
  while (!stop_.load()) {
    if (client >= active_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (const int pace = pace_ms_.load(); pace > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pace));
    const std::string& account =
        accounts_[static_cast<size_t>(client * kAccountsPerClient) + rng() % kAccountsPerClient];
    std::string id = fmt::format("{}-{}", client, ++n);
    const uint64_t roll = client >= bets_only_from_ ? 50 : rng() % 100;  // 20..64: a bet
    if (roll < 20) {
      json body{{"payment_ref", "d" + id},
                {"account_id", account},
                {"amount", 100 + static_cast<int64_t>(rng() % 9900)}};
      run_op(http,
             make_write("deposit d" + id, "deposit:d" + id, "POST", "/v1/deposits", body.dump(),
                        payments_),
             rng);
    } else if (roll < 65) {
      bet(http, rng, account, id);
    } else if (roll < 75) {
      std::string w = "w" + id;
      json body{{"withdrawal_id", w},
                {"account_id", account},
                {"amount", 1 + static_cast<int64_t>(rng() % 4000)}};
      // Paid and finished by the payment adapter (drill/payments.h).
      run_op(http,
             make_write("withdrawal " + w, "withdrawal:" + w, "POST", "/v1/withdrawals",
                        body.dump(), admin_),
             rng);
    } else {
      DrillOp op;
      op.h.read = true;
      op.h.what = "read " + account;
      op.h.account = account;
      op.method = "GET";
      op.target = "/v1/accounts/" + account;
      op.token = admin_;
      run_op(http, std::move(op), rng);
    }
  }
}

void Workload::bet(tools::HttpClient& http, std::mt19937_64& rng, const std::string& account,
                   const std::string& id) {
  sim::MarketView m;
  {
    std::lock_guard lock(markets_mu_);
    if (markets_.empty()) return;
    m = markets_[rng() % markets_.size()];
  }
  size_t s = rng() % m.selections.size();
  json leg{{"market_id", m.id}, {"selection_id", m.selections[s]}, {"odds", odds_text(m.odds[s])}};
  json body{{"bet_id", "b" + id},
            {"account_id", account},
            {"stake", 1 + static_cast<int64_t>(rng() % 3000)},
            {"legs", json::array({leg})}};
  run_op(http,
         make_write("bet b" + id + " on " + m.id, "bet:b" + id, "POST", "/v1/bets", body.dump(),
                    trader_),
         rng);
}

void Workload::trader() {
  tools::HttpClient http("127.0.0.1", port_, betcore_http(1000, 12000));
  std::mt19937_64 rng(seed_ * 7777);
  uint64_t n = 0;
  while (!stop_.load()) {
    sleep_ms(150 + static_cast<int64_t>(rng() % 200));
    int open = 0;
    sim::MarketView m;
    size_t pick = 0;
    {
      std::lock_guard lock(markets_mu_);
      for (const sim::MarketView& x : markets_) open += x.status < 2 ? 1 : 0;
      pick = rng() % markets_.size();  // set_up made 3, and markets are never removed
      m = markets_[pick];
    }
    uint64_t roll = rng() % 100;
    if (open < 3 || roll < 10) {
      create_market(http, rng);
      continue;
    }
    std::string rid = fmt::format("r{}", ++n);
    if (m.status == 3 || roll < 25) {
      settle(http, rng, m, pick, rid);
      continue;
    }
    const char* action = roll < 55 ? "suspend" : roll < 90 ? "resume" : "close";
    run_op(
        http,
        make_write(std::string(action) + " " + m.id + " " + rid, "request:" + rid, "POST",
                   "/v1/markets/" + m.id + "/" + action, json{{"request_id", rid}}.dump(), trader_),
        rng);
    std::lock_guard lock(markets_mu_);
    if (markets_[pick].status < 2) {
      markets_[pick].status = action[0] == 's' ? 1 : action[0] == 'r' ? 0 : 2;
    }
  }
}

// Settles `m`, or resettles it with other results when it was settled.
void Workload::settle(tools::HttpClient& http, std::mt19937_64& rng, const sim::MarketView& m,
                      size_t pick, const std::string& rid) {
  std::vector<LegResult> results(m.selections.size(), LegResult::lose);
  results[rng() % results.size()] = LegResult::win;
  if (rng() % 10 == 0) std::fill(results.begin(), results.end(), LegResult::void_);
  if (m.status == 3 && results == m.results) {
    results[0] = results[0] == LegResult::win ? LegResult::lose : LegResult::win;
  }
  json rs = json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    rs.push_back(json{{"selection_id", m.selections[i]}, {"result", result_text(results[i])}});
  }
  bool re = m.status == 3;
  run_op(http,
         make_write(std::string(re ? "resettle " : "settle ") + m.id + " " + rid, "request:" + rid,
                    "POST", "/v1/markets/" + m.id + (re ? "/resettle" : "/settle"),
                    json{{"results", rs}, {"request_id", rid}}.dump(), trader_),
         rng);
  std::lock_guard lock(markets_mu_);
  markets_[pick].status = 3;
  markets_[pick].results = results;
}

}  // namespace betcore::drill
