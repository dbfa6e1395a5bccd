// Every 4xx of design/API.md this build can produce (but 413 and 422: see
// api_limits_test.cc and api_business_rules_test.cc), each checked for its
// status, its error code, a message, and that it changed nothing.
#include <gtest/gtest.h>

#include "api_node.h"
#include "api_world.h"
#include "node_suite.h"

namespace betcore::apitest {
namespace {

class ApiErrors : public NodeSuite<ApiErrors> {
 public:
  static NodeConfig config() { return rejection_world_config(); }
  static void build_world(ApiNode& n) { build_rejection_world(n); }

 protected:
  // Expects `req` to be rejected with status/code, changing nothing.
  void expect_rejected(const Req& req, int status, std::string_view code) {
    EXPECT_TRUE(Rejected(node(), req, status, code, rejection_world_visible()));
  }
  void expect_400(const std::string& target, const std::string& body, const std::string& token) {
    expect_rejected({"POST", target, body, token}, 400, "invalid_request");
  }
  void expect_400(const std::string& target, const json& body, const std::string& token) {
    expect_400(target, body.dump(), token);
  }
};

// A bet body that is right but for the one thing a test changes.
json good_bet() { return bet_body("new-bet", "alice", 500, {{"mk2", "yes", "1.5"}}); }

TEST_F(ApiErrors, MalformedJsonOnEveryWriteRoute) {
  ApiNode& n = node();
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"/v1/accounts", n.admin()},
      {"/v1/accounts/alice/self-exclusion", n.admin()},
      {"/v1/deposits", n.payments()},
      {"/v1/withdrawals", n.admin()},
      {"/v1/withdrawals/wd-pending/complete", n.payments()},
      {"/v1/withdrawals/wd-pending/fail", n.payments()},
      {"/v1/events", n.trader()},
      {"/v1/markets", n.trader()},
      {"/v1/markets/mk/prices", n.trader()},
      {"/v1/markets/mk/suspend", n.trader()},
      {"/v1/markets/mk/resume", n.trader()},
      {"/v1/markets/mk/close", n.trader()},
      {"/v1/markets/mk/settle", n.trader()},
      {"/v1/markets/mk/resettle", n.trader()},
      {"/v1/bets", n.trader()},
  };
  const std::vector<std::string> bodies = {
      "{",
      "not json",
      "{\"a\":1,}",
      "{'bet_id': 'x'}",
      "[]",
      "[{}]",
      "\"a string\"",
      "42",
      "null",
      "true",
      "{\"reason\": \"x\"",
      "{} {}",
      "{\"a\":1} trailing",
  };
  for (const auto& [target, token] : routes) {
    for (const std::string& body : bodies) expect_400(target, body, token);
  }
}

