// The guard: each node watches its own key signals, learns their normal
// shape (ops/anomaly.h), raises an anomaly when one leaves its band for long
// enough, predicts exhaustion from trends, and takes the first safe action
// itself, telling people what it did (docs/monitoring.md, "The guard").
//
// Signals, sampled every `sample_ms`:
//   bet_rate          accepted bets per second (EWMA band; Holt-Winters on
//                     per-minute rates for the daily shape once it has two
//                     days of them)
//   refusal_ratio     refused / all bet requests, and for each refusal
//                     code (refusal_ratio:odds_changed, ...)
//   append_latency    mean log append (write + fsync, or etcd commit) per sample
//   apply_lag         log head minus applied, in positions
//   etcd_round_trip   mean quorum read of the head (cluster)
//   disk_free         free bytes on the data directory's file system: trend
//   submit_queue      queued commands against the admission bound: trend
//   etcd_quota        the etcd database against its quota (cluster): trend
//
// Actions, each rate-limited (`action_gap_ms`), reversible, recorded, and
// "recommend only" when `remediate` is false:
//   admission   a bet surge with the queue wait past the latency SLO: the
//               submit queue bound drops to what the node commits within the
//               SLO (rate x SLO); relaxed when the surge ends.
//   rotation    a cluster node whose append latency is far out of band (and
//               with most of its peers ready to take its traffic): its
//               HAProxy agent check says "drain"; back in when its
//               round trip to etcd is in band again (or after
//               `rotation_hold_max_ms`, to try again).
//   disk        a full data disk predicted: only the newest snapshot is
//               kept and the log below it compacted (guard_disk.cc); not
//               undone (the next snapshots bring the usual number back).
//   leadership  the log slow and an etcd member far slower than the fastest
//               (its WAL fsync, or its Status round trip): this node stops
//               using it (its calls and its watch go to another member);
//               and if it leads, the leadership moves to the fastest voting
//               follower (etcd's MoveLeader; guard_leadership.cc).
// Exhaustion (disk, queue) is warned about while there is time, with what a
// person should do. A feed producer gone silent opens an incident too: the
// state machine has already stopped its markets taking bets (the first
// action, deterministic, on every replica); the incident says so, and what
// a person must do, and closes when the producer is back.
//
// Every anomaly opens an incident: a timeline (what was seen, since when,
// the expected range, what was done, what it changed, what a person must
// still do, the runbook), served by GET /v1/incidents and appended to
// DATA/incidents.jsonl when it closes.
//
// Thread: step() on one thread (the guard's own, or a test's); incidents()
// from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ops/anomaly.h"
#include "ops/metrics.h"

