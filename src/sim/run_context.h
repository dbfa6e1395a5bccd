// What every part of one simulated run shares: its config, its world (clock,
// random source, event queue) and its report. One thread, so no locking.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "sim/simulation.h"
#include "sim/world.h"

namespace betcore::sim {

constexpr int64_t kStartMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr size_t kFailuresMax = 20;              // a report keeps the first ones

struct RunContext {
  explicit RunContext(const SimConfig& c) : config(c), world(c.seed, kStartMs) {
    report.seed = c.seed;
  }

  // One hop on the simulated network (0-3 ms): a request, or an answer.
  int64_t net_ms() { return world.rng.between(0, 3); }

  // On the timeline (verbose runs only), stamped with the simulated time.
  void note(const std::string& what) {
    if (config.verbose) report.timeline.push_back(std::to_string(world.elapsed()) + " ms: " + what);
  }
  // A fault injected, or what a node did about one: counted, mixed into the
  // trace (by its name's hash: the name is part of the seed's trace), noted.
  void fault(const std::string& kind, const std::string& detail) {
    ++report.faults[kind];
    world.trace(std::hash<std::string>{}(kind));
    note(kind + ": " + detail);
  }
  // An invariant that broke, with its evidence.
  void fail(std::string what) {
    if (report.failures.size() < kFailuresMax) report.failures.push_back(std::move(what));
  }

  const SimConfig config;
  World world;
  SimReport report;
};

}  // namespace betcore::sim
