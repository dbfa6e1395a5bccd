#include "backup/audit_lines.h"

#include <nlohmann/json.hpp>

#include <span>
#include <string_view>
#include <type_traits>

#include "api/time_format.h"
#include "domain/assert.h"
#include "domain/fields.h"
#include "domain/rejection.h"

namespace betcore::backup {
namespace {

using Json = nlohmann::ordered_json;
using Names = std::span<const std::string_view>;

// Each record's field names, in the order src/domain/fields.h visits them.
// audit_test checks that every name is used and none is missing.
template <class T>
Names names_of();
#define BETCORE_NAMES(T, ...)                                     \
  template <>                                                     \
  Names names_of<domain::T>() {                                   \
    static constexpr std::string_view kNames[] = {__VA_ARGS__};   \
    return kNames;                                                \
  }
BETCORE_NAMES(CreateAccount, "account_id", "currency", "deposit_limit_24h")
BETCORE_NAMES(SetSelfExclusion, "account_id", "until")
BETCORE_NAMES(Deposit, "payment_ref", "account_id", "amount")
BETCORE_NAMES(RequestWithdrawal, "withdrawal_id", "account_id", "amount")
BETCORE_NAMES(CompleteWithdrawal, "withdrawal_id", "gateway_ref")
BETCORE_NAMES(FailWithdrawal, "withdrawal_id", "reason")
BETCORE_NAMES(CreateEvent, "event_id", "name", "starts_at")
BETCORE_NAMES(SelectionSpec, "selection_id", "name", "odds")
BETCORE_NAMES(CreateMarket, "market_id", "event_id", "name", "selections", "min_stake", "max_stake",
              "max_liability", "producer_id")
BETCORE_NAMES(PriceSpec, "selection_id", "odds", "active")
BETCORE_NAMES(UpdatePrices, "market_id", "prices", "request_id")
BETCORE_NAMES(ChangeMarketStatus, "market_id", "action", "reason", "request_id")
BETCORE_NAMES(LegSpec, "market_id", "selection_id", "odds")
BETCORE_NAMES(PlaceBet, "bet_id", "account_id", "stake", "accept_better_odds", "legs")
BETCORE_NAMES(ResultSpec, "selection_id", "result")
BETCORE_NAMES(SettleMarket, "market_id", "resettle", "results", "request_id")
BETCORE_NAMES(FeedAlive, "producer_id", "limit_ms", "recovered", "source_ts")
BETCORE_NAMES(FeedPrices, "market_id", "producer_id", "source_ts", "source_seq", "prices")
#undef BETCORE_NAMES

struct JsonFields {
  Json& out;
  Names names;
  size_t next = 0;

  std::string_view name() {
    BETCORE_ASSERT_MSG(next < names.size(), "a field without a name in audit_lines.cc");
    return names[next++];
  }
  void put(Json value, domain::Rule rule) {
    std::string key(name());
    const bool optional = (rule.flags & domain::Rule::kOptionalTrailing) != 0;
    if (optional && ((value.is_string() && value.get<std::string>().empty()) ||
                     (value.is_number() && value.get<int64_t>() == 0))) {
      return;
    }
    out[key] = std::move(value);
  }
  void operator()(const std::string& s, domain::Rule rule = {}) { put(s, rule); }
  void operator()(int64_t v, domain::Rule rule = {}) { put(v, rule); }
  void operator()(uint64_t v, domain::Rule rule = {}) { put(v, rule); }
  void operator()(domain::Amount a, domain::Rule rule = {}) { put(a.minor, rule); }
  void operator()(domain::TimeMs t, domain::Rule rule = {}) { put(api::format_rfc3339(t.ms), rule); }
  void operator()(domain::Odds o, domain::Rule rule = {}) { put(o.thousandths, rule); }
  void operator()(int8_t v, domain::Rule rule = {}) { put(static_cast<int64_t>(v), rule); }
  void operator()(bool v, domain::Rule rule = {}) { put(v, rule); }
  template <class E>
    requires std::is_enum_v<E>
  void operator()(E e, domain::Rule rule = {}) {
    put(static_cast<int64_t>(e), rule);
  }
  template <class T>
  void operator()(const std::vector<T>& list, domain::Rule rule = {}) {
    Json items = Json::array();
    for (const T& x : list) items.push_back(fields_of(x));
    put(std::move(items), rule);
  }

  template <class T>
  static Json fields_of(const T& record) {
    Json o = Json::object();
    JsonFields v{o, names_of<T>()};
    describe(v, record);
    BETCORE_ASSERT_MSG(v.next == v.names.size(), "a name without a field in audit_lines.cc");
    return o;
  }
};

// Takes the first field when it is a string: a command's own client id
// (bet_id, payment_ref, ...).
struct FirstString {
  std::string& id;
  bool done = false;
  void operator()(const std::string& s, domain::Rule = {}) {
    if (!done) id = s;
    done = true;
  }
  template <class T>
  void operator()(const T&, domain::Rule = {}) {
    done = true;
  }
};

std::string client_id_of(const domain::Command& command) {
  std::string id;
  std::visit(
      [&id](const auto& c) {
        FirstString first{id};
        describe(first, c);
      },
      command);
  return id;
}

}  // namespace

std::string command_fields_json(const domain::Command& command) {
  return std::visit(
      [](const auto& c) {
        return JsonFields::fields_of(c).dump(-1, ' ', false, Json::error_handler_t::replace);
      },
      command);
}

std::string audit_line(const AuditLineInput& in) {
  const codec::BatchHeader& h = *in.header;
  Json line = Json::object();
  line["position"] = in.position;
  line["index"] = in.index;
  line["time"] = api::format_rfc3339(in.time_ms);
  line["node"] = h.node_id;
  const bool has_actor = in.index < h.actor_of.size();
  line["role"] = has_actor ? h.actors[h.actor_of[in.index]].role : "";
  line["token_id"] = has_actor ? h.actors[h.actor_of[in.index]].token_id : "";
  line["client_id"] = client_id_of(*in.command);
  line["command"] = std::string(domain::command_name(*in.command));
  line["fields"] = std::visit([](const auto& c) { return JsonFields::fields_of(c); }, *in.command);
  Json result = Json::object();
  if (in.outcome == nullptr) {
    result["code"] = "batch_refused";
    result["detail"] = in.refused;
  } else {
    result["code"] = std::string(domain::code_name(in.outcome->code));
    result["duplicate"] = in.outcome->duplicate;
  }
  line["result"] = std::move(result);
  return line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace betcore::backup
