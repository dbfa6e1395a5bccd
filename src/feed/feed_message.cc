// The feed's messages as JSON: writing, and reading with a reason for every
// refusal (the adapter dead-letters a message with that reason).
#include "feed/feed_message.h"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <nlohmann/json.hpp>

#include "domain/state_machine.h"

namespace betcore::feed {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 9> kKindNames = {
    "alive",          "fixture",   "odds_change", "bet_stop",          "bet_start",
    "bet_settlement", "rollback_bet_settlement", "bet_cancel", "snapshot_complete"};

std::optional<Kind> kind_of(std::string_view name) {
  for (size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<Kind>(i);
  }
  return std::nullopt;
}

// Reads fields, remembering the first problem; later reads are then no-ops.
struct Reader {
  std::string problem;

  std::string id(const json& j, const char* key, bool required = true) {
    if (!problem.empty()) return {};
    auto it = j.find(key);
    if (it == j.end()) {
      if (required) problem = fmt::format("missing {}", key);
      return {};
    }
    if (!it->is_string() || !domain::valid_id(it->get_ref<const std::string&>())) {
      problem = fmt::format("{} is not an id ([A-Za-z0-9_.:-], 1-64 characters)", key);
      return {};
    }
    return it->get<std::string>();
  }
  std::string text(const json& j, const char* key, bool required = true) {
    if (!problem.empty()) return {};
    auto it = j.find(key);
    if (it == j.end()) {
      if (required) problem = fmt::format("missing {}", key);
      return {};
    }
    if (!it->is_string() || it->get_ref<const std::string&>().size() > 256) {
      problem = fmt::format("{} is not a string of at most 256 bytes", key);
      return {};
    }
    return it->get<std::string>();
  }
  template <typename T>
  T number(const json& j, const char* key, T min) {
    if (!problem.empty()) return min;
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < static_cast<int64_t>(min)) {
      problem = fmt::format("{} is missing or not an integer >= {}", key, min);
      return min;
    }
    return it->get<T>();
  }
  const json* array(const json& j, const char* key) {
    if (!problem.empty()) return nullptr;
    auto it = j.find(key);
    if (it == j.end() || !it->is_array() || it->empty() || it->size() > 64) {
      problem = fmt::format("{} is missing or not an array of 1-64 items", key);
      return nullptr;
    }
    return &*it;
  }
};

json prices_json(const std::vector<Price>& prices) {
  json out = json::array();
  for (const Price& p : prices) {
    json j = {{"selection_id", p.selection_id}, {"odds", p.odds}};
    if (p.active) j["active"] = *p.active;
    out.push_back(std::move(j));
  }
  return out;
}

void read_body(Reader& r, const json& j, Message& m) {
  switch (m.kind) {
    case Kind::alive:
      if (auto it = j.find("subscribed"); it != j.end()) {
        if (!it->is_boolean()) r.problem = "subscribed is not a boolean";
        else m.subscribed = it->get<bool>();
      }
      return;
    case Kind::fixture:
      m.event_id = r.id(j, "event_id");
      m.event_name = r.text(j, "event_name");
      m.starts_at = r.text(j, "starts_at");
      if (const json* markets = r.array(j, "markets")) {
        for (const json& mk : *markets) {
          MarketDef def{r.id(mk, "market_id"), r.text(mk, "name"), {}};
          if (const json* sels = r.array(mk, "selections")) {
            for (const json& s : *sels) {
              def.selections.push_back({r.id(s, "selection_id"), r.text(s, "name"), r.text(s, "odds")});
            }
          }
          m.markets.push_back(std::move(def));
        }
      }
      return;
    case Kind::odds_change:
      m.event_id = r.id(j, "event_id");
      m.market_id = r.id(j, "market_id");
      if (const json* prices = r.array(j, "prices")) {
        for (const json& p : *prices) {
          Price price{r.id(p, "selection_id"), r.text(p, "odds"), std::nullopt};
          if (auto it = p.find("active"); it != p.end()) {
            if (!it->is_boolean()) r.problem = "active is not a boolean";
            else price.active = it->get<bool>();
          }
          m.prices.push_back(std::move(price));
        }
      }
      return;
    case Kind::bet_stop:
    case Kind::bet_start:
    case Kind::bet_cancel:
      m.event_id = r.id(j, "event_id");
      m.market_id = r.id(j, "market_id");
      m.reason = r.text(j, "reason", false);
      return;
    case Kind::bet_settlement:
    case Kind::rollback_bet_settlement:
      m.event_id = r.id(j, "event_id");
      m.market_id = r.id(j, "market_id");
      if (const json* results = r.array(j, "results")) {
        for (const json& res : *results) {
          m.results.push_back({r.id(res, "selection_id"), r.text(res, "result")});
        }
      }
      return;
    case Kind::snapshot_complete:
      m.request_id = r.id(j, "request_id");
      return;
  }
}

}  // namespace

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view kind_name(Kind kind) { return kKindNames[static_cast<size_t>(kind)]; }

