#include "api_world.h"

namespace betcore::apitest {

json account_body(const std::string& id, const std::string& currency,
                  std::optional<int64_t> deposit_limit_24h) {
  json b{{"account_id", id}, {"currency", currency}};
  if (deposit_limit_24h) b["deposit_limit_24h"] = *deposit_limit_24h;
  return b;
}

json deposit_body(const std::string& ref, const std::string& account, int64_t amount) {
  return json{{"payment_ref", ref}, {"account_id", account}, {"amount", amount}};
}

json event_body(const std::string& id) {
  return json{{"event_id", id}, {"name", "Event " + id}, {"starts_at", "2026-11-27T20:00:00Z"}};
}

json market_body(const std::string& id, const std::string& event, const std::vector<Sel>& sels,
                 const json& extra) {
  json s = json::array();
  for (const Sel& sel : sels) {
    s.push_back(
        json{{"selection_id", sel.id}, {"name", "Selection " + sel.id}, {"odds", sel.odds}});
  }
  json b{{"market_id", id}, {"event_id", event}, {"name", "Market " + id}, {"selections", s}};
  for (auto it = extra.begin(); it != extra.end(); ++it) b[it.key()] = it.value();
  return b;
}

json bet_body(const std::string& bet_id, const std::string& account, int64_t stake,
              const std::vector<LegSpec>& legs, bool accept_better_odds) {
  json l = json::array();
  for (const LegSpec& leg : legs) {
    l.push_back(
        json{{"market_id", leg.market}, {"selection_id", leg.selection}, {"odds", leg.odds}});
  }
  json b{{"bet_id", bet_id}, {"account_id", account}, {"stake", stake}, {"legs", l}};
  if (accept_better_odds) b["accept_better_odds"] = true;
  return b;
}

json withdrawal_body(const std::string& id, const std::string& account, int64_t amount) {
  return json{{"withdrawal_id", id}, {"account_id", account}, {"amount", amount}};
}

json results_body(const std::vector<std::pair<std::string, std::string>>& results) {
  json r = json::array();
  for (const auto& [sel, result] : results)
    r.push_back(json{{"selection_id", sel}, {"result", result}});
  return json{{"results", r}};
}

Reply create_account(ApiNode& n, const std::string& id, std::optional<int64_t> limit) {
  Reply r = n.post("/v1/accounts", account_body(id, "EUR", limit), n.admin());
  EXPECT_STATUS(r, 201) << "creating account " << id;
  return r;
}

Reply deposit(ApiNode& n, const std::string& ref, const std::string& account, int64_t amount) {
  Reply r = n.post("/v1/deposits", deposit_body(ref, account, amount), n.payments());
  EXPECT_STATUS(r, 201) << "depositing " << amount << " to " << account;
  return r;
}

Reply create_event(ApiNode& n, const std::string& id) {
  Reply r = n.post("/v1/events", event_body(id), n.trader());
  EXPECT_STATUS(r, 201) << "creating event " << id;
  return r;
}

Reply create_market(ApiNode& n, const std::string& id, const std::string& event,
                    const std::vector<Sel>& sels, const json& extra) {
  Reply r = n.post("/v1/markets", market_body(id, event, sels, extra), n.trader());
  EXPECT_STATUS(r, 201) << "creating market " << id;
  return r;
}

Reply place_bet(ApiNode& n, const std::string& bet_id, const std::string& account, int64_t stake,
                const std::vector<LegSpec>& legs, bool accept_better_odds) {
  Reply r =
      n.post("/v1/bets", bet_body(bet_id, account, stake, legs, accept_better_odds), n.trader());
  EXPECT_STATUS(r, 201) << "placing bet " << bet_id;
  return r;
}

json account(ApiNode& n, const std::string& id) {
  Reply r = n.get("/v1/accounts/" + id, n.admin());
  EXPECT_STATUS(r, 200) << "reading account " << id;
  return r.json_body;
}

json market(ApiNode& n, const std::string& id) {
  Reply r = n.get("/v1/markets/" + id, n.trader());
  EXPECT_STATUS(r, 200) << "reading market " << id;
  return r.json_body;
}

}  // namespace betcore::apitest

