// `betcore bench` against an in-process fake of the node's HTTP API that
// checks every request against design/API.md (fields, types, roles, ids).
#include "tools/bench.h"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "ops/metrics.h"
#include "support/fake_http_server.h"
#include "support/net.h"
#include "tools/bench_plan.h"
#include "ops/request_stage.h"

namespace betcore::tools {
namespace {

using nlohmann::json;
using test::FakeHttpServer;
using test::FakeRequest;
using test::FakeResponse;

FakeResponse error(int status, const std::string& code) {
  return {status, json{{"error", {{"code", code}, {"message", "fake says no"}}}}.dump(), {}};
}

bool exactly_fields(const json& j, std::set<std::string> required,
                    std::set<std::string> optional = {}) {
  if (!j.is_object()) return false;
  for (const auto& [k, v] : j.items()) {
    if (!required.erase(k) && !optional.count(k)) return false;
  }
  return required.empty();
}

// Just enough of a node to take the bench's writes. Thread-safe.
class FakeBetcore {
 public:
  static constexpr const char* kAdmin = "adm";
  static constexpr const char* kTrader = "trd";
  static constexpr const char* kPayments = "pay";

  FakeResponse handle(const FakeRequest& r) {
    std::lock_guard lock(mu_);
    ++requests;
    // Like a node: its stage series, each bet's queue wait 1 ms.
    if (r.method == "GET" && r.target == "/metrics") return {200, metrics.expose(), {}};
    json body = json::parse(r.body, nullptr, false);
    std::string token = r.header("authorization");
    if (r.method != "POST" || body.is_discarded()) return bad("not a POST with JSON");
    if (r.header("content-type") != "application/json") return bad("content type");
    if (r.target == "/v1/events") return event(token, body);
    if (r.target == "/v1/markets") return market(token, body);
    if (r.target == "/v1/accounts") return account(token, body);
    if (r.target == "/v1/deposits") return deposit(token, body);
    if (r.target == "/v1/bets") return bet(token, body);
    return bad("unknown target " + r.target);
  }

  std::mutex mu_;
  int requests = 0;
  std::vector<std::string> violations;
  std::set<std::string> events, accounts, deposited, bet_ids;
  std::map<std::string, std::string> bodies;  // id -> first body: replay or 409
  std::map<std::string, std::map<std::string, std::string>> markets;  // id -> selection -> odds
  int bets = 0;
  int multiples = 0;
  int reject_every_nth_bet_with_429 = 0;
  ops::Registry metrics;

 private:
  FakeResponse bad(const std::string& why) {
    violations.push_back(why);
    return error(400, "invalid_request");
  }
  // Exactly once (API.md): the same id with the same body is a replay, with
  // another body a conflict. nullopt: first time.
  std::optional<FakeResponse> replay(const std::string& id, const json& b) {
    auto [it, fresh] = bodies.emplace(id, b.dump());
    if (fresh) return std::nullopt;
    if (it->second != b.dump()) return error(409, "conflict");
    return FakeResponse{201, b.dump()};
  }
  static bool is(const std::string& token, const char* want) {
    return token == std::string("Bearer ") + want;
  }

  FakeResponse event(const std::string& token, const json& b) {
    if (!is(token, kTrader)) return error(403, "forbidden");
    if (!exactly_fields(b, {"event_id", "name", "starts_at"})) return bad("event fields");
    if (auto r = replay(b["event_id"], b)) return *r;
    events.insert(b["event_id"]);
    return {201, b.dump(), {}};
  }

  FakeResponse market(const std::string& token, const json& b) {
    if (!is(token, kTrader)) return error(403, "forbidden");
    if (!exactly_fields(b, {"market_id", "event_id", "name", "selections"},
                        {"min_stake", "max_stake", "max_liability"})) {
      return bad("market fields");
    }
    if (!events.count(b["event_id"])) return error(404, "not_found");
    if (auto r = replay(b["market_id"], b)) return *r;
    auto& sels = markets[b["market_id"]];
    for (const auto& s : b["selections"]) {
      if (!exactly_fields(s, {"selection_id", "name", "odds"}) || !s["odds"].is_string()) {
        return bad("selection fields");
      }
      sels[s["selection_id"]] = s["odds"];
    }
    return {201, b.dump(), {}};
  }

  FakeResponse account(const std::string& token, const json& b) {
    if (!is(token, kAdmin)) return error(403, "forbidden");
    if (!exactly_fields(b, {"account_id", "currency"}, {"deposit_limit_24h"}))
      return bad("account fields");
    if (!is_valid_id(b["account_id"].get<std::string>())) return bad("account id");
    if (auto r = replay(b["account_id"], b)) return *r;
    accounts.insert(b["account_id"]);
    return {201, b.dump(), {}};
  }