TEST_F(ApiErrors, WrongTypes) {
  ApiNode& n = node();
  auto bet_with = [](const char* key, json value) {
    json b = good_bet();
    b[key] = std::move(value);
    return b;
  };
  for (json stake : {json("500"), json(1.5), json::parse("1e3"), json::parse("500.0"), json(true),
                     json::array({500}), json{{"minor", 500}}}) {
    expect_400("/v1/bets", bet_with("stake", stake), n.trader());
  }
  expect_400("/v1/bets", bet_with("bet_id", 123), n.trader());
  expect_400("/v1/bets", bet_with("account_id", json::array({"alice"})), n.trader());
  expect_400("/v1/bets", bet_with("legs", json{{"market_id", "mk2"}}), n.trader());
  expect_400("/v1/bets", bet_with("legs", json::array()), n.trader());
  expect_400("/v1/bets", bet_with("legs", json::array({"mk2/yes"})), n.trader());
  expect_400("/v1/bets", bet_with("accept_better_odds", "yes"), n.trader());
  expect_400("/v1/bets", bet_with("accept_better_odds", 1), n.trader());
  // 21 legs: a multiple has 2..20.
  std::vector<LegSpec> legs;
  for (int i = 0; i < 21; ++i) legs.push_back({"m" + std::to_string(i), "x", "2"});
  expect_400("/v1/bets", bet_body("new-bet", "alice", 500, legs), n.trader());

  for (json amount : {json("700"), json(7.5), json::parse("1e3"), json(nullptr), json(false)}) {
    expect_400("/v1/deposits",
               json{{"payment_ref", "p-new"}, {"account_id", "alice"}, {"amount", amount}},
               n.payments());
    expect_400("/v1/withdrawals",
               json{{"withdrawal_id", "w-new"}, {"account_id", "alice"}, {"amount", amount}},
               n.admin());
  }
  expect_400("/v1/accounts", json{{"account_id", "new-acct"}, {"currency", 978}}, n.admin());
  for (const char* currency : {"eur", "EURO", "EU", "", "E1R"}) {
    expect_400("/v1/accounts", account_body("new-acct", currency), n.admin());
  }
  expect_400("/v1/accounts",
             json{{"account_id", "new-acct"}, {"currency", "EUR"}, {"deposit_limit_24h", "100"}},
             n.admin());
  expect_400("/v1/accounts/alice/self-exclusion", json{{"until", 4102444800}}, n.admin());
  for (const char* until :
       {"tomorrow", "2099-01-01", "2099-13-01T00:00:00Z", "2099-02-30T00:00:00Z", ""}) {
    expect_400("/v1/accounts/alice/self-exclusion", json{{"until", until}}, n.admin());
  }
  expect_400("/v1/events", json{{"event_id", "new-ev"}, {"name", "x"}, {"starts_at", 1764273600}},
             n.trader());
  expect_400("/v1/events",
             json{{"event_id", "new-ev"}, {"name", 7}, {"starts_at", "2026-11-27T20:00:00Z"}},
             n.trader());
  json m = market_body("new-m", "er-ev", {{"a", "2"}});
  m["selections"] = json{{"selection_id", "a"}};
  expect_400("/v1/markets", m, n.trader());
  expect_400("/v1/markets/mk/prices",
             json{{"prices", {{{"selection_id", "home"}, {"odds", "2.2"}, {"active", "no"}}}}},
             n.trader());
  expect_400("/v1/markets/mk/suspend", json{{"reason", 5}}, n.trader());
  expect_400("/v1/withdrawals/wd-pending/complete", json{{"gateway_ref", 5}}, n.payments());
}

