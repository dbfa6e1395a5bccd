// The guard's exhaustion predictions (guard.h): the data disk, the submit
// queue and etcd's quota, each from its trend, warned about while there is
// time to act.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>

#include "node/guard.h"
#include "node/guard_internal.h"

namespace betcore::node {

void Guard::predict(const GuardSample& s) {
  // Exhaustion.
  const double t = static_cast<double>(s.at_ms) / 1000.0;
  if (std::isfinite(s.disk_free_bytes)) {
    disk_trend_.add(t, s.disk_free_bytes);
    // Five minutes of data at least (by default): a build or a backup
    // writes in bursts.
    const auto left = disk_trend_.span() >= o_.disk_trend_min_s ? disk_trend_.time_to(0) : std::nullopt;
    exhaustion("disk_free", left.value_or(INFINITY), o_.exhaustion_warn_s, s.disk_free_bytes,
               s.at_ms,
               "The data disk fills at this rate: free space (old snapshots, logs of other "
               "programs), or move the data directory to a bigger disk; the node stops taking "
               "writes when it is full.",
               "docs/runbooks/disk-full.md");
  }
  if (std::isfinite(s.etcd_db_bytes) && std::isfinite(s.etcd_quota_bytes)) {
    etcd_trend_.add(t, s.etcd_db_bytes);
    const auto left = etcd_trend_.span() >= o_.disk_trend_min_s ? etcd_trend_.time_to(s.etcd_quota_bytes)
                                                                : std::nullopt;
    etcd_quota_ = s.etcd_quota_bytes;
    exhaustion("etcd_quota", left.value_or(INFINITY), o_.exhaustion_warn_s, s.etcd_db_bytes, s.at_ms,
               "etcd's database grows toward its quota; at the quota etcd refuses every write "
               "(betcore stops taking bets). Check that the log is compacted (an archiver's hold "
               "keeps it), defragment the members (etcdctl defrag, one at a time), or raise "
               "--quota-backend-bytes on every member.",
               "docs/runbooks/disk-full.md");
  }
  const double limit =
      static_cast<double>(tightened_to_ != 0 ? tightened_to_ : actuator_.queue_limit_configured());
  queue_trend_.add(t, s.queued);
  // Only a queue already a quarter full and rising: an emptying burst's
  // fitted line says nothing about the next 30 s.
  const auto queue_left = queue_trend_.span() >= 5 && s.queued >= limit / 4
                              ? queue_trend_.time_to(limit)
                              : std::nullopt;
  // The queue fills in seconds, not hours: warn when it is 30 s away.
  exhaustion("submit_queue", queue_left.value_or(INFINITY), 30, s.queued, s.at_ms,
             "Writes arrive faster than this node commits them: it will answer 429 overloaded. "
             "Spread the load (HAProxy), look at the append latency.",
             "docs/runbooks/slo-burn.md#betcoreoverloaded");
}

void Guard::exhaustion(const std::string& name, double seconds_left, double warn_s, double value,
                       int64_t at_ms, const std::string& recommendation,
                       const std::string& runbook) {
  Signal& sig = signal(name);
  const bool warn = seconds_left < warn_s;
  if (warn && sig.incident_id.empty()) {
    Incident i;
    i.signal = name;
    i.kind = "exhaustion";
    i.severity = seconds_left < warn_s / 4 ? "critical" : "warning";
    i.started_ms = at_ms;
    i.value = i.worst = value;
    i.seen =
        name == "disk_free"
            ? fmt::format(
                  "{} data disk: {:.1f} GiB free, full in about {:.0f} min at the last "
                  "{:.0f} min's rate",
                  node_id_, value / (1 << 30), seconds_left / 60, disk_trend_.span() / 60)
        : name == "etcd_quota"
            ? fmt::format("etcd database: {:.1f} MiB of its {:.1f} MiB quota, at the quota in about "
                          "{:.0f} min at the last {:.0f} min's rate",
                          value / (1 << 20), etcd_quota_ / (1 << 20), seconds_left / 60,
                          etcd_trend_.span() / 60)
            : fmt::format("{} submit queue: {:.0f} of {} queued and rising: full in about {:.0f} s",
                          node_id_, value,
                          tightened_to_ != 0 ? tightened_to_ : actuator_.queue_limit_configured(),
                          seconds_left);
    i.recommendation = recommendation;
    i.runbook = runbook;
    i.timeline.push_back({at_ms, "predicted: " + i.seen});
    spdlog::warn("guard: exhaustion predicted: {} (runbook {})", i.seen, runbook);
    raised_total_->inc();
    actions_["recommend"]->inc();
    file_incident(sig, i);
    if (name == "disk_free") free_disk(sig, at_ms);
    return;
  }
  if (!sig.incident_id.empty()) {
    {
      std::lock_guard lock(mu_);
      if (Incident* i = incident_of(sig); i != nullptr && i->series.size() < kSeriesMax) {
        i->series.emplace_back(at_ms, value);
      }
    }
    if (seconds_left > 2 * warn_s) {
      sig.last = value;
      close_incident(sig, at_ms);
    }
  }
}

}  // namespace betcore::node
