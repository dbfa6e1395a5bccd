// How the gateway misbehaves when told (docs/payment-gateway.md, "Failing on
// purpose"): the settings POST /control/faults changes, and the roll that
// decides the fate of each /v1/* call. Pure: the clock and the random source
// come in as arguments.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tools/splitmix.h"

namespace betcore::payments::gateway {

// Bounds of the settings (STYLE.md, habit 4); larger values are refused.
inline constexpr int kLatencyMsMax = 60'000;
inline constexpr int kTimeoutHoldMsMax = 120'000;
inline constexpr int64_t kOutageMsMax = 3'600'000;
inline constexpr int kWebhookDelayMsMax = 60'000;
inline constexpr int kWebhookStormMax = 100;

struct Faults {
  int latency_ms = 0;
  double error_share = 0;
  double timeout_share = 0;
  int timeout_hold_ms = 15'000;
  double reset_share = 0;
  int64_t outage_until_mono_ms = 0;  // set from outage_ms at the time of the POST
  double duplicate_share = 0;
  int webhook_delay_ms_max = 0;
};

// What a POST /control/faults asks for besides settings: a one-off storm.
struct FaultsChange {
  Faults faults;          // the settings after the change
  int webhook_storm = 0;  // 0: none
};

// Applies the JSON body of POST /control/faults to `current`: every field is
// optional and keeps its value when absent; an unknown field or a value out of
// range refuses the whole change (nullopt, `error` says what).
std::optional<FaultsChange> apply_faults_json(std::string_view body, const Faults& current,
                                              int64_t now_mono_ms, std::string* error);

// The settings as JSON, outage_ms being what is left of the outage.
std::string faults_json(const Faults& faults, int64_t now_mono_ms);

enum class Fate {
  normal,        // processed and answered
  outage,        // 503 without processing
  error_before,  // 500 without processing
  error_after,   // processed, then 500
  timeout,       // processed, then held timeout_hold_ms before the answer
  reset,         // processed, then the connection reset
};
std::string_view to_string(Fate f);

struct Decision {
  Fate fate = Fate::normal;
  int answer_delay_ms = 0;  // latency_ms, plus timeout_hold_ms for a timeout
};

// The fate of one /v1/* call arriving at `now_mono_ms`. The shares are rolled
// in order (error, then timeout, then reset), each on what the earlier left.
Decision decide(const Faults& faults, int64_t now_mono_ms, tools::SplitMix64& rng);

}  // namespace betcore::payments::gateway