TEST_F(ApiErrors, UnknownAndMissingFields) {
  ApiNode& n = node();
  json extra = good_bet();
  extra["stake_amount"] = 500;
  expect_400("/v1/bets", extra, n.trader());
  for (const char* field : {"bet_id", "account_id", "stake", "legs"}) {
    json b = good_bet();
    b.erase(field);
    expect_400("/v1/bets", b, n.trader());
    b[field] = nullptr;  // null is missing
    expect_400("/v1/bets", b, n.trader());
  }
  for (const char* field : {"market_id", "selection_id", "odds"}) {
    json b = good_bet();
    b["legs"][0].erase(field);
    expect_400("/v1/bets", b, n.trader());
  }
  json leg_extra = good_bet();
  leg_extra["legs"][0]["price"] = "1.5";
  expect_400("/v1/bets", leg_extra, n.trader());

  expect_400("/v1/accounts", json{{"account_id", "new-acct"}, {"curency", "EUR"}}, n.admin());
  expect_400("/v1/accounts", json{{"account_id", "new-acct"}}, n.admin());
  expect_400("/v1/accounts", json{{"currency", "EUR"}}, n.admin());
  expect_400("/v1/deposits", json{{"account_id", "alice"}, {"amount", 5}}, n.payments());
  expect_400(
      "/v1/deposits",
      json{{"payment_ref", "p-new"}, {"account_id", "alice"}, {"amount", 5}, {"currency", "EUR"}},
      n.payments());
  expect_400("/v1/withdrawals", json{{"withdrawal_id", "w-new"}, {"amount", 5}}, n.admin());
  expect_400("/v1/withdrawals/wd-pending/complete", json::object(), n.payments());
  expect_400("/v1/withdrawals/wd-pending/complete", json{{"gateway_ref", ""}}, n.payments());
  expect_400("/v1/withdrawals/wd-pending/fail", json::object(), n.payments());
  expect_400("/v1/withdrawals/wd-pending/fail", json{{"reason", "x"}, {"gateway_ref", "y"}},
             n.payments());
  expect_400("/v1/accounts/alice/self-exclusion", json::object(), n.admin());
  expect_400("/v1/events", json{{"event_id", "new-ev"}, {"name", "x"}}, n.trader());
  expect_400("/v1/events",
             json{{"event_id", "new-ev"}, {"name", ""}, {"starts_at", "2026-11-27T20:00:00Z"}},
             n.trader());
  expect_400("/v1/events",
             json{{"event_id", "new-ev"},
                  {"name", std::string(257, 'n')},
                  {"starts_at", "2026-11-27T20:00:00Z"}},
             n.trader());
  json m = market_body("new-m", "er-ev", {{"a", "2"}});
  m["selections"][0]["colour"] = "red";
  expect_400("/v1/markets", m, n.trader());
  m = market_body("new-m", "er-ev", {{"a", "2"}});
  m["selections"][0].erase("name");
  expect_400("/v1/markets", m, n.trader());
  expect_400("/v1/markets", market_body("new-m", "er-ev", {}), n.trader());
  expect_400("/v1/markets", market_body("new-m", "er-ev", {{"a", "2"}, {"a", "3"}}), n.trader());
  expect_400("/v1/markets",
             market_body("new-m", "er-ev", {{"a", "2"}}, {{"min_stake", 10}, {"max_stake", 9}}),
             n.trader());
  expect_400("/v1/markets/mk/prices", json::object(), n.trader());
  expect_400("/v1/markets/mk/prices", json{{"prices", json::array()}}, n.trader());
  expect_400("/v1/markets/mk/prices",
             json{{"prices",
                   {{{"selection_id", "home"}, {"odds", "2.2"}},
                    {{"selection_id", "home"}, {"odds", "2.3"}}}}},
             n.trader());
  expect_400("/v1/markets/mk/suspend", json{{"why", "x"}}, n.trader());
  expect_400("/v1/markets/mk/settle", json::object(), n.trader());
  expect_400("/v1/markets/mk/settle",
             results_body({{"home", "draw"}, {"away", "lose"}, {"draw", "lose"}}), n.trader());
  expect_400("/v1/markets/mk/settle",
             results_body({{"home", "WIN"}, {"away", "lose"}, {"draw", "lose"}}), n.trader());
  // Results must name every selection exactly once.
  expect_400("/v1/markets/mk/settle", results_body({{"home", "win"}, {"away", "lose"}}),
             n.trader());
  expect_400("/v1/markets/mk/settle",
             results_body({{"home", "win"}, {"away", "lose"}, {"away", "lose"}}), n.trader());
}

TEST_F(ApiErrors, BadIds) {
  ApiNode& n = node();
  const std::string long_id(65, 'a');
  for (const std::string& id : {std::string("has space"), std::string("a/b"), std::string(""),
                                long_id, std::string("semi;colon"),
                                std::string("\xc3\xbc"
                                            "mlaut"),
                                std::string("tab\t"), std::string("quote\""), std::string("hash#"),
                                std::string("nul\0x", 5)}) {
    json b = good_bet();
    b["bet_id"] = id;
    expect_400("/v1/bets", b, n.trader());
    b = good_bet();
    b["legs"][0]["selection_id"] = id;
    expect_400("/v1/bets", b, n.trader());
    expect_400("/v1/accounts", account_body(id), n.admin());
    expect_400("/v1/deposits", deposit_body(id, "alice", 5), n.payments());
    expect_400("/v1/deposits", deposit_body("p-new", id, 5), n.payments());
    expect_400("/v1/withdrawals", withdrawal_body(id, "alice", 5), n.admin());
    expect_400("/v1/events", event_body(id), n.trader());
    expect_400("/v1/markets", market_body(id, "er-ev", {{"a", "2"}}), n.trader());
    expect_400("/v1/markets", market_body("new-m", "er-ev", {{id, "2"}}), n.trader());
  }
  // Ids in the path: 65 characters or a character outside the set.
  for (const std::string& id :
       {long_id, std::string("a%20b"), std::string("a%2Fb"), std::string("bad*id")}) {
    expect_rejected({"GET", "/v1/accounts/" + id, "", n.admin()}, 400, "invalid_request");
    expect_rejected({"GET", "/v1/markets/" + id, "", n.admin()}, 400, "invalid_request");
    expect_rejected({"GET", "/v1/bets/" + id, "", n.admin()}, 400, "invalid_request");
    expect_rejected({"GET", "/v1/withdrawals/" + id, "", n.admin()}, 400, "invalid_request");
    expect_rejected({"GET", "/v1/accounts/" + id + "/bets", "", n.admin()}, 400, "invalid_request");
    expect_400("/v1/accounts/" + id + "/self-exclusion", json{{"until", "2099-01-01T00:00:00Z"}},
               n.admin());
    expect_400("/v1/markets/" + id + "/suspend", json::object(), n.trader());
    expect_400("/v1/markets/" + id + "/prices",
               json{{"prices", {{{"selection_id", "a"}, {"odds", "2"}}}}}, n.trader());
    expect_400("/v1/markets/" + id + "/settle", results_body({{"a", "win"}}), n.trader());
    expect_400("/v1/withdrawals/" + id + "/complete", json{{"gateway_ref", "g"}}, n.payments());
  }
  // 64 characters is a valid id: unknown, not malformed.
  expect_rejected({"GET", "/v1/accounts/" + std::string(64, 'a'), "", n.admin()}, 404, "not_found");
}

