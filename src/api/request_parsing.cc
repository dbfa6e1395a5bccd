#include "api/request_parsing.h"

#include <nlohmann/json.hpp>

#include "api/time_format.h"
#include "domain/odds.h"
#include "domain/state_machine.h"

namespace betcore::api {
namespace {

using nlohmann::json;
using namespace betcore::domain;

// Reads the fields of one JSON object, remembering the first problem.
class Fields {
 public:
  Fields(const json& object, std::string where) : obj_(object), where_(std::move(where)) {
    if (!obj_.is_object()) fail(where_.empty() ? "the body must be a JSON object" : where_ + " must be an object");
  }

  // Every key must be one of `allowed`: typos never pass silently.
  void only(std::initializer_list<std::string_view> allowed) {
    if (!ok()) return;
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      bool known = false;
      for (std::string_view a : allowed) known = known || it.key() == a;
      if (!known) {
        fail("unknown field " + name(it.key()) + "; allowed: " + join(allowed));
        return;
      }
    }
  }

  const json* get(std::string_view key, bool required) {
    if (!ok()) return nullptr;
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      if (required) fail("missing field " + name(key));
      return nullptr;
    }
    return &*it;
  }

  std::string id(std::string_view key, bool required = true) {
    const json* v = get(key, required);
    if (v == nullptr) return {};
    if (!v->is_string() || !valid_id(v->get_ref<const std::string&>())) {
      fail(name(key) + " must be a string of 1-64 characters from [A-Za-z0-9_.:-]");
      return {};
    }
    return v->get<std::string>();
  }

  std::string text(std::string_view key, bool required, size_t bytes_max = kTextBytesMax) {
    const json* v = get(key, required);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      fail(name(key) + " must be a string");
      return {};
    }
    const std::string& s = v->get_ref<const std::string&>();
    if ((required && s.empty()) || s.size() > bytes_max) {
      fail(name(key) + " must be 1-" + std::to_string(bytes_max) + " bytes");
      return {};
    }
    return s;
  }

  // Integer minor units in [min, max]; floats, strings and huge numbers are refused.
  int64_t integer(std::string_view key, bool required, int64_t min, int64_t max, int64_t dflt) {
    const json* v = get(key, required);
    if (v == nullptr) return dflt;
    if (!v->is_number_integer()) {
      fail(name(key) + " must be an integer number of minor units (no decimals, no quotes)");
      return dflt;
    }
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      fail(name(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
      return dflt;
    }
    int64_t x = v->get<int64_t>();
    if (x < min || x > max) {
      fail(name(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
      return dflt;
    }
    return x;
  }

  Odds odds(std::string_view key) {
    const json* v = get(key, true);
    if (v == nullptr) return {};
    std::optional<Odds> o;
    if (v->is_string()) o = parse_odds(v->get_ref<const std::string&>());
    if (!o) {
      fail(name(key) + " must be decimal odds as a string with at most 3 decimals, from \"1.001\" to \"1000\"");
      return {};
    }
    return *o;
  }

  bool boolean(std::string_view key, bool required, bool dflt) {
    const json* v = get(key, required);
    if (v == nullptr) return dflt;
    if (!v->is_boolean()) {
      fail(name(key) + " must be true or false");
      return dflt;
    }
    return v->get<bool>();
  }

  TimeMs time(std::string_view key, bool required) {
    const json* v = get(key, required);
    if (v == nullptr) return {};
    std::optional<int64_t> t;
    if (v->is_string()) t = parse_rfc3339(v->get_ref<const std::string&>());
    if (!t) {
      fail(name(key) + " must be an RFC 3339 time like \"2026-11-27T20:00:00Z\"");
      return {};
    }
    return TimeMs{*t};
  }

  const json* array(std::string_view key, size_t min, size_t max) {
    const json* v = get(key, true);
    if (v == nullptr) return nullptr;
    if (!v->is_array() || v->size() < min || v->size() > max) {
      fail(name(key) + " must be an array of " + std::to_string(min) + "-" + std::to_string(max) + " items");
      return nullptr;
    }
    return v;
  }

  void fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }
  bool ok() const { return error_.empty(); }
  std::string take_error() { return std::move(error_); }
  const std::string& where() const { return where_; }

  // Hands the first problem of a nested object to this one.
  void absorb(Fields& inner) {
    if (!inner.ok()) fail(inner.take_error());
  }

 private:
  std::string name(std::string_view key) const {
    return where_.empty() ? "'" + std::string(key) + "'" : "'" + where_ + "." + std::string(key) + "'";
  }
  static std::string join(std::initializer_list<std::string_view> keys) {
    std::string out;
    for (std::string_view k : keys) {
      if (!out.empty()) out += ", ";
      out += k;
    }
    return out;
  }

  const json& obj_;
  std::string where_;
  std::string error_;
};

// Parses the body; on failure the Parsed carries the error.
bool parse_json(std::string_view body, json& out, Parsed& p) {
  // The JSON library stops at a NUL byte as at the end of its input: a body
  // with one must not pass as the JSON before it.
  if (body.find('\0') != std::string_view::npos) {
    p.error = "the body contains a NUL byte";
    return false;
  }
  out = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) {
    p.error = "the body is not valid JSON";
    return false;
  }
  return true;
}

