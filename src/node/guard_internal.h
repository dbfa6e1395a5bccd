// What guard.cc and guard_leadership.cc share inside the guard (guard.h):
// a signal's state and the helpers that write values for people.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "node/guard.h"
#include "ops/anomaly.h"

namespace betcore::node {

inline constexpr size_t kSeriesMax = 600;   // an incident's chart points
inline constexpr size_t kTimelineMax = 50;  // an incident's timeline events

// `v` in `unit` ("s", "ratio", "/s", or a noun) for people: "12.5 ms", "3.0%".
inline std::string show(double v, const std::string& unit) {
  if (!std::isfinite(v)) return "n/a";
  if (unit == "s") return v < 1 ? fmt::format("{:.1f} ms", v * 1000) : fmt::format("{:.2f} s", v);
  if (unit == "ratio") return fmt::format("{:.1f}%", v * 100);
  if (unit == "/s") return fmt::format("{:.0f}/s", v);
  return fmt::format("{:.0f} {}", v, unit);
}

inline double delta(double now, double before) {
  return std::isfinite(now) && std::isfinite(before) ? now - before : NAN;
}

struct Guard::Signal {
  std::string name;
  ops::Detector<ops::EwmaBand> detector;
  std::string incident_id;  // "" when none is open
  double last = NAN;
  std::optional<ops::Band> last_band;
  int64_t judged_ms = 0;  // the last sample that had data for it
  bool advised = false;   // the open incident has its recommendation
  bool leader_advised = false;  // ... and the one to move the etcd leadership
  bool members_noted = false;   // ... and the etcd members' speeds at the first look
  bool own_stall_noted = false;  // ... and that this node's own stall hid their Status times
};

}  // namespace betcore::node