TEST_F(ApiErrors, NumbersOutOfRange) {
  ApiNode& n = node();
  const std::vector<std::string> bad = {
      "0",
      "-1",
      "10000000000001",
      "9223372036854775807",
      "9223372036854775808",
      "18446744073709551615",
      "18446744073709551616",
      "-9223372036854775808",
      "-9223372036854775809",
      "100000000000000000000000000000",
  };
  for (const std::string& v : bad) {
    expect_400("/v1/bets",
               R"({"bet_id":"new-bet","account_id":"alice","stake":)" + v +
                   R"(,"legs":[{"market_id":"mk2","selection_id":"yes","odds":"1.5"}]})",
               n.trader());
    expect_400("/v1/deposits", R"({"payment_ref":"p-new","account_id":"alice","amount":)" + v + "}",
               n.payments());
    expect_400("/v1/withdrawals",
               R"({"withdrawal_id":"w-new","account_id":"alice","amount":)" + v + "}", n.admin());
    expect_400("/v1/accounts",
               R"({"account_id":"new-acct","currency":"EUR","deposit_limit_24h":)" + v + "}",
               n.admin());
    json m = market_body("new-m", "er-ev", {{"a", "2"}});
    std::string prefix = m.dump();
    prefix.pop_back();
    expect_400("/v1/markets", prefix + R"(,"min_stake":)" + v + "}", n.trader());
    expect_400("/v1/markets", prefix + R"(,"max_stake":)" + v + "}", n.trader());
  }
  // max_liability goes to 10^15.
  json m = market_body("new-m", "er-ev", {{"a", "2"}});
  std::string prefix = m.dump();
  prefix.pop_back();
  for (const char* v : {"0", "-5", "1000000000000001"}) {
    expect_400("/v1/markets", prefix + R"(,"max_liability":)" + v + "}", n.trader());
  }
}

TEST_F(ApiErrors, BadOdds) {
  ApiNode& n = node();
  auto odds_json = [](const std::string& raw) { return raw; };  // the JSON text of the odds value
  const std::vector<std::string> bad = {
      R"("1.0001")",
      R"("0.5")",
      "2.1",
      "2",
      R"("1")",
      R"("1.000")",
      R"("1000.001")",
      R"("1001")",
      R"("")",
      R"("abc")",
      R"("-2")",
      R"("2.")",
      R"(".5")",
      R"("1e3")",
      R"(" 2")",
      R"("2,1")",
      R"("+2")",
      R"("2.10 ")",
      "null",
      R"("0")",
      R"("1000000000000")",
  };
  for (const std::string& o : bad) {
    expect_400(
        "/v1/bets",
        R"({"bet_id":"new-bet","account_id":"alice","stake":500,"legs":[{"market_id":"mk2","selection_id":"yes","odds":)" +
            odds_json(o) + "}]}",
        n.trader());
    expect_400(
        "/v1/markets",
        R"({"market_id":"new-m","event_id":"er-ev","name":"x","selections":[{"selection_id":"a","name":"a","odds":)" +
            o + "}]}",
        n.trader());
    expect_400("/v1/markets/mk/prices", R"({"prices":[{"selection_id":"home","odds":)" + o + "}]}",
               n.trader());
  }
}