namespace betcore::node {

struct GuardOptions {
  int sample_ms = 1'000;
  bool remediate = true;  // false: recommend only
  // Take a slow cluster node out of the load balancer, through HAProxy's
  // agent check (haproxy_agent.h: no new requests, those in flight finish).
  bool drain = true;
  // ... also without an agent, by answering /health/ready 503: HAProxy then
  // marks it down and the shipped configuration closes its sessions.
  bool drain_by_readiness = false;
  size_t queue_floor = 1'024;  // admission never below this (a feed batch is 256)
  int rotations_per_hour_max = 3;
  int leader_moves_per_hour_max = 3;
  double bet_latency_slo_s = 0.1;         // docs/runbooks/slo-burn.md
  size_t raise_after_samples = 3;         // out of band this many in a row
  size_t clear_after_samples = 10;        // in band this many in a row
  size_t warmup_samples = 30;             // before any band
  int64_t action_gap_ms = 10'000;         // between two actions of one kind
  int64_t rotation_hold_min_ms = 30'000;  // out of rotation at least this long (no flapping: the
                                          // node's own latency is not measured while it is out)
  int64_t rotation_hold_max_ms = 60'000;  // out of rotation at most this long at a time
  double far_factor = 4;                  // "far out of band": this many times the expected
  double far_floor_s = 0.02;              // ... and at least this slow
  double exhaustion_warn_s = 3'600;       // warn when a resource runs out sooner
  double disk_trend_min_s = 300;          // free-space samples this long before a prediction
  size_t incidents_max = 200;             // kept in memory (newest)
  std::string incidents_path;             // closed incidents, one JSON per line; "" none
  std::string reports_dir;                // <id>.html and <id>.json per incident; "" none
};

// One sample of the node's signals. Totals are cumulative (the guard takes
// differences); NaN: not available (e.g. etcd in the embedded mode).
struct GuardSample {
  int64_t at_ms = 0;  // wall clock
  double bets_accepted_total = 0;
  double bets_refused_total = 0;
  std::vector<std::pair<std::string, double>> bets_refused_by_reason;  // cumulative, by refusal code
  double commands_applied_total = 0;
  double commands_appended_total = 0;  // by this node (its own commit rate)
  double append_count = 0;
  double append_sum_s = 0;
  double head = 0;
  double applied = 0;
  double etcd_round_trip_count = 0;
  double etcd_round_trip_sum_s = 0;
  double disk_free_bytes = 0;
  double disk_size_bytes = 0;
  double queued = 0;
  // Odds feed producers whose alive deadline has passed (their markets take
  // no bets), by name (NaN count: not read this sample).
  double producers_down = std::numeric_limits<double>::quiet_NaN();
  std::string producers_down_names;  // "p1, p2" (at most a few)
  double markets_of_down = 0;        // open markets they price
  // The largest etcd member's database and etcd's quota (NaN: not read).
  double etcd_db_bytes = std::numeric_limits<double>::quiet_NaN();
  double etcd_quota_bytes = std::numeric_limits<double>::quiet_NaN();
};

// One etcd member as the guard sees it when the log is slow.
struct EtcdMemberSpeed {
  uint64_t id = 0;
  std::string name;
  std::string endpoint;  // its client URL's host:port
  bool leader = false;
  bool usable = false;  // a healthy voting member
  double status_s = std::numeric_limits<double>::quiet_NaN();  // its Status round trip
  // Its mean WAL fsync since the previous look (from its /metrics; NaN: not
  // known yet).
  double fsync_s = std::numeric_limits<double>::quiet_NaN();
  // How long this node's own process stalled while it probed (the same for
  // every member of one look): a stall lands on the Status times of the
  // members it caught, so the guard does not trust them then.
  double prober_stall_s = 0;
  // The slower of the two known.
  double slowness() const {
    if (std::isnan(fsync_s)) return status_s;
    if (std::isnan(status_s)) return fsync_s;
    return std::max(status_s, fsync_s);
  }
};

// What the guard may do to its node.
class GuardActuator {
 public:
  virtual ~GuardActuator() = default;
  virtual size_t queue_limit_configured() const = 0;
  virtual void set_queue_limit(size_t limit) = 0;
  // Non-empty: /health/ready answers 503 with this reason.
  virtual void set_out_of_rotation(const std::string& reason) = 0;
  // An HAProxy agent check answers for this node: a drain lets requests in
  // flight finish.
  virtual bool drains_gently() const { return false; }
  // True when this node is in a cluster, most of its peers are ready, and
  // their own recent append latency is well under `mine_s`: the slowness is
  // this node's, not the cluster's (draining it then helps; draining it in a
  // slow cluster only moves its load onto the others).
  // Only peers whose records were written at or after `since_ms` (wall
  // clock) count: a slowdown of the whole cluster shows in all of them, but
  // only once they have written it.
  virtual bool peers_can_take_traffic(double mine_s, int64_t since_ms) = 0;
  // The etcd members, each with how slow it is now (empty: not a cluster, or
  // etcd did not answer).
  virtual std::vector<EtcdMemberSpeed> etcd_member_speeds() { return {}; }
  // This node stops using the member at `endpoint` for its calls and its
  // watch; false when it did not use it.
  virtual bool leave_etcd_member(const std::string& endpoint) {
    (void)endpoint;
    return false;
  }
  // Frees space on the data disk (a full one is predicted): keeps only the
  // newest snapshot and compacts the log below it. Returns the bytes freed
  // (NaN: it could not), with what it did in `done`.
  virtual double free_disk(std::string& done) {
    done = "nothing to free";
    return std::numeric_limits<double>::quiet_NaN();
  }
  // Asks the etcd leader to hand its leadership to member `to`.
  virtual bool move_etcd_leader(uint64_t to, std::string& error) {
    (void)to;
    error = "not in a cluster";
    return false;
  }
};

struct IncidentEvent {
  int64_t at_ms = 0;
  std::string what;
};

struct Incident {
  std::string id;        // "<node>-<n>"
  std::string signal;    // bet_rate, append_latency, disk_free, ...
  std::string kind;      // "anomaly" or "exhaustion"
  std::string severity;  // "warning" or "critical"
  int64_t started_ms = 0;
  int64_t ended_ms = 0;  // 0: open
  std::string seen;      // what was seen, for a person
  double value = 0;      // the value that raised it
  double expected = 0, expected_low = 0, expected_high = 0;
  double worst = 0;            // furthest value while open
  std::string action;          // what the guard did ("" none)
  std::string action_effect;   // what the action changed
  std::string recommendation;  // what a person must still do
  std::string runbook;
  std::vector<IncidentEvent> timeline;
  // value per sample while open (at most 600): the report's chart
  std::vector<std::pair<int64_t, double>> series;
};

// GET /v1/incidents's body and one line of incidents.jsonl.
std::string incident_json(const Incident& i);

class Guard {
 public:
  using Sampler = std::function<GuardSample()>;

