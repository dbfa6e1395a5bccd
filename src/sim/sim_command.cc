#include "sim/sim_command.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>
#include <map>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "sim/simulation.h"

namespace betcore::sim {
namespace {

struct SimOptions {
  uint64_t seed = 0;         // one seed (0: none)
  uint64_t first_seed = 1;
  uint64_t seeds = 20;
  double minutes = 0;        // > 0: stop starting seeds after this long
  uint64_t ops = 3'000;
  std::string topology = "auto";
  std::string dir;
  bool verbose = false;
  bool keep_files = false;
  std::string seed_list;     // a file of seeds, one per line ('#' starts a comment)
  std::string sabotage;      // checker tests only (SimConfig::sabotage)
};

// An always-on assertion (or a sanitizer) aborts the process: say which
// seed was running, from the handler (write(2) of pre-formatted text only).
char g_replay_line[512];

extern "C" void on_fatal_signal(int sig) {
  ssize_t ignored = ::write(2, g_replay_line, std::strlen(g_replay_line));
  (void)ignored;
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

std::string replay_command(uint64_t seed, const SimOptions& o) {
  return fmt::format("betcore sim --seed {} --ops {}{} --verbose", seed, o.ops,
                     o.topology == "auto" ? "" : " --topology " + o.topology);
}

std::string default_dir() {
  // tmpfs when there is one: the nodes fsync a lot, and the disk is simulated.
  std::error_code ec;
  std::string base = std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp";
  return base + "/betcore-sim-" + std::to_string(::getpid());
}

// The nodes' files go into a directory of the run's own making (inside
// --dir when given): removing it after a pass never touches anything else.
// "" after saying why it cannot be made.
std::string work_dir(const SimOptions& o) {
  if (o.dir.empty()) return default_dir();
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  std::string pattern = (std::filesystem::path(o.dir) / "betcore-sim-XXXXXX").string();
  if (ec || ::mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "betcore sim: cannot make a directory in --dir %s: %s\n", o.dir.c_str(),
                 ec ? ec.message().c_str() : std::strerror(errno));
    return "";
  }
  return pattern;
}

std::string thousands(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

// The seeds to run: from --seed-list, --seed, or --first-seed and --seeds.
// Empty after telling the user what is wrong.
std::vector<uint64_t> seeds_to_run(const SimOptions& o) {
  std::vector<uint64_t> seeds;
  if (!o.seed_list.empty()) {
    std::ifstream in(o.seed_list);
    if (!in) {
      std::fprintf(stderr, "betcore sim: cannot read the seed list %s\n", o.seed_list.c_str());
      return {};
    }
    std::string line;
    while (std::getline(in, line)) {
      line = line.substr(0, line.find('#'));
      std::istringstream words(line);
      uint64_t s = 0;
      if (words >> s) seeds.push_back(s);
    }
    if (seeds.empty()) std::fprintf(stderr, "betcore sim: no seed in %s\n", o.seed_list.c_str());
  } else if (o.seed != 0) {
    seeds.push_back(o.seed);
  } else {
    for (uint64_t s = o.first_seed; s < o.first_seed + o.seeds; ++s) seeds.push_back(s);
  }
  return seeds;
}

// What every seed of a run adds up to.
struct Totals {
  uint64_t passed = 0, failed = 0, run_count = 0, ops = 0, acked = 0, reads = 0, sim_ms = 0, entries = 0;
  std::map<std::string, uint64_t> faults, errors, topologies, feed;
  uint64_t failed_seed = 0;

  void add(const SimReport& r) {
    ++run_count;
    ++topologies[r.topology];
    ops += r.ops;
    acked += r.writes_acknowledged;
    reads += r.reads_checked;
    sim_ms += r.sim_ms;
    entries += r.log_entries;
    for (const auto& [k, v] : r.faults) faults[k] += v;
    for (const auto& [k, v] : r.client_errors) errors[k] += v;
    for (const auto& [k, v] : r.feed) feed[k] = k.ends_with("_max") ? std::max(feed[k], v) : feed[k] + v;
  }
};

// The run's summary: seeds, operations, faults by kind, what the nodes did.
void print_summary(const Totals& t, double wall_s) {
  // What the system did about the faults is counted apart from the faults.
  const std::set<std::string> observed = {"bootstrap", "corruption_detected", "snapshot_set_aside", "crash_mid_io",
                                         "operator_truncated_tail"};
  uint64_t fault_total = 0;
  for (const auto& [k, v] : t.faults) fault_total += observed.count(k) ? 0 : v;
  std::printf("\nbetcore sim: %llu seed(s) run, %llu passed, %llu failed, in %.1f s\n",
              static_cast<unsigned long long>(t.run_count), static_cast<unsigned long long>(t.passed),
              static_cast<unsigned long long>(t.failed), wall_s);
  std::string topo;
  for (const auto& [k, v] : t.topologies) topo += (topo.empty() ? "" : ", ") + k + " " + thousands(v);
  std::printf("  topologies:       %s\n", topo.c_str());
  std::printf("  client operations %s (%s writes acknowledged, %s linearizable reads checked)\n",
              thousands(t.ops).c_str(), thousands(t.acked).c_str(), thousands(t.reads).c_str());
  std::printf("  log entries       %s checked against the model\n", thousands(t.entries).c_str());
  std::printf("  simulated time    %.1f min\n", static_cast<double>(t.sim_ms) / 60'000);
  std::printf("  faults injected   %s: %.0f per minute of running the simulation, %.0f per simulated minute\n",
              thousands(fault_total).c_str(), wall_s > 0 ? static_cast<double>(fault_total) / (wall_s / 60) : 0.0,
              t.sim_ms > 0 ? static_cast<double>(fault_total) / (static_cast<double>(t.sim_ms) / 60'000) : 0.0);
  for (const auto& [k, v] : t.faults) {
    if (!observed.count(k)) std::printf("    %-26s %s\n", k.c_str(), thousands(v).c_str());
  }
  std::printf("  what the nodes did about them:\n");
  for (const auto& [k, v] : t.faults) {
    if (observed.count(k)) std::printf("    %-26s %s\n", k.c_str(), thousands(v).c_str());
  }
  std::printf("  indefinite answers clients retried:\n");
  for (const auto& [k, v] : t.errors) std::printf("    %-26s %s\n", k.c_str(), thousands(v).c_str());
  std::printf("  the odds feed (in the log; alive_late_ms_max: docs/simulation.md, findings):\n");
  for (const auto& [k, v] : t.feed) std::printf("    %-26s %s\n", k.c_str(), thousands(v).c_str());
}

int run(const SimOptions& o) {
  Topology topology = Topology::automatic;
  if (o.topology == "cluster") topology = Topology::cluster;
  else if (o.topology == "embedded") topology = Topology::embedded;
  else if (o.topology != "auto") {
    std::fprintf(stderr, "betcore sim: --topology must be auto, cluster or embedded\n");
    return 2;
  }
  const std::vector<uint64_t> seeds = seeds_to_run(o);
  if (seeds.empty()) return 2;
  const std::string dir = work_dir(o);
  if (dir.empty()) return 2;
  ::signal(SIGABRT, on_fatal_signal);
  ::signal(SIGSEGV, on_fatal_signal);

  auto t0 = std::chrono::steady_clock::now();
  auto last_progress = t0;
  Totals t;
  for (uint64_t seed : seeds) {
    double elapsed_min = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 60;
    if (o.minutes > 0 && elapsed_min >= o.minutes) break;
    std::snprintf(g_replay_line, sizeof g_replay_line,
                  "\n*** betcore sim: seed %llu aborted (an invariant assertion or a crash).\n"
                  "*** Replay it alone with:\n***   %s\n",
                  static_cast<unsigned long long>(seed), replay_command(seed, o).c_str());
    SimConfig c;
    c.seed = seed;
    c.topology = topology;
    c.ops = o.ops;
    c.dir = dir + "/seed-" + std::to_string(seed);
    c.verbose = o.verbose;
    c.keep_files = o.keep_files;
    c.sabotage = o.sabotage;
    SimReport r = run_seed(c);
    t.add(r);
    if (o.verbose || !r.passed) {
      for (const std::string& line : r.timeline) std::printf("  %s\n", line.c_str());
      std::printf("seed %llu (%s): %s; %s ops, %s faults, %s log entries, %.1f s simulated, %s events, trace %016llx\n",
                  static_cast<unsigned long long>(seed), r.topology.c_str(), r.passed ? "passed" : "FAILED",
                  thousands(r.ops).c_str(), thousands(r.faults_total()).c_str(), thousands(r.log_entries).c_str(),
                  static_cast<double>(r.sim_ms) / 1000, thousands(r.events).c_str(),
                  static_cast<unsigned long long>(r.trace_hash));
    }
    if (r.passed) {
      ++t.passed;
    } else {
      ++t.failed;
      t.failed_seed = seed;
      for (const std::string& f : r.failures) std::printf("  violated: %s\n", f.c_str());
      std::printf("  files kept in %s\n  replay: %s\n", c.dir.c_str(), replay_command(seed, o).c_str());
      std::fflush(stdout);
      break;  // the first failing seed is the one to look at
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_progress >= std::chrono::seconds(10)) {
      last_progress = now;
      std::fprintf(stderr, "sim: %llu seeds passed so far (up to seed %llu), %.0f s\n",
                   static_cast<unsigned long long>(t.passed), static_cast<unsigned long long>(seed),
                   std::chrono::duration<double>(now - t0).count());
    }
  }
  double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  print_summary(t, wall_s);
  if (t.failed > 0) {
    std::printf("\nFAILED: seed %llu broke an invariant (above). Replay it with:\n  %s\n",
                static_cast<unsigned long long>(t.failed_seed), replay_command(t.failed_seed, o).c_str());
    return 1;
  }
  std::error_code ec;
  if (!o.keep_files) std::filesystem::remove_all(dir, ec);
  return 0;
}

}  // namespace

void add_sim_command(CLI::App& root) {
  auto o = std::make_shared<SimOptions>();
  CLI::App* cmd = root.add_subcommand(
      "sim", "Deterministic simulation: nodes, log, disk and network simulated, faults injected, "
             "every invariant checked; one seed = one run");
  cmd->add_option("--seed", o->seed, "Run this one seed (a replay)");
  cmd->add_option("--first-seed", o->first_seed, "First seed of the range")->capture_default_str();
  cmd->add_option("--seeds", o->seeds, "How many seeds to run")->capture_default_str();
  cmd->add_option("--minutes", o->minutes, "Start no new seed after this many minutes (a night run)");
  cmd->add_option("--ops", o->ops, "Client operations per seed")->capture_default_str();
  cmd->add_option("--topology", o->topology, "auto (from the seed), cluster or embedded")
      ->capture_default_str();
  cmd->add_option("--dir", o->dir, "Scratch directory for the nodes' files (default: under /dev/shm)");
  cmd->add_flag("--verbose", o->verbose, "Print each seed's timeline of faults");
  cmd->add_flag("--keep-files", o->keep_files, "Keep the nodes' files of passing seeds");
  cmd->add_option("--seed-list", o->seed_list,
                  "Run the seeds listed in this file (one per line, '#' comments): regression seeds");
  cmd->add_option("--sabotage", o->sabotage,
                  "Plant a bug the checker must catch: stale_reads, skip_entry or ack_unknown "
                  "(tests of the checker)")
      ->check(CLI::IsMember({"stale_reads", "skip_entry", "ack_unknown"}));
  cmd->callback([o] { std::exit(run(*o)); });
}

}  // namespace betcore::sim
