// The drill's incident report: a timeline of faults with the time each took
// to be detected and to recover from, errors clients saw by type, what was
// lost, whether the replicas agreed; as report.json and as report.html with
// SVG charts of throughput, latency and errors over time (fault windows
// shaded).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace betcore::drill {

struct FaultRecord {
  std::string kind;            // "kill_etcd_leader", ...
  std::string target;          // "etcd-2 (leader)", "node-1"
  std::string component;       // "etcd", "node" or "feed"
  int component_index = 0;
  std::string detail;
  int64_t start_ms = 0, end_ms = 0;  // since the drill started
  // Feed faults set both in their heal (faults_feed.cc): the feed's markets
  // shut, and took bets again.
  int64_t detect_ms = -1;      // after start: first health sample showing it (-1: not seen)
  int64_t recover_ms = -1;     // after start: first write sent after it and acknowledged
  int64_t stall_ms = -1;       // the longest time without any acknowledged write, from start to 2 s after the end
  std::vector<std::string> problems;    // what went wrong injecting or healing it
  std::vector<std::string> violations;  // invariants it broke: each a failure of the run
};

// One client operation, as the report needs it.
struct OpPoint {
  int64_t sent_ms = 0, answered_ms = 0;
  bool answered = false;
  bool read = false;
  bool acknowledged = false;   // a write answered 2xx
  std::vector<std::pair<int64_t, std::string>> errors;  // indefinite answers: (when, "503 unavailable")
};

struct HealthPoint {
  int64_t at_ms;
  std::vector<bool> node_ready, etcd_healthy;
};

struct SecondStats {
  int64_t second = 0;
  uint64_t acknowledged = 0, rejected = 0, reads = 0, errors = 0;
  double p50_ms = 0, p99_ms = 0;
};

// `betcore drill --scenario site-loss`: the whole site lost under load and a
// new cluster restored from the continuous archive (site_loss.h).
struct SiteLossRecord {
  bool ran = false;
  int64_t lost_at_ms = 0;              // since the drill started
  uint64_t log_head_at_loss = 0;       // the last position the drill's recorder held
  uint64_t archived_at_loss = 0;       // the archiver's last reported position before the loss
  uint64_t restored_position = 0;
  std::string digest;                  // of the restored state, as `betcore restore` proved it
  bool digest_checked = false;
  std::string proof;
  uint64_t commands_restored = 0;      // commands in the restored state
  double restore_s = 0;                // `betcore restore --etcd`, wall
  int64_t serving_after_ms = -1;       // loss -> every node ready on the restored state
  int64_t new_cluster_from_ms = 0;     // the restore done, the first node starting: later answers are the new cluster's
  int64_t first_ack_after_ms = -1;     // loss -> the first write the new cluster acknowledged
  uint64_t acked_kept = 0;             // writes the old cluster acknowledged, restored
  uint64_t acked_lost = 0;             // the old cluster acknowledged them after the restored position
  int64_t rpo_ms = 0;                  // the oldest of those: acknowledged this long before the loss (0: none)
};

// `betcore drill --scenario detection`: a fault only the guard's detection
// catches (nothing goes down), what the guard saw and did (detection.h).
struct GuardedFault {
  std::string kind;    // slow_disk, slow_etcd_member, bet_surge
  std::string target;  // "etcd-2 (leader)", "the punters"
  std::string detail;
  int64_t start_ms = 0, end_ms = 0;  // since the drill started
  int64_t detected_after_ms = -1;    // the first incident the guard opened
  std::string detected_by;           // "node-1: append_latency (200.0 ms, usual 5.0 ms..)"
  int64_t remediated_after_ms = -1;  // the guard's first action
  std::string action;                // what it did ("" none)
  bool action_needed = true;         // false: a fault the guard may rightly leave alone
  // Acknowledged bets' latency (sent to answered, retries included), p99:
  // before the fault, while it lasted before the action, after the action
  // (from 2 s after it to the heal). -1: no bets.
  double p99_before_ms = -1, p99_fault_ms = -1, p99_after_ms = -1;
  // Acknowledged bets per second (by when sent) in the same windows.
  double bets_per_s_before = -1, bets_per_s_fault = -1;
  uint64_t bets_refused_overloaded = 0;  // 429 answers while it lasted (retried)
};

struct DrillReport {
  uint64_t seed = 0;
  double wall_s = 0;
  int64_t load_started_ms = 0, faults_ended_ms = 0, load_stopped_ms = 0;
  std::vector<FaultRecord> faults;
  std::vector<std::string> failures;
  uint64_t log_entries = 0, log_commands = 0, writes_checked = 0, reads_checked = 0;
  uint64_t writes_acknowledged = 0, writes_rejected = 0, reads = 0, acknowledged_lost = 0;
  bool replicas_agree = true;
  std::map<std::string, uint64_t> client_errors;
  std::vector<SecondStats> seconds;
  SiteLossRecord site_loss;
  std::vector<GuardedFault> guarded;  // the detection scenario
  double bet_latency_slo_ms = 100;    // docs/runbooks/slo-burn.md
};

// Fills the derived parts: per-second series, errors by type, each fault's
// detection (from the health samples) and recovery (from the operations).
void fill_report(DrillReport& r, const std::vector<OpPoint>& ops, const std::vector<HealthPoint>& health);

// report.json and report.html in `dir`.
void write_report(const std::filesystem::path& dir, const DrillReport& r);

// A short text summary on stdout.
void print_summary(const DrillReport& r, const std::filesystem::path& dir);

}  // namespace betcore::drill