std::string to_json(const Message& m) {
  json j = {{"kind", kind_name(m.kind)}, {"producer", m.producer}, {"seq", m.seq}, {"ts", m.ts}};
  switch (m.kind) {
    case Kind::alive:
      j["subscribed"] = m.subscribed;
      break;
    case Kind::fixture: {
      j["event_id"] = m.event_id;
      j["event_name"] = m.event_name;
      j["starts_at"] = m.starts_at;
      json markets = json::array();
      for (const MarketDef& def : m.markets) {
        json sels = json::array();
        for (const SelectionDef& s : def.selections) {
          sels.push_back({{"selection_id", s.selection_id}, {"name", s.name}, {"odds", s.odds}});
        }
        markets.push_back({{"market_id", def.market_id}, {"name", def.name}, {"selections", sels}});
      }
      j["markets"] = std::move(markets);
      break;
    }
    case Kind::odds_change:
      j["event_id"] = m.event_id;
      j["market_id"] = m.market_id;
      j["prices"] = prices_json(m.prices);
      break;
    case Kind::bet_stop:
    case Kind::bet_start:
    case Kind::bet_cancel:
      j["event_id"] = m.event_id;
      j["market_id"] = m.market_id;
      if (!m.reason.empty()) j["reason"] = m.reason;
      break;
    case Kind::bet_settlement:
    case Kind::rollback_bet_settlement: {
      j["event_id"] = m.event_id;
      j["market_id"] = m.market_id;
      json results = json::array();
      for (const Result& r : m.results) {
        results.push_back({{"selection_id", r.selection_id}, {"result", r.result}});
      }
      j["results"] = std::move(results);
      break;
    }
    case Kind::snapshot_complete:
      j["request_id"] = m.request_id;
      break;
  }
  return j.dump();
}

std::variant<Message, std::string> parse_message(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return std::string("not JSON");
  if (!j.is_object()) return std::string("not a JSON object");
  auto kind_it = j.find("kind");
  if (kind_it == j.end() || !kind_it->is_string()) return std::string("missing kind");
  std::optional<Kind> kind = kind_of(kind_it->get_ref<const std::string&>());
  if (!kind) return fmt::format("unknown kind {}", kind_it->dump());
  Reader r;
  Message m;
  m.kind = *kind;
  m.producer = r.id(j, "producer");
  m.seq = r.number<uint64_t>(j, "seq", 0);
  m.ts = r.number<int64_t>(j, "ts", 1);
  if (r.problem.empty()) read_body(r, j, m);
  if (!r.problem.empty()) return fmt::format("{}: {}", kind_name(m.kind), r.problem);
  return m;
}

std::string routing_key(const Message& m) {
  const std::string& subject = !m.event_id.empty() ? m.event_id : !m.market_id.empty() ? m.market_id : std::string("-");
  return fmt::format("{}.{}.{}", m.producer, kind_name(m.kind), subject);
}

std::string request_id_of(const Message& m) {
  // 64 characters at most: "fd:" + producer (<= 64) is cut, ts and seq kept.
  std::string tail = fmt::format(":{}.{}", m.ts, m.seq);
  std::string head = "fd:" + m.producer;
  if (head.size() + tail.size() > 64) head.resize(64 - tail.size());
  return head + tail;
}

}  // namespace betcore::feed
