// A feed message's requests to betcore, and what each answer means.
#include "feed/apply.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace betcore::feed {
namespace {

using nlohmann::json;
using K = Outcome::Kind;

std::string reason_of(const tools::Response& r) {
  if (r.status == 0) return "betcore unreachable: " + r.error;
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    return fmt::format("betcore {} {}: {}", r.status, j["error"].value("code", ""),
                       j["error"].value("message", ""));
  }
  return fmt::format("betcore {}", r.status);
}

// The common meaning of an answer; `conflict_is` and `not_open_is` let a
// caller read 409 and 422 its own way.
Outcome judge(const tools::Response& r, K conflict_is = K::dead) {
  if (r.ok()) return {K::applied, {}};
  switch (r.status) {
    case 400:
    case 404:
      return {K::dead, reason_of(r)};
    case 409:
      return {conflict_is, reason_of(r)};
    case 422:
      return {K::not_open, reason_of(r)};
    case 401:
    case 403:
      return {K::fatal, reason_of(r) + "; check the feed token (role feed) given to betcore feed"};
    default:  // 0 (no answer), 429, 500, 503, 504
      return {K::retry, reason_of(r)};
  }
}

std::string with_fallback_id(std::string id) {
  id[1] = 'r';  // "fd:..." -> "fr:...": the second request of one message
  return id;
}

json results_json(const std::vector<Result>& results) {
  json out = json::array();
  for (const Result& r : results) out.push_back({{"selection_id", r.selection_id}, {"result", r.result}});
  return out;
}

tools::Response post(tools::HttpClient& c, const std::string& token, const std::string& target,
                     const json& body) {
  return c.post(target, body.dump(), token);
}

Outcome fixture(tools::HttpClient& c, const std::string& token, const Message& m) {
  Outcome ev = judge(post(c, token, "/v1/events",
                          {{"event_id", m.event_id}, {"name", m.event_name}, {"starts_at", m.starts_at}}));
  if (ev.kind != K::applied) return ev;
  for (const MarketDef& def : m.markets) {
    json sels = json::array();
    for (const SelectionDef& s : def.selections) {
      sels.push_back({{"selection_id", s.selection_id}, {"name", s.name}, {"odds", s.odds}});
    }
    tools::Response r = post(c, token, "/v1/markets",
                             {{"market_id", def.market_id}, {"event_id", m.event_id}, {"name", def.name},
                              {"selections", sels}, {"producer", m.producer}});
    // The event exists (created above), so a 404 is the producer: its first
    // alive, which creates it in betcore, has not been applied yet.
    if (r.status == 404) return {K::retry, reason_of(r) + " (waiting for its first alive)"};
    Outcome mk = judge(r);
    if (mk.kind != K::applied) return mk;
  }
  return {K::applied, {}};
}

Outcome odds_change(tools::HttpClient& c, const std::string& token, const Message& m) {
  json prices = json::array();
  for (const Price& p : m.prices) {
    json j = {{"selection_id", p.selection_id}, {"odds", p.odds}};
    if (p.active) j["active"] = *p.active;
    prices.push_back(std::move(j));
  }
  tools::Response r = post(c, token, "/v1/markets/" + m.market_id + "/feed-prices",
                           {{"producer", m.producer}, {"source_ts", m.ts}, {"source_seq", m.seq},
                            {"prices", prices}});
  Outcome o = judge(r);
  if (o.kind == K::applied) {
    json j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.value("applied", true) == false) o.kind = K::stale;
  }
  return o;
}

// Settle, or resettle when the market is settled already (and the other way
// round for a rollback): each with its own request id, so that a redelivery
// repeats exactly what the first delivery did.
Outcome settlement(tools::HttpClient& c, const std::string& token, const Message& m,
                   std::vector<Result> results, bool rollback) {
  std::string base = "/v1/markets/" + m.market_id;
  const char* first = rollback ? "/resettle" : "/settle";
  const char* second = rollback ? "/settle" : "/resettle";
  std::string id = request_id_of(m);
  tools::Response r = post(c, token, base + first, {{"request_id", id}, {"results", results_json(results)}});
  if (r.status != 409) return judge(r);
  return judge(post(c, token, base + second,
                    {{"request_id", with_fallback_id(id)}, {"results", results_json(results)}}));
}

Outcome cancel(tools::HttpClient& c, const std::string& token, const Message& m) {
  tools::Response r = c.get("/v1/markets/" + m.market_id, token);
  Outcome o = judge(r);
  if (o.kind != K::applied) return o;
  json market = json::parse(r.body, nullptr, false);
  std::vector<Result> voids;
  if (market.is_object() && market.contains("selections") && market["selections"].is_array()) {
    for (const json& s : market["selections"]) voids.push_back({s.value("selection_id", ""), "void"});
  }
  if (voids.empty()) return {K::retry, "betcore answered a market without selections"};
  return settlement(c, token, m, std::move(voids), false);
}

Outcome status_change(tools::HttpClient& c, const std::string& token, const Message& m,
                      const char* action) {
  json body = {{"request_id", request_id_of(m)}};
  if (!m.reason.empty()) body["reason"] = m.reason;
  // 409: the market is closed or settled, where a stop or start means nothing.
  return judge(post(c, token, "/v1/markets/" + m.market_id + action, body), K::not_open);
}

}  // namespace

Outcome apply_message(tools::HttpClient& c, const std::string& token, const Message& m) {
  switch (m.kind) {
    case Kind::fixture:
      return fixture(c, token, m);
    case Kind::odds_change:
      return odds_change(c, token, m);
    case Kind::bet_stop:
      return status_change(c, token, m, "/suspend");
    case Kind::bet_start:
      return status_change(c, token, m, "/resume");
    case Kind::bet_settlement:
      return settlement(c, token, m, m.results, false);
    case Kind::rollback_bet_settlement:
      return settlement(c, token, m, m.results, true);
    case Kind::bet_cancel:
      return cancel(c, token, m);
    case Kind::alive:
    case Kind::snapshot_complete:
      break;
  }
  return {K::dead, "not a message for apply_message"};
}

std::string alive_body(int limit_ms, bool recovered) {
  return json{{"limit_ms", limit_ms}, {"recovered", recovered}}.dump();
}

}  // namespace betcore::feed
