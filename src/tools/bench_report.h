// The figures of one `betcore bench` run, and their two forms: a table for a
// person and one JSON object for scripts (`--json`).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/bench_probe.h"
#include "tools/latency_histogram.h"

namespace betcore::tools {

// Counts of the measured window only (warmup excluded).
struct LoadStats {
  uint64_t requests = 0;  // bet requests that got an HTTP answer or lost their connection
  uint64_t ok = 0;        // answered 2xx
  std::map<int, uint64_t> by_status;
  // "<status> <error code>" for non-2xx answers (e.g. "422 insufficient_funds",
  // "429 overloaded"; just "<status>" without a JSON error body), and
  // "transport <kind>" for connect_failed, connection_lost, timeout.
  std::map<std::string, uint64_t> errors;
  LatencyHistogram ok_latency_us;  // of 2xx answers, send to last byte

  void merge(const LoadStats& other);
};

struct BenchReport {
  std::string run_id;
  std::vector<std::string> targets;
  int connections = 0;
  int threads = 0;
  int accounts = 0;
  int markets = 0;
  double multiple_ratio = 0;
  double warmup_s = 0;
  double duration_s = 0;  // the measured window as it actually ran
  double setup_s = 0;
  uint64_t setup_writes = 0;
  LoadStats stats;
  // Over the measured window (bench_probe.h): where the nodes' time went,
  // and each process' CPU. Empty when not measured.
  std::map<std::string, StageFigures> stages;
  std::vector<CpuFigures> cpu;

  double bets_per_s() const;
};

// {"bets_per_s":..,"requests":..,"ok":..,"errors":{..},"status":{..},
//  "latency_ms":{"p50","p90","p99","p999","max","mean"},"connections":..,
//  "duration_s":..,"stages_ms":{"queue":{"count","mean","p50","p99"},..},
//  "cpu":{"node-1":{"pid","seconds","per_1k_bets"},..},...} on one line.
std::string report_json(const BenchReport& report);
std::string report_table(const BenchReport& report);

}  // namespace betcore::tools
