// Building blocks of a betting world, one request each, in the bodies
// design/API.md gives. They return the Reply; the caller asserts on it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api_node.h"

namespace betcore::apitest {

struct Sel {
  std::string id;
  std::string odds;  // decimal odds as a string, e.g. "2.10"
};

struct LegSpec {
  std::string market;
  std::string selection;
  std::string odds;
};

json account_body(const std::string& id, const std::string& currency = "EUR",
                  std::optional<int64_t> deposit_limit_24h = std::nullopt);
json deposit_body(const std::string& ref, const std::string& account, int64_t amount);
json event_body(const std::string& id);
// `extra` is merged in (min_stake, max_stake, max_liability).
json market_body(const std::string& id, const std::string& event, const std::vector<Sel>& sels,
                 const json& extra = json::object());
json bet_body(const std::string& bet_id, const std::string& account, int64_t stake,
              const std::vector<LegSpec>& legs, bool accept_better_odds = false);
json withdrawal_body(const std::string& id, const std::string& account, int64_t amount);
// {"results": [...]} from pairs of selection and "win" | "lose" | "void".
json results_body(const std::vector<std::pair<std::string, std::string>>& results);

// Each asserts (non-fatally) the status API.md promises and returns the reply.
Reply create_account(ApiNode& n, const std::string& id,
                     std::optional<int64_t> limit = std::nullopt);
Reply deposit(ApiNode& n, const std::string& ref, const std::string& account, int64_t amount);
Reply create_event(ApiNode& n, const std::string& id);
Reply create_market(ApiNode& n, const std::string& id, const std::string& event,
                    const std::vector<Sel>& sels, const json& extra = json::object());
// Placed with the trader token (on behalf of `account`).
Reply place_bet(ApiNode& n, const std::string& bet_id, const std::string& account, int64_t stake,
                const std::vector<LegSpec>& legs, bool accept_better_odds = false);

// GET /v1/accounts/{id} as admin: the body (null on failure, with a failure recorded).
json account(ApiNode& n, const std::string& id);
json market(ApiNode& n, const std::string& id);

}  // namespace betcore::apitest

namespace betcore::apitest {

// One request, as data (for tables of bad requests).
struct Req {
  std::string method;
  std::string target;
  std::string body;  // raw: may be anything
  std::string token;
};
std::ostream& operator<<(std::ostream& out, const Req& r);

// Sends `req` and checks it is the error `status`/`code` and that the
// snapshot of `visible` is the same before and after (API.md: "A write
// rejected with any 4xx changed nothing").
::testing::AssertionResult Rejected(ApiNode& n, const Req& req, int status, std::string_view code,
                                    const Visible& visible);

// The world the rejection suites share (API.md, Errors):
//   accounts alice 9800 (bet "bet-alice" of 200 on mk/home open), bob 4800
//   (+100 pending in "wd-pending"; "wd-done" completed, "wd-failed" failed),
//   limited 600 of a 1000 deposit limit, xavier 1000 self-excluded, poor 100;
//   event er-ev; markets
//     mk      home 2.1, away 1.8, draw 3 (inactive); stakes 100..5000, max liability 2000
//     mk2     yes 1.5, no 2.5
//     liab    a 2.1; max liability 1000
//     big1, big2   x 1000
//     susp (suspended), closed (closed), settled (settled a win, b lose): a 2, b 2
NodeConfig rejection_world_config();
void build_rejection_world(ApiNode& n);
Visible rejection_world_visible();

}  // namespace betcore::apitest