TEST_F(ApiErrors, BadQueryParameters) {
  ApiNode& n = node();
  for (const char* q : {"limit=0", "limit=1001", "limit=abc", "limit=-1", "after=no-such-bet",
                        "status=bogus", "after=bet-alice"}) {
    // after=bet-alice is a bet of another account.
    expect_rejected({"GET", std::string("/v1/accounts/bob/bets?") + q, "", n.admin()}, 400,
                    "invalid_request");
  }
  for (const char* q :
       {"stale=maybe", "stale=1", "min_index=-1", "min_index=abc", "min_index=1.5"}) {
    expect_rejected({"GET", std::string("/v1/accounts/alice?") + q, "", n.admin()}, 400,
                    "invalid_request");
  }
}

TEST_F(ApiErrors, Unauthenticated) {
  ApiNode& n = node();
  const std::vector<Req> requests = {
      {"GET", "/v1/accounts/alice", "", ""},
      {"POST", "/v1/deposits", deposit_body("p-new", "alice", 5).dump(), ""},
      {"POST", "/v1/bets", good_bet().dump(), ""},
      {"GET", "/v1/ledger/balance", "", ""},
      {"GET", "/v1/cluster", "", ""},
  };
  for (Req r : requests) {
    expect_rejected(r, 401, "unauthenticated");
    r.token = "not-a-token-that-exists";
    expect_rejected(r, 401, "unauthenticated");
    r.token = n.admin() + "x";
    expect_rejected(r, 401, "unauthenticated");
  }
  // Other schemes and a bare token are not Bearer.
  for (const std::string& header :
       {"Basic " + n.admin(), n.admin(), std::string("Bearer "), std::string("Bearer")}) {
    tools::HttpClient c = n.client();
    tools::Request req;
    req.target = "/v1/accounts/alice";
    req.headers = {{"Authorization", header}};
    Reply r = to_reply(c.request(req));
    EXPECT_ERROR(r, 401, "unauthenticated") << header;
    EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  }
}

