// `betcore sim`: several nodes' real code (state machine, submitter, applier,
// snapshot store, file log, bootstrap) in one process, on simulated time, a
// simulated log and network, and real files under a simulated disk, driven
// by one seed. Clients run a bet/deposit/withdrawal/settlement workload and
// retry; a nemesis injects faults; a checker holds the run against the
// invariants of docs/guarantees.md and a sequential model of the API.
// docs/simulation.md tells how to read a failure and replay it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace betcore::sim {

enum class Topology { automatic, cluster, embedded };

struct SimConfig {
  uint64_t seed = 1;
  Topology topology = Topology::automatic;  // automatic: drawn from the seed
  uint64_t ops = 3'000;                     // client operations in the run
  std::string dir;                          // scratch space for the nodes' files
  bool verbose = false;                     // print the timeline of faults
  bool keep_files = false;                  // keep the nodes' files after a pass
  // Tests of the checker itself: a bug planted on purpose, which the run
  // must catch. "stale_reads" (reads do not wait for the log head),
  // "skip_entry" (one node misses one log entry), "ack_unknown" (an
  // append of unknown outcome answered as accepted).
  std::string sabotage;
};

struct SimReport {
  uint64_t seed = 0;
  std::string topology;
  bool passed = false;
  std::vector<std::string> failures;     // each an invariant that broke, with evidence
  std::vector<std::string> timeline;     // faults and recoveries, in order (verbose)
  // Injected, by kind; also what the nodes did about them (bootstrap,
  // corruption_detected, snapshot_set_aside, crash_mid_io).
  std::map<std::string, uint64_t> faults;
  std::map<std::string, uint64_t> client_errors; // indefinite answers seen, by kind
  // The odds feed: what the log did (the model's counts, model.h FeedCounts),
  // and alive_late_ms_max: the longest an alive the client sent at t was
  // applied (ok) by an attempt sent at t + that (docs/simulation.md, findings).
  std::map<std::string, uint64_t> feed;
  uint64_t ops = 0, writes_acknowledged = 0, reads_checked = 0, log_entries = 0;
  uint64_t events = 0, sim_ms = 0, trace_hash = 0;
  uint64_t faults_total() const {
    uint64_t n = 0;
    for (const auto& [k, v] : faults) n += v;
    return n;
  }
};

SimReport run_seed(const SimConfig& config);

const char* topology_name(Topology t);

}  // namespace betcore::sim