template <class F>
Parsed parse_with(std::string_view body, F&& f) {
  Parsed p;
  json j;
  if (!parse_json(body, j, p)) return p;
  Fields fields(j, "");
  p.command = f(fields);
  if (!fields.ok()) p.error = fields.take_error();
  return p;
}

std::string path_id_error(std::string_view what) {
  return "the " + std::string(what) + " id in the path must be 1-64 characters from [A-Za-z0-9_.:-]";
}

}  // namespace

Parsed parse_create_account(std::string_view body) {
  return parse_with(body, [](Fields& f) -> Command {
    f.only({"account_id", "currency", "deposit_limit_24h"});
    CreateAccount c;
    c.account_id = f.id("account_id");
    c.currency = f.text("currency", true, 3);
    if (f.ok() && (c.currency.size() != 3 || c.currency.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos)) {
      f.fail("'currency' must be 3 uppercase letters, like \"EUR\"");
    }
    c.deposit_limit_24h.minor = f.integer("deposit_limit_24h", false, kAmountMin, kAmountMax, 0);
    return c;
  });
}

Parsed parse_self_exclusion(std::string_view account_id, std::string_view body) {
  Parsed p = parse_with(body, [&](Fields& f) -> Command {
    f.only({"until"});
    SetSelfExclusion c;
    c.account_id = std::string(account_id);
    c.until = f.time("until", true);
    return c;
  });
  if (p.ok() && !valid_id(account_id)) p.error = path_id_error("account");
  return p;
}

Parsed parse_deposit(std::string_view body) {
  return parse_with(body, [](Fields& f) -> Command {
    f.only({"payment_ref", "account_id", "amount"});
    Deposit c;
    c.payment_ref = f.id("payment_ref");
    c.account_id = f.id("account_id");
    c.amount.minor = f.integer("amount", true, kAmountMin, kAmountMax, 0);
    return c;
  });
}

Parsed parse_withdrawal(std::string_view body) {
  return parse_with(body, [](Fields& f) -> Command {
    f.only({"withdrawal_id", "account_id", "amount"});
    RequestWithdrawal c;
    c.withdrawal_id = f.id("withdrawal_id");
    c.account_id = f.id("account_id");
    c.amount.minor = f.integer("amount", true, kAmountMin, kAmountMax, 0);
    return c;
  });
}

Parsed parse_complete_withdrawal(std::string_view withdrawal_id, std::string_view body) {
  Parsed p = parse_with(body, [&](Fields& f) -> Command {
    f.only({"gateway_ref"});
    CompleteWithdrawal c;
    c.withdrawal_id = std::string(withdrawal_id);
    c.gateway_ref = f.text("gateway_ref", true);
    return c;
  });
  if (p.ok() && !valid_id(withdrawal_id)) p.error = path_id_error("withdrawal");
  return p;
}

Parsed parse_fail_withdrawal(std::string_view withdrawal_id, std::string_view body) {
  Parsed p = parse_with(body, [&](Fields& f) -> Command {
    f.only({"reason"});
    FailWithdrawal c;
    c.withdrawal_id = std::string(withdrawal_id);
    c.reason = f.text("reason", true);
    return c;
  });
  if (p.ok() && !valid_id(withdrawal_id)) p.error = path_id_error("withdrawal");
  return p;
}

Parsed parse_create_event(std::string_view body) {
  return parse_with(body, [](Fields& f) -> Command {
    f.only({"event_id", "name", "starts_at"});
    CreateEvent c;
    c.event_id = f.id("event_id");
    c.name = f.text("name", true);
    c.starts_at = f.time("starts_at", true);
    return c;
  });
}