TEST_F(ApiErrors, ForbiddenRoles) {
  ApiNode& n = node();
  const std::string acct = account_body("new-acct").dump();
  const std::string dep = deposit_body("p-new", "alice", 5).dump();
  const std::string ev = event_body("new-ev").dump();
  const std::string mk = market_body("new-m", "er-ev", {{"a", "2"}}).dump();
  const std::string bet = good_bet().dump();
  const std::string settle =
      results_body({{"home", "win"}, {"away", "lose"}, {"draw", "lose"}}).dump();
  const std::string& punter = n.punter("alice");
  const std::vector<Req> requests = {
      {"POST", "/v1/accounts", acct, n.trader()},
      {"POST", "/v1/accounts", acct, n.payments()},
      {"POST", "/v1/accounts", acct, n.feed()},
      {"POST", "/v1/accounts", acct, punter},
      {"POST", "/v1/deposits", dep, n.admin()},
      {"POST", "/v1/deposits", dep, n.trader()},
      {"POST", "/v1/deposits", dep, punter},  // even to its own account
      {"POST", "/v1/events", ev, n.admin()},
      {"POST", "/v1/events", ev, n.payments()},
      {"POST", "/v1/markets", mk, n.admin()},
      {"POST", "/v1/markets", mk, punter},
      {"POST", "/v1/markets", mk, n.payments()},
      {"POST", "/v1/markets/mk/prices", R"({"prices":[{"selection_id":"home","odds":"2.2"}]})",
       n.payments()},
      {"POST", "/v1/markets/mk/prices", R"({"prices":[{"selection_id":"home","odds":"2.2"}]})",
       punter},
      {"POST", "/v1/markets/mk/suspend", "{}", n.admin()},
      {"POST", "/v1/markets/mk/close", "{}", n.payments()},
      {"POST", "/v1/markets/mk/settle", settle, n.payments()},
      {"POST", "/v1/markets/mk/settle", settle, n.admin()},
      {"POST", "/v1/markets/settled/resettle", results_body({{"a", "lose"}, {"b", "win"}}).dump(),
       punter},
      // The odds feed's own routes: the feed role only.
      {"POST", "/v1/producers/p1/alive", R"({"limit_ms":5000})", n.trader()},
      {"POST", "/v1/producers/p1/alive", R"({"limit_ms":5000})", n.admin()},
      {"POST", "/v1/markets/mk/feed-prices",
       R"({"producer":"p1","source_ts":5,"prices":[{"selection_id":"home","odds":"2.2"}]})", n.trader()},
      {"POST", "/v1/markets/mk/feed-prices",
       R"({"producer":"p1","source_ts":5,"prices":[{"selection_id":"home","odds":"2.2"}]})", punter},
      {"GET", "/v1/producers", "", n.payments()},
      {"GET", "/v1/producers", "", punter},
      {"POST", "/v1/bets", bet, n.admin()},
      {"POST", "/v1/bets", bet, n.feed()},
      {"POST", "/v1/bets", bet, n.payments()},
      {"POST", "/v1/withdrawals", withdrawal_body("w-new", "alice", 5).dump(), n.payments()},
      {"POST", "/v1/withdrawals", withdrawal_body("w-new", "alice", 5).dump(), n.trader()},
      {"POST", "/v1/withdrawals/wd-pending/complete", R"({"gateway_ref":"g"})", n.admin()},
      {"POST", "/v1/withdrawals/wd-pending/complete", R"({"gateway_ref":"g"})", n.punter("bob")},
      {"POST", "/v1/withdrawals/wd-pending/fail", R"({"reason":"r"})", n.trader()},
      {"POST", "/v1/accounts/alice/self-exclusion", R"({"until":"2099-01-01T00:00:00Z"})",
       n.payments()},
      {"GET", "/v1/ledger/balance", "", n.trader()},
      {"GET", "/v1/ledger/balance", "", punter},
      {"GET", "/v1/cluster", "", n.trader()},
      {"GET", "/v1/cluster", "", punter},
      {"GET", "/v1/alerts", "", n.feed()},
      {"GET", "/v1/accounts/alice", "", n.trader()},
      {"GET", "/v1/accounts/alice", "", n.feed()},
      {"GET", "/v1/accounts/alice/bets", "", n.payments()},
      {"GET", "/v1/bets/bet-alice", "", n.payments()},
      {"GET", "/v1/bets/bet-alice", "", n.feed()},
      {"GET", "/v1/withdrawals/wd-done", "", n.trader()},
      {"GET", "/v1/withdrawals/wd-done", "", n.feed()},
  };
  for (const Req& r : requests) expect_rejected(r, 403, "forbidden");
}

TEST_F(ApiErrors, PunterActsAndReadsOnlyForItsOwnAccount) {
  ApiNode& n = node();
  const std::string& alice = n.punter("alice");
  const std::vector<Req> requests = {
      {"POST", "/v1/bets", bet_body("new-bet", "bob", 500, {{"mk2", "yes", "1.5"}}).dump(), alice},
      {"POST", "/v1/withdrawals", withdrawal_body("w-new", "bob", 5).dump(), alice},
      {"POST", "/v1/accounts/bob/self-exclusion", R"({"until":"2099-01-01T00:00:00Z"})", alice},
      {"GET", "/v1/accounts/bob", "", alice},
      {"GET", "/v1/accounts/bob/bets", "", alice},
      {"GET", "/v1/accounts/nobody", "", alice},  // not even whether it exists
      {"GET", "/v1/bets/bet-alice", "", alice},   // a punter names its account
      {"GET", "/v1/bets/bet-alice?account_id=bob", "", alice},
  };
  for (const Req& r : requests) expect_rejected(r, 403, "forbidden");

  // Another account's withdrawal: the punter names no account in this request,
  // and the node neither shows it nor says whether it exists.
  Reply other = n.get("/v1/withdrawals/wd-done", alice);
  EXPECT_TRUE(IsError(other, 403, "forbidden") || IsError(other, 404, "not_found"))
      << other.describe();
  EXPECT_EQ(other.body.find("\"amount\""), std::string::npos) << other.body;
  Reply unknown = n.get("/v1/withdrawals/no-such-wd", alice);
  EXPECT_EQ(unknown.status, other.status)
      << "existence leaks: " << unknown.describe() << " vs " << other.describe();

  // Its own: fine.
  EXPECT_STATUS(n.get("/v1/accounts/alice", alice), 200);
  EXPECT_STATUS(n.get("/v1/bets/bet-alice?account_id=alice", alice), 200);
  EXPECT_STATUS(n.get("/v1/withdrawals/wd-done", n.punter("bob")), 200);
}

