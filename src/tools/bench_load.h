// The measured phase of `betcore bench`: closed-loop bet placement.
//
// Each connection sends a bet, waits for the answer, records it and sends the
// next. All connections of a thread share one io_context (default: one
// thread, leaving the cores to the node under test).
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "tools/bench_plan.h"
#include "tools/bench_report.h"
#include "tools/http_client.h"

namespace betcore::tools {

struct LoadOptions {
  int connections = 64;
  int threads = 1;
  double warmup_s = 2;
  double duration_s = 10;
  double multiple_ratio = 0.1;  // fraction of bets with 2–4 legs on distinct markets
  uint64_t seed = 1;
  int timeout_ms = 10000;  // connect, and send-to-answer of one request
  // Pause of a connection after 429/503 (capped by the answer's Retry-After):
  // honours back-pressure briefly without idling the run.
  int backoff_ms = 20;
  int retries_max = 3;   // of one bet after 503/504/transport failures, same id and body
  bool progress = true;  // a line a second on the progress stream
  // Called on the calling thread as the measured window opens and closes
  // (within a few ms; the probes of bench_probe.h). May be empty.
  std::function<void()> on_window_open, on_window_close;
};

struct LoadResult {
  bool ok = false;
  std::string error;  // why the load could not run (e.g. a target does not resolve)
  LoadStats stats;
  double window_s = 0;  // measured window as it ran
};

// REQUIRES: plan has >= 1 market and >= 1 account; targets non-empty.
// Connection i starts on targets[i % targets.size()] and fails over to the
// next target after a connection failure or a 503.
LoadResult run_load(const BenchPlan& plan, const std::vector<Url>& targets,
                    const std::string& trader_token, const LoadOptions& options,
                    std::ostream& progress);

}  // namespace betcore::tools
