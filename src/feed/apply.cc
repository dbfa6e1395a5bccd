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

// The body of POST /v1/markets/{id}/feed-prices; with the market id, an
// element of POST /v1/feed-prices.
json feed_prices_body(const Message& m) {
  json prices = json::array();
  for (const Price& p : m.prices) {
    json j = {{"selection_id", p.selection_id}, {"odds", p.odds}};
    if (p.active) j["active"] = *p.active;
    prices.push_back(std::move(j));
  }
  return {{"producer", m.producer}, {"source_ts", m.ts}, {"source_seq", m.seq}, {"prices", prices}};
}

Outcome odds_change(tools::HttpClient& c, const std::string& token, const Message& m) {
  tools::Response r =
      post(c, token, "/v1/markets/" + m.market_id + "/feed-prices", feed_prices_body(m));
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

// One element of a batch answer, read as the single route's answer would be.
Outcome element_outcome(const json& e) {
  if (!e.is_object()) return {K::retry, "betcore answered a batch element that is not an object"};
  if (e.contains("error") && e["error"].is_object()) {
    const json& err = e["error"];
    std::string code = err.value("code", "");
    std::string reason = fmt::format("betcore {}: {}", code, err.value("message", ""));
    // As the single route's 422: the market is closed or settled.
    return {code == "market_not_open" ? K::not_open : K::dead, std::move(reason)};
  }
  if (e.contains("applied") && e["applied"].is_boolean()) {
    return {e["applied"].get<bool>() ? K::applied : K::stale, {}};
  }
  return {K::retry, "betcore answered a batch element with neither applied nor error"};
}

// Each message alone, in order; the ones after the first that must be tried
// again are not sent (they wait with it).
std::vector<Outcome> one_by_one(tools::HttpClient& c, const std::string& token,
                                const std::vector<const Message*>& messages) {
  std::vector<Outcome> out;
  out.reserve(messages.size());
  for (const Message* m : messages) {
    if (!out.empty() && (out.back().kind == K::retry || out.back().kind == K::fatal)) {
      out.push_back(out.back());
      continue;
    }
    out.push_back(odds_change(c, token, *m));
  }
  return out;
}

}  // namespace

std::vector<Outcome> apply_odds_changes(tools::HttpClient& c, const std::string& token,
                                        const std::vector<const Message*>& messages) {
  json changes = json::array();
  for (const Message* m : messages) {
    json e = feed_prices_body(*m);
    e["market_id"] = m->market_id;
    changes.push_back(std::move(e));
  }
  tools::Response r = post(c, token, "/v1/feed-prices", {{"changes", std::move(changes)}});
  // Not a batch betcore takes (an older node: 404, 405; over its body limit:
  // 413; a body it refuses as a whole: 400): the same changes one by one.
  if (r.status == 400 || r.status == 404 || r.status == 405 || r.status == 413) {
    return one_by_one(c, token, messages);
  }
  Outcome whole = judge(r);
  if (whole.kind != K::applied) return std::vector<Outcome>(messages.size(), whole);
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("results") || !j["results"].is_array() ||
      j["results"].size() != messages.size()) {
    return one_by_one(c, token, messages);  // an answer we do not understand: the plain way
  }
  std::vector<Outcome> out;
  out.reserve(messages.size());
  for (const json& e : j["results"]) out.push_back(element_outcome(e));
  return out;
}

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

std::string alive_body(int limit_ms, bool recovered, int64_t source_ts) {
  return json{{"limit_ms", limit_ms}, {"recovered", recovered}, {"source_ts", source_ts}}.dump();
}

}  // namespace betcore::feed