TEST_F(ApiErrors, NotFound) {
  ApiNode& n = node();
  const std::vector<Req> requests = {
      {"GET", "/v1/accounts/nobody", "", n.admin()},
      {"GET", "/v1/accounts/nobody/bets", "", n.admin()},
      {"GET", "/v1/markets/nomarket", "", n.trader()},
      {"GET", "/v1/bets/nobet", "", n.admin()},
      {"GET", "/v1/bets/bet-alice?account_id=bob", "", n.admin()},  // exists, but not bob's
      {"GET", "/v1/bets/bet-alice?account_id=bob", "", n.punter("bob")},
      {"GET", "/v1/withdrawals/nowd", "", n.admin()},
      {"POST", "/v1/deposits", deposit_body("p-new", "nobody", 5).dump(), n.payments()},
      {"POST", "/v1/withdrawals", withdrawal_body("w-new", "nobody", 5).dump(), n.admin()},
      {"POST", "/v1/withdrawals/nowd/complete", R"({"gateway_ref":"g"})", n.payments()},
      {"POST", "/v1/withdrawals/nowd/fail", R"({"reason":"r"})", n.payments()},
      {"POST", "/v1/accounts/nobody/self-exclusion", R"({"until":"2099-01-01T00:00:00Z"})",
       n.admin()},
      // A refused bet_id is remembered with its answer: one id per case.
      {"POST", "/v1/bets", bet_body("nf-bet-1", "nobody", 500, {{"mk2", "yes", "1.5"}}).dump(),
       n.trader()},
      {"POST", "/v1/bets", bet_body("nf-bet-2", "alice", 500, {{"nomarket", "yes", "1.5"}}).dump(),
       n.trader()},
      {"POST", "/v1/bets", bet_body("nf-bet-3", "alice", 500, {{"mk2", "maybe", "1.5"}}).dump(),
       n.trader()},
      {"POST", "/v1/bets",
       bet_body("nf-bet-4", "alice", 500, {{"mk2", "yes", "1.5"}, {"nomarket", "x", "2"}}).dump(),
       n.trader()},
      {"POST", "/v1/markets", market_body("new-m", "noevent", {{"a", "2"}}).dump(), n.trader()},
      {"POST", "/v1/markets/nomarket/prices", R"({"prices":[{"selection_id":"a","odds":"2"}]})",
       n.trader()},
      {"POST", "/v1/markets/mk/prices",
       R"({"prices":[{"selection_id":"home","odds":"2.2"},{"selection_id":"nosel","odds":"2"}]})",
       n.trader()},
      {"POST", "/v1/markets/nomarket/suspend", "{}", n.trader()},
      {"POST", "/v1/markets/nomarket/close", "{}", n.trader()},
      {"POST", "/v1/markets/nomarket/settle", results_body({{"a", "win"}}).dump(), n.trader()},
      {"POST", "/v1/markets/mk/settle",
       results_body({{"home", "win"}, {"away", "lose"}, {"nosel", "lose"}}).dump(), n.trader()},
      // Unknown routes, with or without a token.
      {"GET", "/v1/nothing", "", n.admin()},
      {"GET", "/v2/accounts/alice", "", n.admin()},
      {"POST", "/v1/accounts/alice/close", "{}", n.admin()},
      {"GET", "/v1/accounts/alice/bets/extra/deeper", "", n.admin()},
      {"GET", "/healthz", "", ""},
      {"GET", "/v1", "", ""},
  };
  for (const Req& r : requests) expect_rejected(r, 404, "not_found");
}