  Guard(GuardOptions options, std::string node_id, GuardActuator& actuator, ops::Registry& metrics);
  ~Guard();

  // Samples with `sampler` every sample_ms on a thread of its own.
  void start(Sampler sampler);
  void stop();

  // One sample (the thread's step; tests call it directly).
  void step(const GuardSample& s);

  // Newest first, at most `max`.
  std::vector<Incident> incidents(size_t max = 100) const;
  size_t open_incidents() const;
  // The mean append latency of the last sample that had appends (NaN: none
  // yet). Thread-safe.
  double recent_append_latency_s() const { return recent_append_s_.load(); }

 private:
  struct Signal;
  Signal& signal(const std::string& name);
  void judge(const std::string& name, double value, int64_t at_ms);
  void open_incident(Signal& sig, double value, const ops::Verdict& v, int64_t at_ms);
  void close_incident(Signal& sig, int64_t at_ms);
  // Gives `i` its id, makes it `sig`'s open incident, keeps it, and writes
  // its report (every kind of incident opens through here).
  void file_incident(Signal& sig, Incident& i);
  Incident* incident_of(Signal& sig);
  void note(Signal& sig, int64_t at_ms, std::string what);
  // Sets the open incident's action and its effect, then notes `what`.
  void record_action(Signal& sig, int64_t at_ms, const std::string& action,
                     const std::string& effect, std::string what);
  // Opens an exhaustion incident when `seconds_left` < `warn_s`; closes it
  // when the prediction is past twice that.
  void exhaustion(const std::string& name, double seconds_left, double warn_s, double value,
                  int64_t at_ms, const std::string& recommendation, const std::string& runbook);
  void learn_daily(int64_t at_ms, double accepted);  // Holt-Winters, per minute
  void predict(const GuardSample& s);                // disk and queue exhaustion
  void feed(const GuardSample& s);                   // guard_feed.cc: silent producers
  void expire_silent(int64_t at_ms);                 // incidents with no more data
  void admission(const GuardSample& s, double commit_rate, int64_t at_ms);
  void rotation(double round_trip_s, int64_t at_ms);
  void leadership(int64_t at_ms);  // guard_leadership.cc
  bool distrust_own_stall(std::vector<EtcdMemberSpeed>& members, Signal& sig, int64_t at_ms);
  void free_disk(Signal& sig, int64_t at_ms);  // guard_disk.cc
  void persist(const Incident& i) const;
  // Rewrites the incident's report (incident_report.h) after each change.
  void report(const Incident& i) const;

  const GuardOptions o_;
  const std::string node_id_;
  GuardActuator& actuator_;

  std::optional<GuardSample> last_;                         // step() thread only
  std::map<std::string, std::unique_ptr<Signal>> signals_;  // step() thread only
  ops::Trend disk_trend_;
  ops::Trend queue_trend_;
  ops::Trend etcd_trend_;
  double etcd_quota_ = 0;  // the last quota read
  ops::EwmaBand commit_rate_;
  // Per-minute bet rate for the daily shape.
  ops::Detector<ops::HoltWinters> daily_;
  double minute_bets_ = 0;
  int64_t minute_ = 0;  // wall-clock minute being summed (at_ms / 60000)

  // Actions (step() thread only).
  size_t tightened_to_ = 0;  // 0: not tightened
  int64_t last_admission_ms_ = 0;
  int64_t out_since_ms_ = 0;  // 0: in rotation
  int64_t last_rotation_ms_ = 0;

  std::deque<int64_t> rotations_;  // times of rotations out, the last hour (step thread)
  int64_t last_leader_look_ms_ = 0;
  std::map<uint64_t, int> slow_looks_;  // etcd member -> looks in a row it was far slower (step thread)
  std::deque<int64_t> leader_moves_;  // times of leadership moves, the last hour (step thread)
  const int64_t started_s_;        // in incident ids: unique across restarts
  std::atomic<double> recent_append_s_{std::numeric_limits<double>::quiet_NaN()};
  mutable std::mutex mu_;
  std::deque<Incident> incidents_;  // guarded by mu_; newest at the back
  uint64_t next_id_ = 1;            // guarded by mu_

  ops::Counter* raised_total_;
  std::map<std::string, ops::Counter*> actions_;
  std::vector<ops::Registration> callbacks_;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;  // guarded by run_mu_
  std::thread thread_;
};

}  // namespace betcore::node