  FakeResponse deposit(const std::string& token, const json& b) {
    if (!is(token, kPayments)) return error(403, "forbidden");
    if (!exactly_fields(b, {"payment_ref", "account_id", "amount"}) ||
        !b["amount"].is_number_integer()) {
      return bad("deposit fields");
    }
    if (!accounts.count(b["account_id"])) return error(404, "not_found");
    if (auto r = replay(b["payment_ref"], b)) return *r;
    deposited.insert(b["account_id"]);
    return {201, b.dump(), {}};
  }

  FakeResponse bet(const std::string& token, const json& b) {
    if (!is(token, kTrader)) return error(403, "forbidden");
    if (!exactly_fields(b, {"bet_id", "account_id", "stake", "legs"}, {"accept_better_odds"}) ||
        !b["stake"].is_number_integer() || !b["legs"].is_array()) {
      return bad("bet fields: " + b.dump());
    }
    if (!is_valid_id(b["bet_id"].get<std::string>())) return bad("bet id " + b.dump());
    if (!deposited.count(b["account_id"])) return error(404, "not_found");
    std::set<std::string> legs_markets;
    for (const auto& leg : b["legs"]) {
      if (!exactly_fields(leg, {"market_id", "selection_id", "odds"})) return bad("leg fields");
      auto m = markets.find(leg["market_id"]);
      if (m == markets.end()) return bad("leg on unknown market");
      auto s = m->second.find(leg["selection_id"]);
      if (s == m->second.end() || s->second != leg["odds"]) return bad("leg selection or odds");
      if (!legs_markets.insert(m->first).second) return bad("two legs on one market");
    }
    if (b["legs"].size() < 1 || b["legs"].size() > 4) return bad("leg count");
    ++bets;
    if (reject_every_nth_bet_with_429 && bets % reject_every_nth_bet_with_429 == 0) {
      FakeResponse r = error(429, "overloaded");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    if (!bet_ids.insert(b["bet_id"]).second) return bad("bet id reused");
    ops::request_stage(metrics, "queue").observe(0.001);
    if (b["legs"].size() > 1) ++multiples;
    json out = b;
    out["status"] = "open";
    out["index"] = bets;
    return {201, out.dump(), {}};
  }
};

BenchOptions small_run(const std::vector<std::string>& targets) {
  BenchOptions o;
  o.targets = targets;
  o.tokens = {std::string("admin=") + FakeBetcore::kAdmin,
              std::string("trader=") + FakeBetcore::kTrader,
              std::string("payments=") + FakeBetcore::kPayments};
  o.connections = 4;
  o.duration_s = 0.5;
  o.warmup_s = 0.1;
  o.accounts = 30;
  o.markets = 6;
  o.multiple_ratio = 0.5;
  o.json = true;
  o.setup_connections = 3;
  o.run_id = "t1";
  return o;
}

TEST(Bench, SetsUpAndPlacesValidBets) {
  FakeBetcore node;
  FakeHttpServer server([&](const FakeRequest& r) { return node.handle(r); });
  std::ostringstream out, err;
  int code = run_bench(small_run({server.url()}), out, err);
  ASSERT_EQ(code, kBenchExitOk) << err.str();
  json report = json::parse(out.str());
  std::lock_guard lock(node.mu_);
  EXPECT_TRUE(node.violations.empty()) << node.violations.front();
  EXPECT_EQ(node.events.size(), 1u);
  EXPECT_EQ(node.markets.size(), 6u);
  EXPECT_EQ(node.accounts.size(), 30u);
  EXPECT_EQ(node.deposited.size(), 30u);
  EXPECT_GT(node.multiples, 0);
  EXPECT_GT(report["ok"].get<int>(), 0);
  EXPECT_LE(report["ok"].get<int>(), node.bets);
  EXPECT_EQ(report["requests"], report["ok"]);
  EXPECT_TRUE(report["errors"].empty()) << report.dump();
  EXPECT_GT(report["bets_per_s"].get<double>(), 0);
  EXPECT_GT(report["latency_ms"]["p50"].get<double>(), 0);
  EXPECT_EQ(report["connections"], 4);
  EXPECT_NE(err.str().find("setup: accounts and deposits 30/30"), std::string::npos) << err.str();
  // The node's stages over the window (scraped from the target's /metrics),
  // and the bench's own CPU.
  const json& queue = report["stages_ms"]["queue"];
  EXPECT_GT(queue["count"].get<int>(), 0) << report.dump();
  EXPECT_LE(queue["count"].get<int>(), node.bets);
  EXPECT_NEAR(queue["mean"].get<double>(), 1.0, 0.01);
  EXPECT_GT(queue["p99"].get<double>(), 0.5);
  EXPECT_LE(queue["p99"].get<double>(), 1.0);
  EXPECT_TRUE(report["cpu"]["bench"]["seconds"].is_number()) << report.dump();
}

TEST(Bench, ARerunWithTheSameRunIdReusesSetupAndPlacesFreshBets) {
  FakeBetcore node;
  FakeHttpServer server([&](const FakeRequest& r) { return node.handle(r); });
  std::ostringstream out1, err1, out2, err2;
  ASSERT_EQ(run_bench(small_run({server.url()}), out1, err1), kBenchExitOk) << err1.str();
  // The event's starts_at moves between runs: the fake answers 409 to it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_EQ(run_bench(small_run({server.url()}), out2, err2), kBenchExitOk) << err2.str();
  EXPECT_NE(err2.str().find("t1-ev exists"), std::string::npos) << err2.str();
  std::lock_guard lock(node.mu_);
  EXPECT_TRUE(node.violations.empty()) << node.violations.front();  // no bet id twice
  EXPECT_EQ(node.accounts.size(), 30u);
}

TEST(Bench, CountsOverloadAndKeepsGoing) {
  FakeBetcore node;
  node.reject_every_nth_bet_with_429 = 5;
  FakeHttpServer server([&](const FakeRequest& r) { return node.handle(r); });
  std::ostringstream out, err;
  ASSERT_EQ(run_bench(small_run({server.url()}), out, err), kBenchExitOk) << err.str();
  json report = json::parse(out.str());
  EXPECT_GT(report["errors"]["429 overloaded"].get<int>(), 0) << report.dump();
  EXPECT_GT(report["status"]["429"].get<int>(), 0);
  EXPECT_GT(report["ok"].get<int>(), 0);
}

TEST(Bench, FailsOverFromAnUnavailableNode) {
  FakeBetcore node;
  FakeHttpServer healthy([&](const FakeRequest& r) { return node.handle(r); });
  FakeHttpServer unavailable([](const FakeRequest&) {
    FakeResponse r = error(503, "unavailable");
    r.headers.emplace_back("Retry-After", "0");
    return r;
  });
  uint16_t dead_port = test::reserve_port();
  std::ostringstream out, err;
  BenchOptions o = small_run(
      {unavailable.url(), "http://127.0.0.1:" + std::to_string(dead_port), healthy.url()});
  ASSERT_EQ(run_bench(o, out, err), kBenchExitOk) << err.str();
  json report = json::parse(out.str());
  std::lock_guard lock(node.mu_);
  EXPECT_TRUE(node.violations.empty()) << node.violations.front();
  EXPECT_EQ(node.deposited.size(), 30u);
  EXPECT_GT(report["ok"].get<int>(), 0) << report.dump();
}

TEST(Bench, SetupFailureTellsHowToStartANode) {
  uint16_t port = test::reserve_port();
  std::ostringstream out, err;
  BenchOptions o = small_run({"http://127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(run_bench(o, out, err), kBenchExitSetupFailed);
  EXPECT_NE(err.str().find("Is a node listening on http://127.0.0.1:"), std::string::npos)
      << err.str();
  EXPECT_NE(err.str().find("betcore node --data"), std::string::npos) << err.str();
  EXPECT_TRUE(out.str().empty());
}

TEST(Bench, RefusedTokenNamesTheRole) {
  FakeBetcore node;
  FakeHttpServer server([&](const FakeRequest& r) { return node.handle(r); });
  BenchOptions o = small_run({server.url()});
  o.tokens[1] = "trader=wrong";
  std::ostringstream out, err;
  EXPECT_EQ(run_bench(o, out, err), kBenchExitSetupFailed);
  EXPECT_NE(err.str().find("403 forbidden"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("--token trader=TOKEN"), std::string::npos) << err.str();
}

TEST(Bench, MissingTokensAreAUsageError) {
  BenchOptions o = small_run({"http://127.0.0.1:1"});
  o.tokens = {"admin=x"};
  std::ostringstream out, err;
  EXPECT_EQ(run_bench(o, out, err), kBenchExitUsage);
  EXPECT_NE(err.str().find("no trader, payments token"), std::string::npos) << err.str();
}

TEST(Bench, BadFlagsAreUsageErrors) {
  std::ostringstream out, err;
  BenchOptions o = small_run({"ftp://127.0.0.1:1"});
  EXPECT_EQ(run_bench(o, out, err), kBenchExitUsage);
  o = small_run({"http://127.0.0.1:1"});
  o.run_id = "has space";
  EXPECT_EQ(run_bench(o, out, err), kBenchExitUsage);
  o = small_run({"http://127.0.0.1:1"});
  o.multiple_ratio = 1.5;
  EXPECT_EQ(run_bench(o, out, err), kBenchExitUsage);
}

}  // namespace
}  // namespace betcore::tools
