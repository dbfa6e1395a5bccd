#include "tools/bench_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>

namespace betcore::tools {

namespace {

double ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }

// Three decimals are the histogram's precision (< 0.8 %) at 1 ms and below.
double round3(double v) {
  return static_cast<double>(static_cast<int64_t>(v * 1000.0 + 0.5)) / 1000.0;
}

}  // namespace

void LoadStats::merge(const LoadStats& other) {
  requests += other.requests;
  ok += other.ok;
  for (const auto& [k, v] : other.by_status) by_status[k] += v;
  for (const auto& [k, v] : other.errors) errors[k] += v;
  ok_latency_us.merge(other.ok_latency_us);
}

double BenchReport::bets_per_s() const {
  return duration_s > 0 ? static_cast<double>(stats.ok) / duration_s : 0.0;
}

std::string report_json(const BenchReport& r) {
  const auto& h = r.stats.ok_latency_us;
  nlohmann::json status = nlohmann::json::object();
  for (const auto& [k, v] : r.stats.by_status) status[std::to_string(k)] = v;
  nlohmann::json j = {
      {"bets_per_s", round3(r.bets_per_s())},
      {"requests", r.stats.requests},
      {"ok", r.stats.ok},
      {"errors", r.stats.errors},
      {"status", status},
      {"latency_ms",
       {{"p50", ms(h.percentile(50))},
        {"p90", ms(h.percentile(90))},
        {"p99", ms(h.percentile(99))},
        {"p999", ms(h.percentile(99.9))},
        {"max", ms(h.max())},
        {"mean", round3(h.mean() / 1000.0)}}},
      {"connections", r.connections},
      {"threads", r.threads},
      {"duration_s", round3(r.duration_s)},
      {"warmup_s", round3(r.warmup_s)},
      {"accounts", r.accounts},
      {"markets", r.markets},
      {"multiple_ratio", r.multiple_ratio},
      {"setup_s", round3(r.setup_s)},
      {"setup_writes", r.setup_writes},
      {"run_id", r.run_id},
      {"targets", r.targets},
  };
  nlohmann::json stages = nlohmann::json::object();
  for (const auto& [stage, f] : r.stages) {
    stages[stage] = {{"count", f.count}, {"mean", round3(f.mean_ms)}, {"p50", round3(f.p50_ms)}, {"p99", round3(f.p99_ms)}};
  }
  j["stages_ms"] = stages;
  nlohmann::json cpu = nlohmann::json::object();
  for (const CpuFigures& c : r.cpu) {
    cpu[c.name] = {{"pid", c.pid},
                   {"seconds", c.seconds < 0 ? nlohmann::json() : nlohmann::json(round3(c.seconds))},
                   {"per_1k_bets", c.per_1k_bets < 0 ? nlohmann::json() : nlohmann::json(round3(c.per_1k_bets))}};
  }
  j["cpu"] = cpu;
  return j.dump();
}

std::string report_table(const BenchReport& r) {
  const auto& h = r.stats.ok_latency_us;
  std::string out;
  auto line = [&out](std::string_view label, const std::string& value) {
    out += fmt::format("{:<13}{}\n", label, value);
  };
  std::string targets;
  for (const auto& t : r.targets) targets += (targets.empty() ? "" : ", ") + t;
  line("run", fmt::format("{}  targets {}", r.run_id, targets));
  line("load",
       fmt::format("{} connections on {} thread(s), {} accounts, {} markets, {:.0f}% multiples",
                   r.connections, r.threads, r.accounts, r.markets, r.multiple_ratio * 100));
  line("setup", fmt::format("{} writes in {:.1f} s", r.setup_writes, r.setup_s));
  line("window", fmt::format("{:.1f} s measured after {:.1f} s warmup", r.duration_s, r.warmup_s));
  line("throughput", fmt::format("{:.1f} bets/s", r.bets_per_s()));
  line("requests", fmt::format("{} (ok {})", r.stats.requests, r.stats.ok));
  line("latency ms", fmt::format("p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  p99.9 {:.3f}  max {:.3f}",
                                 ms(h.percentile(50)), ms(h.percentile(90)), ms(h.percentile(99)),
                                 ms(h.percentile(99.9)), ms(h.max())));
  // The stages in the order a write passes them, then any others.
  bool first_stage = true;
  auto stage_line = [&](const std::string& stage, const StageFigures& f) {
    line(first_stage ? "stages ms" : "", fmt::format("{:<18} mean {:8.3f}  p50 {:8.3f}  p99 {:8.3f}  ({} samples)",
                                                    stage, f.mean_ms, f.p50_ms, f.p99_ms, f.count));
    first_stage = false;
  };
  for (const char* stage : kStages) {
    if (auto it = r.stages.find(stage); it != r.stages.end()) stage_line(it->first, it->second);
  }
  for (const auto& [stage, f] : r.stages) {
    if (std::find(std::begin(kStages), std::end(kStages), stage) == std::end(kStages)) stage_line(stage, f);
  }
  bool first_cpu = true;
  double total = 0;
  for (const CpuFigures& c : r.cpu) {
    const std::string figure = c.seconds < 0 ? "not measured (the process ended?)"
                                             : fmt::format("{:7.2f} s  {:7.3f} s per 1,000 bets", c.seconds,
                                                           std::max(0.0, c.per_1k_bets));
    line(first_cpu ? "cpu" : "", fmt::format("{:<18} {}", fmt::format("{} ({})", c.name, c.pid), figure));
    first_cpu = false;
    if (c.per_1k_bets > 0) total += c.per_1k_bets;
  }
  if (r.cpu.size() > 1) line("", fmt::format("{:<18} {:7.3f} s per 1,000 bets", "all", total));
  std::string status;
  for (const auto& [k, v] : r.stats.by_status)
    status += fmt::format("{}{}: {}", status.empty() ? "" : "  ", k, v);
  line("status", status.empty() ? "-" : status);
  if (r.stats.errors.empty()) {
    line("errors", "none");
  } else {
    bool first = true;
    for (const auto& [k, v] : r.stats.errors) {
      line(first ? "errors" : "", fmt::format("{}: {}", k, v));
      first = false;
    }
  }
  return out;
}

}  // namespace betcore::tools