Parsed parse_create_market(std::string_view body) {
  return parse_with(body, [](Fields& f) -> Command {
    f.only({"market_id", "event_id", "name", "selections", "min_stake", "max_stake", "max_liability", "producer"});
    CreateMarket c;
    c.producer_id = f.id("producer", false);
    c.market_id = f.id("market_id");
    c.event_id = f.id("event_id");
    c.name = f.text("name", true);
    if (const json* sels = f.array("selections", 1, kSelectionsMax)) {
      for (size_t i = 0; i < sels->size() && f.ok(); ++i) {
        Fields s((*sels)[i], "selections[" + std::to_string(i) + "]");
        s.only({"selection_id", "name", "odds"});
        SelectionSpec spec;
        spec.selection_id = s.id("selection_id");
        spec.name = s.text("name", true);
        spec.odds = s.odds("odds");
        f.absorb(s);
        for (const auto& prev : c.selections) {
          if (prev.selection_id == spec.selection_id) f.fail("selection '" + spec.selection_id + "' appears twice");
        }
        c.selections.push_back(std::move(spec));
      }
    }
    c.min_stake.minor = f.integer("min_stake", false, kAmountMin, kAmountMax, 1);
    c.max_stake.minor = f.integer("max_stake", false, kAmountMin, kAmountMax, kAmountMax);
    c.max_liability.minor = f.integer("max_liability", false, 1, kAmountMax * 100, kAmountMax * 100);
    if (f.ok() && c.min_stake > c.max_stake) f.fail("'min_stake' must not be above 'max_stake'");
    return c;
  });
}

// The "prices" array of a price change, into `out`.
void parse_price_list(Fields& f, std::vector<PriceSpec>& out) {
  const json* prices = f.array("prices", 1, kSelectionsMax);
  if (prices == nullptr) return;
  for (size_t i = 0; i < prices->size() && f.ok(); ++i) {
    // Nested names carry the outer one: 'changes[2].prices[0].odds' in a batch.
    std::string where = f.where().empty() ? "" : f.where() + ".";
    Fields s((*prices)[i], where + "prices[" + std::to_string(i) + "]");
    s.only({"selection_id", "odds", "active"});
    PriceSpec spec;
    spec.selection_id = s.id("selection_id");
    spec.odds = s.odds("odds");
    if (s.get("active", false) != nullptr) spec.active = s.boolean("active", true, true) ? 1 : 0;
    f.absorb(s);
    for (const auto& prev : out) {
      if (prev.selection_id == spec.selection_id) f.fail("selection '" + spec.selection_id + "' appears twice");
    }
    out.push_back(std::move(spec));
  }
}

Parsed parse_prices(std::string_view market_id, std::string_view body) {
  Parsed p = parse_with(body, [&](Fields& f) -> Command {
    f.only({"prices", "request_id"});
    UpdatePrices c;
    c.market_id = std::string(market_id);
    c.request_id = f.id("request_id", false);
    parse_price_list(f, c.prices);
    return c;
  });
  if (p.ok() && !valid_id(market_id)) p.error = path_id_error("market");
  return p;
}

// The fields of one feed price change (the single route's body, a batch's
// element); the market id comes from the path or the element.
FeedPrices feed_prices_fields(Fields& f, std::string market_id) {
  FeedPrices c;
  c.market_id = std::move(market_id);
  c.producer_id = f.id("producer");
  c.source_ts = f.integer("source_ts", true, 1, INT64_MAX, 0);
  c.source_seq = static_cast<uint64_t>(f.integer("source_seq", false, 0, INT64_MAX, 0));
  parse_price_list(f, c.prices);
  return c;
}

Parsed parse_feed_prices(std::string_view market_id, std::string_view body) {
  Parsed p = parse_with(body, [&](Fields& f) -> Command {
    f.only({"producer", "source_ts", "source_seq", "prices"});
    return feed_prices_fields(f, std::string(market_id));
  });
  if (p.ok() && !valid_id(market_id)) p.error = path_id_error("market");
  return p;
}