namespace betcore::apitest {

std::ostream& operator<<(std::ostream& out, const Req& r) {
  out << r.method << " " << r.target;
  if (!r.body.empty()) {
    std::string shown = r.body.size() > 200 ? r.body.substr(0, 200) + "..." : r.body;
    out << " " << json(shown).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return out;
}

::testing::AssertionResult Rejected(ApiNode& n, const Req& req, int status, std::string_view code,
                                    const Visible& visible) {
  json before = snapshot(n, visible);
  Reply r = n.call(req.method, req.target, req.body, req.token);
  ::testing::AssertionResult is = IsError(r, status, code);
  if (!is) return ::testing::AssertionFailure() << req << ": " << is.message();
  json after = snapshot(n, visible);
  if (after != before) {
    return ::testing::AssertionFailure()
           << req << " was rejected with " << status << " " << code
           << " but changed the state:\nbefore: " << before.dump() << "\nafter:  " << after.dump();
  }
  return ::testing::AssertionSuccess();
}

NodeConfig rejection_world_config() { return {{"alice", "bob", "xavier", "poor"}, {}}; }

void build_rejection_world(ApiNode& n) {
  create_account(n, "alice");
  deposit(n, "alice-dep", "alice", 10'000);
  create_account(n, "bob");
  deposit(n, "bob-dep", "bob", 5'000);
  create_account(n, "limited", 1'000);
  deposit(n, "limited-dep", "limited", 600);
  create_account(n, "xavier");
  deposit(n, "xavier-dep", "xavier", 1'000);
  EXPECT_STATUS(n.post("/v1/accounts/xavier/self-exclusion",
                       json{{"until", "2099-01-01T00:00:00Z"}}, n.admin()),
                200);
  create_account(n, "poor");
  deposit(n, "poor-dep", "poor", 100);

  create_event(n, "er-ev");
  create_market(n, "mk", "er-ev", {{"home", "2.1"}, {"away", "1.8"}, {"draw", "3"}},
                {{"min_stake", 100}, {"max_stake", 5'000}, {"max_liability", 2'000}});
  EXPECT_STATUS(
      n.post("/v1/markets/mk/prices",
             json{{"prices", {{{"selection_id", "draw"}, {"odds", "3"}, {"active", false}}}}},
             n.trader()),
      200);
  create_market(n, "mk2", "er-ev", {{"yes", "1.5"}, {"no", "2.5"}});
  create_market(n, "liab", "er-ev", {{"a", "2.1"}}, {{"max_liability", 1'000}});
  create_market(n, "big1", "er-ev", {{"x", "1000"}});
  create_market(n, "big2", "er-ev", {{"x", "1000"}});
  for (const char* m : {"susp", "closed", "settled"})
    create_market(n, m, "er-ev", {{"a", "2"}, {"b", "2"}});
  EXPECT_STATUS(n.post("/v1/markets/susp/suspend", json::object(), n.trader()), 200);
  EXPECT_STATUS(n.post("/v1/markets/closed/close", json::object(), n.trader()), 200);
  EXPECT_STATUS(
      n.post("/v1/markets/settled/settle", results_body({{"a", "win"}, {"b", "lose"}}), n.trader()),
      200);

  place_bet(n, "bet-alice", "alice", 200, {{"mk", "home", "2.1"}});
  for (const char* w : {"wd-done", "wd-failed", "wd-pending"}) {
    EXPECT_STATUS(n.post("/v1/withdrawals", withdrawal_body(w, "bob", 100), n.admin()), 201);
  }
  EXPECT_STATUS(
      n.post("/v1/withdrawals/wd-done/complete", json{{"gateway_ref", "gw"}}, n.payments()), 200);
  EXPECT_STATUS(n.post("/v1/withdrawals/wd-failed/fail", json{{"reason", "no"}}, n.payments()),
                200);

  // The world is what the comment in api_world.h says.
  EXPECT_EQ(account(n, "alice")["balance"], 9'800);
  EXPECT_EQ(account(n, "bob")["balance"], 4'800);
  EXPECT_EQ(account(n, "bob")["pending_withdrawals"], 100);
  EXPECT_EQ(account(n, "xavier")["status"], "self_excluded");
  EXPECT_EQ(market(n, "mk")["selections"][2]["active"], false);
  EXPECT_EQ(market(n, "susp")["status"], "suspended");
}

Visible rejection_world_visible() {
  return {{"alice", "bob", "limited", "xavier", "poor"},
          {"mk", "mk2", "liab", "susp", "closed", "settled"},
          {},
          {"wd-done", "wd-failed", "wd-pending"}};
}

}  // namespace betcore::apitest