TEST_F(ApiErrors, MethodNotAllowed) {
  ApiNode& n = node();
  const std::vector<std::pair<Req, std::string>> requests = {
      // GET and POST share these paths: a list and a write.
      {{"PUT", "/v1/deposits", "{}", n.payments()}, "GET, HEAD, POST"},
      {{"DELETE", "/v1/withdrawals", "", n.admin()}, "GET, HEAD, POST"},
      {{"POST", "/v1/deposits/alice-dep", "{}", n.payments()}, "GET, HEAD"},
      {{"GET", "/v1/bets", "", n.trader()}, "POST"},
      {{"PUT", "/v1/bets", good_bet().dump(), n.trader()}, "POST"},
      {{"GET", "/v1/markets/mk/settle", "", n.trader()}, "POST"},
      {{"POST", "/v1/accounts/alice", "{}", n.admin()}, "GET, HEAD"},
      {{"DELETE", "/v1/accounts/alice", "", n.admin()}, "GET, HEAD"},
      {{"PATCH", "/v1/markets/mk", "{}", n.trader()}, "GET, HEAD"},
      {{"POST", "/v1/ledger/balance", "{}", n.admin()}, "GET, HEAD"},
      {{"POST", "/health/ready", "{}", ""}, "GET, HEAD"},
  };
  for (const auto& [req, allow] : requests) {
    EXPECT_TRUE(Rejected(n, req, 405, "invalid_request", rejection_world_visible()));
    Reply r = n.call(req.method, req.target, req.body, req.token);
    EXPECT_EQ(r.header("allow"), allow) << req;
  }
}

TEST_F(ApiErrors, StateConflicts) {
  ApiNode& n = node();
  const std::vector<Req> requests = {
      // settled: another settle is a conflict (resettle is the way).
      {"POST", "/v1/markets/settled/settle", results_body({{"a", "lose"}, {"b", "win"}}).dump(),
       n.trader()},
      // resettle what was never settled.
      {"POST", "/v1/markets/mk2/resettle", results_body({{"yes", "win"}, {"no", "lose"}}).dump(),
       n.trader()},
      {"POST", "/v1/markets/closed/suspend", "{}", n.trader()},
      {"POST", "/v1/markets/closed/resume", "{}", n.feed()},
      {"POST", "/v1/markets/settled/suspend", "{}", n.trader()},
      {"POST", "/v1/markets/settled/resume", "{}", n.trader()},
      {"POST", "/v1/markets/settled/close", "{}", n.trader()},
      {"POST", "/v1/withdrawals/wd-done/complete", R"({"gateway_ref":"other"})", n.payments()},
      {"POST", "/v1/withdrawals/wd-done/fail", R"({"reason":"r"})", n.payments()},
      {"POST", "/v1/withdrawals/wd-failed/complete", R"({"gateway_ref":"g"})", n.payments()},
      {"POST", "/v1/withdrawals/wd-failed/fail", R"({"reason":"other"})", n.payments()},
      // ids already used with other bodies.
      {"POST", "/v1/accounts", account_body("alice", "USD").dump(), n.admin()},
      {"POST", "/v1/deposits", deposit_body("alice-dep", "alice", 1).dump(), n.payments()},
      {"POST", "/v1/withdrawals", withdrawal_body("wd-done", "bob", 99).dump(), n.admin()},
      {"POST", "/v1/bets", bet_body("bet-alice", "alice", 300, {{"mk", "home", "2.1"}}).dump(),
       n.trader()},
      {"POST", "/v1/events",
       json{{"event_id", "er-ev"}, {"name", "renamed"}, {"starts_at", "2026-11-27T20:00:00Z"}}
           .dump(),
       n.trader()},
      {"POST", "/v1/markets", market_body("mk2", "er-ev", {{"yes", "1.6"}, {"no", "2.5"}}).dump(),
       n.trader()},
  };
  for (const Req& r : requests) expect_rejected(r, 409, "conflict");
}

}  // namespace
}  // namespace betcore::apitest
