// What `betcore bench` measures beside its own load, over the same window:
//   - where a write's time goes inside the nodes: each node's
//     betcore_request_stage_seconds (ops::request_stage) scraped from
//     /metrics when the window opens and when it closes, the difference
//     summed over the nodes;
//   - the CPU every process of the run spent (utime + stime from
//     /proc/PID/stat), and that per 1,000 acknowledged bets, which holds
//     steadier than throughput on a noisy machine. The bench itself is
//     always among them ("bench", the load generator).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace betcore::tools {

// The stages in the order a write passes them (ops/metrics.h).
inline constexpr const char* kStages[] = {"parse", "queue", "append", "commit_to_applied", "apply", "respond"};

// One stage's histogram as scraped: cumulative counts per upper bound (the
// last is +Inf), the sum of the values (seconds) and their count.
struct StageCounts {
  std::vector<double> bounds;
  std::vector<uint64_t> cumulative;
  double sum = 0;
  uint64_t count = 0;
};
using StageSnapshot = std::map<std::string, StageCounts>;

struct StageFigures {
  uint64_t count = 0;
  double mean_ms = 0, p50_ms = 0, p99_ms = 0;  // percentiles interpolated inside their bucket
};

// Adds every betcore_request_stage_seconds series of a Prometheus text
// exposition into `into` (several nodes add up). Other lines are ignored.
void add_stage_samples(std::string_view exposition, StageSnapshot& into);

// Adds what happened between two scrapes of one node (after - before, per
// stage seen in `after`) into `window`. False, leaving out what cannot be
// subtracted, when a stage's counts went back (the node restarted in
// between) or its buckets differ.
bool stage_window(const StageSnapshot& before, const StageSnapshot& after, StageSnapshot& window);

// The figures of a window, per stage.
std::map<std::string, StageFigures> stage_figures(const StageSnapshot& window);

// utime + stime of a process in seconds; nullopt when it cannot be read.
std::optional<double> process_cpu_seconds(int pid);

struct CpuFigures {
  std::string name;
  int pid = 0;
  double seconds = -1;      // -1: not measured (the process ended, or /proc unreadable)
  double per_1k_bets = -1;  // seconds per 1,000 acknowledged bets
};

class BenchProbe {
 public:
  // `metrics_urls`: full URLs of the nodes' /metrics; `processes`: (name,
  // pid) to measure, the bench itself added as "bench".
  BenchProbe(std::vector<std::string> metrics_urls, std::vector<std::pair<std::string, int>> processes);

  // At the window's open and close. A URL that does not answer is said once
  // on `err`, with what to do, and left out of the stage figures.
  void open(std::ostream& err);
  void close(std::ostream& err);

  // Empty unless every URL answered both times (a half-scraped difference
  // would mislead).
  std::map<std::string, StageFigures> stages() const;
  // After close(): each process' CPU over the window and per 1,000 `bets`.
  std::vector<CpuFigures> cpu(uint64_t bets) const;

 private:
  bool scrape(std::vector<StageSnapshot>& into, std::ostream& err);  // one per URL

  std::vector<std::string> urls_;
  std::vector<std::pair<std::string, int>> processes_;
  std::vector<bool> url_failed_;
  std::vector<StageSnapshot> before_, after_;  // per URL
  StageSnapshot window_;                       // their differences, summed
  bool stages_ok_ = true;  // every URL answered both times
  std::vector<std::optional<double>> cpu_before_, cpu_after_;
};

}  // namespace betcore::tools