ParsedFeedBatch parse_feed_prices_batch(std::string_view body) {
  ParsedFeedBatch out;
  Parsed whole;
  json j;
  if (!parse_json(body, j, whole)) {
    out.error = whole.error;
    return out;
  }
  Fields f(j, "");
  f.only({"changes"});
  const json* changes = f.array("changes", 1, kFeedBatchChangesMax);
  if (!f.ok()) {
    out.error = f.take_error();
    return out;
  }
  out.changes.reserve(changes->size());
  for (size_t i = 0; i < changes->size(); ++i) {
    const json& element = (*changes)[i];
    ParsedChange change;
    auto id = element.is_object() ? element.find("market_id") : element.end();
    if (element.is_object() && id != element.end() && id->is_string()) {
      change.market_id = id->get<std::string>();
    }
    Fields e(element, "changes[" + std::to_string(i) + "]");
    e.only({"market_id", "producer", "source_ts", "source_seq", "prices"});
    std::string market_id = e.id("market_id");
    change.parsed.command = feed_prices_fields(e, std::move(market_id));
    if (!e.ok()) change.parsed.error = e.take_error();
    out.changes.push_back(std::move(change));
  }
  return out;
}

Parsed parse_feed_alive(std::string_view producer_id, std::string_view body) {
  Parsed p = parse_with(body, [&](Fields& f) -> Command {
    f.only({"limit_ms", "recovered", "source_ts"});
    FeedAlive c;
    c.producer_id = std::string(producer_id);
    c.limit_ms = f.integer("limit_ms", true, 1'000, 600'000, 0);
    c.recovered = f.boolean("recovered", false, false);
    // Required: an alive without the provider's stamp would count from the
    // batch that applies it, however late (docs/api.md, the alive route).
    c.source_ts = f.integer("source_ts", true, 1, INT64_MAX, 0);
    return c;
  });
  if (p.ok() && !valid_id(producer_id)) p.error = path_id_error("producer");
  return p;
}

Parsed parse_market_status(std::string_view market_id, MarketAction action, std::string_view body) {
  // An empty body is allowed: {reason?} is all optional.
  std::string_view b = body.empty() ? std::string_view("{}") : body;
  Parsed p = parse_with(b, [&](Fields& f) -> Command {
    f.only({"reason", "request_id"});
    ChangeMarketStatus c;
    c.market_id = std::string(market_id);
    c.action = action;
    c.reason = f.text("reason", false);
    c.request_id = f.id("request_id", false);
    return c;
  });
  if (p.ok() && !valid_id(market_id)) p.error = path_id_error("market");
  return p;
}

Parsed parse_bet(std::string_view body) {
  return parse_with(body, [](Fields& f) -> Command {
    f.only({"bet_id", "account_id", "stake", "legs", "accept_better_odds"});
    PlaceBet c;
    c.bet_id = f.id("bet_id");
    c.account_id = f.id("account_id");
    c.stake.minor = f.integer("stake", true, kAmountMin, kAmountMax, 0);
    if (const json* legs = f.array("legs", 1, kLegsMax)) {
      c.legs.reserve(legs->size());
      for (size_t i = 0; i < legs->size() && f.ok(); ++i) {
        Fields l((*legs)[i], "legs[" + std::to_string(i) + "]");
        l.only({"market_id", "selection_id", "odds"});
        LegSpec spec;
        spec.market_id = l.id("market_id");
        spec.selection_id = l.id("selection_id");
        spec.odds = l.odds("odds");
        f.absorb(l);
        c.legs.push_back(std::move(spec));
      }
    }
    c.accept_better_odds = f.boolean("accept_better_odds", false, false);
    return c;
  });
}

Parsed parse_settle(std::string_view market_id, std::string_view body, bool resettle) {
  Parsed p = parse_with(body, [&](Fields& f) -> Command {
    f.only({"results", "request_id"});
    SettleMarket c;
    c.request_id = f.id("request_id", false);
    c.market_id = std::string(market_id);
    c.resettle = resettle;
    if (const json* results = f.array("results", 1, kSelectionsMax)) {
      for (size_t i = 0; i < results->size() && f.ok(); ++i) {
        Fields r((*results)[i], "results[" + std::to_string(i) + "]");
        r.only({"selection_id", "result"});
        ResultSpec spec;
        spec.selection_id = r.id("selection_id");
        std::string result = r.text("result", true, 8);
        if (r.ok()) {
          if (result == "win") spec.result = LegResult::win;
          else if (result == "lose") spec.result = LegResult::lose;
          else if (result == "void") spec.result = LegResult::void_;
          else r.fail("'results[" + std::to_string(i) + "].result' must be \"win\", \"lose\" or \"void\"");
        }
        f.absorb(r);
        c.results.push_back(std::move(spec));
      }
    }
    return c;
  });
  if (p.ok() && !valid_id(market_id)) p.error = path_id_error("market");
  return p;
}

}  // namespace betcore::api
