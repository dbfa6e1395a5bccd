// The gateway's fault settings and the roll for each /v1/* call.
#include "payments/gateway_faults.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>

namespace betcore::payments::gateway {
namespace {

using nlohmann::json;

bool read_share(const json& j, const char* name, double& out, std::string* error) {
  if (!j.contains(name)) return true;
  const json& v = j[name];
  if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) {
    *error = fmt::format("{} must be a number in 0..1", name);
    return false;
  }
  out = v.get<double>();
  return true;
}

template <typename Int>
bool read_int(const json& j, const char* name, int64_t max, Int& out, std::string* error) {
  if (!j.contains(name)) return true;
  const json& v = j[name];
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > max) {
    *error = fmt::format("{} must be an integer in 0..{}", name, max);
    return false;
  }
  out = static_cast<Int>(v.get<int64_t>());
  return true;
}

}  // namespace

std::optional<FaultsChange> apply_faults_json(std::string_view body, const Faults& current,
                                              int64_t now_mono_ms, std::string* error) {
  static constexpr std::string_view kFields[] = {
      "latency_ms", "error_share",     "timeout_share",        "timeout_hold_ms", "reset_share",
      "outage_ms",  "duplicate_share", "webhook_delay_ms_max", "webhook_storm"};
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) {
    *error = "the body must be a JSON object of fault settings";
    return std::nullopt;
  }
  for (const auto& [name, value] : j.items()) {
    if (std::find(std::begin(kFields), std::end(kFields), name) == std::end(kFields)) {
      *error = fmt::format("unknown field {}; known: {}", name, fmt::join(kFields, ", "));
      return std::nullopt;
    }
  }
  FaultsChange c;
  c.faults = current;
  Faults& f = c.faults;
  int64_t outage_ms = -1;
  bool ok =
      read_int(j, "latency_ms", kLatencyMsMax, f.latency_ms, error) &&
      read_share(j, "error_share", f.error_share, error) &&
      read_share(j, "timeout_share", f.timeout_share, error) &&
      read_int(j, "timeout_hold_ms", kTimeoutHoldMsMax, f.timeout_hold_ms, error) &&
      read_share(j, "reset_share", f.reset_share, error) &&
      read_int(j, "outage_ms", kOutageMsMax, outage_ms, error) &&
      read_share(j, "duplicate_share", f.duplicate_share, error) &&
      read_int(j, "webhook_delay_ms_max", kWebhookDelayMsMax, f.webhook_delay_ms_max, error) &&
      read_int(j, "webhook_storm", kWebhookStormMax, c.webhook_storm, error);
  if (!ok) return std::nullopt;
  // outage_ms counts from now; 0 ends an outage in progress.
  if (outage_ms >= 0) f.outage_until_mono_ms = now_mono_ms + outage_ms;
  return c;
}

std::string faults_json(const Faults& f, int64_t now_mono_ms) {
  return json{{"latency_ms", f.latency_ms},
              {"error_share", f.error_share},
              {"timeout_share", f.timeout_share},
              {"timeout_hold_ms", f.timeout_hold_ms},
              {"reset_share", f.reset_share},
              {"outage_ms", std::max<int64_t>(0, f.outage_until_mono_ms - now_mono_ms)},
              {"duplicate_share", f.duplicate_share},
              {"webhook_delay_ms_max", f.webhook_delay_ms_max}}
      .dump();
}

std::string_view to_string(Fate f) {
  switch (f) {
    case Fate::normal:
      return "normal";
    case Fate::outage:
      return "outage";
    case Fate::error_before:
      return "error_before";
    case Fate::error_after:
      return "error_after";
    case Fate::timeout:
      return "timeout";
    case Fate::reset:
      return "reset";
  }
  return "?";
}

Decision decide(const Faults& f, int64_t now_mono_ms, tools::SplitMix64& rng) {
  Decision d;
  if (now_mono_ms < f.outage_until_mono_ms) {
    d.fate = Fate::outage;  // at once: an outage does not add latency
    return d;
  }
  d.answer_delay_ms = f.latency_ms;
  // A share of 0 draws nothing, so a gateway without faults leaves the
  // random sequence alone (a seed replays the same faults once they start).
  auto roll = [&](double share) { return share > 0 && rng.unit() < share; };
  if (roll(f.error_share)) {
    // docs/payment-gateway.md: "half of them after the payout was created".
    d.fate = rng.below(2) == 0 ? Fate::error_before : Fate::error_after;
  } else if (roll(f.timeout_share)) {
    d.fate = Fate::timeout;
    d.answer_delay_ms += f.timeout_hold_ms;
  } else if (roll(f.reset_share)) {
    d.fate = Fate::reset;
  }
  return d;
}

}  // namespace betcore::payments::gateway
