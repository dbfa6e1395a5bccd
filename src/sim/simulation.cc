// One seed's run: the world, the nodes, the clients and the nemesis put
// together, the loop that drives them until the run has settled, and the
// checks at the end (simulation.h).
#include "sim/simulation.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "log/file/posix_file.h"
#include "sim/clients.h"
#include "sim/final_check.h"
#include "sim/nemesis.h"
#include "sim/nodes.h"
#include "sim/run_context.h"

namespace betcore::sim {
namespace fs = std::filesystem;

const char* topology_name(Topology t) {
  switch (t) {
    case Topology::cluster:
      return "cluster";
    case Topology::embedded:
      return "embedded";
    case Topology::automatic:
      return "automatic";
  }
  return "automatic";
}

namespace {

constexpr int64_t kDrainLimitMs = 120'000;  // healed runs must converge within this
constexpr int64_t kDrainCheckEveryMs = 50;

class Simulation {
 public:
  explicit Simulation(const SimConfig& config)
      : run_(config),
        nodes_(run_),
        clients_(run_, nodes_),
        nemesis_(run_, nodes_, [this] { return clients_.workload_done(); }) {
    nodes_.set_answer_sink([this](uint64_t attempt, Answer a) { clients_.answer(attempt, a); });
  }

  SimReport run();

 private:
  bool start();
  void drive();
  bool drain_step(std::string& why);

  RunContext run_;
  Nodes nodes_;
  Clients clients_;
  Nemesis nemesis_;
};

// Every node on an empty disk, then the background work, the nemesis and the
// clients: scheduled in this order, which every seed's trace depends on.
bool Simulation::start() {
  nodes_.build();
  log::file::set_disk_faults(&nodes_.disk());
  for (const auto& n : nodes_.all()) {
    std::string error = nodes_.start(*n);
    if (!error.empty()) {
      run_.report.failures.push_back(n->id + " cannot start on an empty disk: " + error);
      return false;
    }
    nodes_.schedule_tick(*n);
  }
  run_.world.after(0, [this] { nodes_.maintain(); });
  nemesis_.start();
  clients_.start();
  return true;
}

// Runs events until the healed run has settled, or it fails.
void Simulation::drive() {
  std::string why;
  int64_t next_check = 0;
  while (run_.world.step()) {
    if (!nemesis_.healed() && clients_.workload_done()) nemesis_.heal();
    if (nemesis_.healed() && run_.world.now() >= next_check) {
      next_check = run_.world.now() + kDrainCheckEveryMs;
      if (drain_step(why)) break;
    }
    if (run_.report.failures.size() >= kFailuresMax) break;
  }
}

// True when the run is over: settled, or not within the limit.
bool Simulation::drain_step(std::string& why) {
  // A node left down by a failed restart comes back once healed.
  nodes_.revive_long_down();
  if (clients_.all_answered(why) && nodes_.drained(why)) return true;
  if (run_.world.now() - nemesis_.healed_at() > kDrainLimitMs) {
    run_.report.failures.push_back("the run did not settle within " +
                                   std::to_string(kDrainLimitMs / 1000) +
                                   " s of simulated time after every fault healed: " + why);
    return true;
  }
  return false;
}

SimReport Simulation::run() {
  if (!start()) {
    log::file::set_disk_faults(nullptr);
    return run_.report;
  }
  drive();
  nodes_.finish();
  SimReport& report = run_.report;
  report.events = run_.world.events();
  report.sim_ms = static_cast<uint64_t>(run_.world.elapsed());
  if (report.failures.empty()) check_run(run_, nodes_, clients_.ops());
  report.trace_hash = run_.world.trace_hash();
  report.passed = report.failures.empty();
  // Drop the nodes before the disk seam goes.
  nodes_.shut_down();
  log::file::set_disk_faults(nullptr);
  return report;
}

}  // namespace

SimReport run_seed(const SimConfig& config) {
  SimConfig c = config;
  std::error_code ec;
  fs::remove_all(c.dir, ec);
  fs::create_directories(c.dir, ec);
  auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);  // thousands of faults: the report tells
  SimReport r;
  {
    Simulation sim(c);
    r = sim.run();
  }
  spdlog::set_level(level);
  if (r.passed && !c.keep_files) fs::remove_all(c.dir, ec);
  return r;
}

}  // namespace betcore::sim
