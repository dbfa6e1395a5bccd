// The guard's leadership action (guard.h): when the log is slow and an etcd
// member is far slower than the others, this node stops using it, and if it
// leads, the leadership moves to the fastest voting follower.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "node/guard.h"
#include "node/guard_internal.h"

namespace betcore::node {
namespace {

std::string describe(const EtcdMemberSpeed& m) {
  return fmt::format("{} (WAL fsync {}, Status {})", m.name, show(m.fsync_s, "s"), show(m.status_s, "s"));
}

std::string describe_all(const std::vector<EtcdMemberSpeed>& members) {
  std::string all;
  for (const EtcdMemberSpeed& m : members) {
    all += fmt::format("{}{}{}", all.empty() ? "" : "; ", describe(m), m.leader ? " leads" : "");
  }
  return all;
}

// `m` far slower than `than`: `far_factor` times and `far_floor_s` at least.
bool far_slower(const EtcdMemberSpeed& m, const EtcdMemberSpeed& than, const GuardOptions& o) {
  const double slow = m.slowness();
  return std::isfinite(slow) && slow >= o.far_factor * std::max(than.slowness(), 0.001) &&
         slow >= o.far_floor_s;
}

struct Roles {
  const EtcdMemberSpeed* leader = nullptr;
  const EtcdMemberSpeed* best = nullptr;     // the fastest usable voting follower
  const EtcdMemberSpeed* fastest = nullptr;  // the fastest usable member
};

Roles roles_of(const std::vector<EtcdMemberSpeed>& members) {
  Roles r;
  for (const EtcdMemberSpeed& m : members) {
    if (!m.usable || !std::isfinite(m.slowness())) {
      if (m.leader) r.leader = &m;
      continue;
    }
    if (r.fastest == nullptr || m.slowness() < r.fastest->slowness()) r.fastest = &m;
    if (m.leader) {
      r.leader = &m;
    } else if (r.best == nullptr || m.slowness() < r.best->slowness()) {
      r.best = &m;
    }
  }
  return r;
}

}  // namespace

// This node stalled while it probed (a starved CPU, a stop) for as long as a
// far slower member would take: the Status times of the members it caught
// are its own, so only the members' own WAL fsync means count this look.
// True when it did.
bool Guard::distrust_own_stall(std::vector<EtcdMemberSpeed>& members, Signal& sig, int64_t at_ms) {
  double stall_s = 0;
  for (const EtcdMemberSpeed& m : members) stall_s = std::max(stall_s, m.prober_stall_s);
  if (stall_s < o_.far_floor_s) return false;
  for (EtcdMemberSpeed& m : members) m.status_s = std::numeric_limits<double>::quiet_NaN();
  if (!sig.own_stall_noted) {
    sig.own_stall_noted = true;
    note(sig, at_ms,
         fmt::format("this node stalled {} while it timed the etcd members: their Status times are "
                     "not trusted while it does (their WAL fsync still is)",
                     show(stall_s, "s")));
  }
  return true;
}

// Looks at the members once a sample while the append latency or the round
// trip to etcd has an anomaly open (the first look only learns the fsync
// counters; the second can act). A slow follower only loses this node's
// calls: commits go on with the leader and the other followers.
void Guard::leadership(int64_t at_ms) {
  Signal* sig = nullptr;
  for (const char* name : {"append_latency", "etcd_round_trip"}) {
    Signal& s = signal(name);
    if (!s.incident_id.empty() && s.detector.anomalous()) {
      sig = &s;
      break;
    }
  }
  if (sig == nullptr) slow_looks_.clear();
  if (sig == nullptr || at_ms - last_leader_look_ms_ < o_.sample_ms / 2) return;
  last_leader_look_ms_ = at_ms;
  std::vector<EtcdMemberSpeed> members = actuator_.etcd_member_speeds();
  if (!sig->members_noted && !members.empty()) {
    sig->members_noted = true;  // as measured, before any is distrusted
    note(*sig, at_ms, "etcd members: " + describe_all(members));
  }
  const bool distrusted = distrust_own_stall(members, *sig, at_ms);
  const Roles r = roles_of(members);
  const EtcdMemberSpeed *leader = r.leader, *best = r.best, *fastest = r.fastest;
  // Only a member far slower in two looks in a row is acted on: a stall of
  // this node's own (CPU-starved) lands on one member's answers at random.
  // A look this node's stall spoiled neither counts nor breaks a run,
  // unless a member's own WAL fsync is far slower; acting needs the member
  // slow in this look too.
  auto slow_now = [&](const EtcdMemberSpeed& m) {
    return fastest != nullptr && &m != fastest && far_slower(m, *fastest, o_);
  };
  for (const EtcdMemberSpeed& m : members) {
    const bool slow = slow_now(m);
    if (distrusted && !slow) continue;
    slow_looks_[m.id] = slow ? slow_looks_[m.id] + 1 : 0;
  }
  auto steady_slow = [&](const EtcdMemberSpeed& m) { return slow_looks_[m.id] >= 2 && slow_now(m); };
  // A slow member this node talks to: it stops (its own calls only; cheap
  // and undone by the next failover).
  for (const EtcdMemberSpeed& m : members) {
    if (!steady_slow(m)) continue;
    if (o_.remediate && actuator_.leave_etcd_member(m.endpoint)) {
      actions_["leave_member"]->inc();
      spdlog::warn("guard: stopped using etcd member {}: it is far slower than {}", describe(m), describe(*fastest));
      record_action(*sig, at_ms, "left a slow etcd member",
                    fmt::format("this node's calls and log watch go to another member than {}", m.name),
                    fmt::format("action: this node's calls and log watch moved off {}: it is far slower than {}",
                                describe(m), describe(*fastest)));
    }
  }
  if (leader == nullptr || best == nullptr || !steady_slow(*leader) || !far_slower(*leader, *best, o_)) return;
  if (!leader_moves_.empty() && at_ms - leader_moves_.back() < o_.action_gap_ms) return;
  while (!leader_moves_.empty() && at_ms - leader_moves_.front() > 3'600'000) leader_moves_.pop_front();
  const std::string seen = fmt::format("the etcd leader {} is far slower than {}", describe(*leader),
                                       describe(*best));
  if (!o_.remediate || static_cast<int>(leader_moves_.size()) >= o_.leader_moves_per_hour_max) {
    if (!sig->leader_advised) {
      sig->leader_advised = true;
      actions_["recommend"]->inc();
      note(*sig, at_ms,
           fmt::format("recommend: move the etcd leadership to {} (etcdctl move-leader {:x}): {}{}",
                       best->name, best->id, seen,
                       o_.remediate ? "; the guard moved it too often this hour" : ""));
    }
    return;
  }
  std::string error;
  if (!actuator_.move_etcd_leader(best->id, error)) {
    // Another node's guard may have moved it a moment ago: look again next
    // sample.
    spdlog::warn("guard: could not move the etcd leadership to {}: {}", best->name, error);
    return;
  }
  leader_moves_.push_back(at_ms);
  actions_["leader_move"]->inc();
  spdlog::warn("guard: moved the etcd leadership from {} to {}: {}", leader->name, best->name, seen);
  record_action(*sig, at_ms, "etcd leadership moved",
                fmt::format("commits no longer wait for {}; {} leads", leader->name, best->name),
                fmt::format("action: moved the etcd leadership from {} to {}: {}. Still to do: look "
                            "at {}'s disk and host (docs/runbooks/etcd-leader-lost.md)",
                            leader->name, best->name, seen, leader->name));
}

}  // namespace betcore::node
