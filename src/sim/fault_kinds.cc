// The registry of fault kinds (fault_kinds.h): each kind's row, and the
// injections too long to sit in it.
#include "sim/fault_kinds.h"

#include <algorithm>
#include <array>
#include <string>

namespace betcore::sim {

namespace {

void report(FaultScope& s, const FaultDraw& d, const std::string& detail) {
  s.run.fault(fault_row(d.kind).name, detail);
}

std::string for_window(const FaultDraw& d) {
  return d.node.id + " for " + std::to_string(d.window_ms) + " ms";
}

// A fault that lasts until `until`, which heals by time.
void until_window_ends(FaultScope& s, const FaultDraw& d, int64_t& until) {
  until = s.run.world.now() + d.window_ms;
  report(s, d, for_window(d));
}

// The node's appends go wrong at `per_mille` for the window.
void appends_for_window(FaultScope& s, const FaultDraw& d, uint32_t LogLink::*per_mille) {
  SimNode& n = d.node;
  n.link.*per_mille = 500;
  report(s, d, for_window(d));
  s.run.world.after(d.window_ms, [&n, per_mille] { n.link.*per_mille = 0; });
}

void crash(FaultScope& s, const FaultDraw& d) {
  if (!d.node.up) return;
  report(s, d, d.node.id);
  s.nodes.crash(d.node, "killed", true);
}

// Bits rot at rest: flipped while the node is down, found when it starts.
void flip_bit(FaultScope& s, const FaultDraw& d, const char* file_kind) {
  SimNode& n = d.node;
  if (!n.up) return;
  s.nodes.crash(n, "killed to flip a bit on its disk", false);
  std::string what;
  if (s.nodes.disk().flip_bit(*n.disk, file_kind, what)) report(s, d, what);
  s.nodes.schedule_restart(n, s.run.world.rng.between(5, 100));
}

void slow_delivery(FaultScope& s, const FaultDraw& d) {
  SimNode& n = d.node;
  World& world = s.run.world;
  n.link.delivery_delay_ms = d.value;
  report(s, d,
         n.id + " entries arrive " + std::to_string(d.value) + " ms late for " +
             std::to_string(d.window_ms) + " ms");
  world.after(d.window_ms, [&n, &world] { n.link.delivery_delay_ms = world.rng.between(0, 3); });
}

// Compact past this node: as if its lease had expired while it lagged.
void compaction_overtakes(FaultScope& s, const FaultDraw& d) {
  SimNode& n = d.node;
  SharedLog& shared = s.nodes.shared_log();
  uint64_t before = 0;
  for (const auto& p : s.nodes.all()) {
    if (p.get() != &n && p->up) before = std::max(before, p->link.needs_from);
  }
  if (before <= shared.first_kept()) return;
  shared.compact_to(before);
  report(s, d,
         "log compacted below " + std::to_string(before) + " (" + n.id + " at " +
             std::to_string(n.up ? n.applier->applied() : 0) + ")");
}

int64_t draw_clock_jump(Rng& rng) {
  return rng.chance(500) ? rng.between(3'600'000, 90'000'000) : -rng.between(3'600'000, 90'000'000);
}

template <typename F>
void each(Nodes& nodes, F f) {
  for (const auto& n : nodes.all()) f(*n);
}

using K = FaultKind;
using S = FaultScope;
using D = FaultDraw;

// One row per kind, in FaultKind order. Weights: cluster, embedded. The
// embedded node has the file log on its disk; cluster nodes have the shared
// log and its failures.
constexpr FaultRow kRows[] = {
    {K::crash, "crash", 14, 14, nullptr, crash, nullptr},
    {K::crash_at_next_fsync, "crash_at_next_fsync", 6, 6, nullptr,
     [](S& s, const D& d) {
       if (!d.node.up) return;
       d.node.disk->crash_at_next_sync = true;
       report(s, d, d.node.id + " will die in its next fsync");
     },
     [](Nodes& ns) { each(ns, [](SimNode& n) { n.disk->crash_at_next_sync = false; }); }},
    {K::disk_write_errors, "disk_write_errors", 5, 5, nullptr,
     [](S& s, const D& d) { until_window_ends(s, d, d.node.disk->write_errors_until); },
     [](Nodes& ns) { each(ns, [](SimNode& n) { n.disk->write_errors_until = 0; }); }},
    {K::disk_full, "disk_full", 5, 5, nullptr,
     [](S& s, const D& d) { until_window_ends(s, d, d.node.disk->full_until); },
     [](Nodes& ns) { each(ns, [](SimNode& n) { n.disk->full_until = 0; }); }},
    {K::fsync_errors, "fsync_errors", 4, 4, nullptr,
     [](S& s, const D& d) { until_window_ends(s, d, d.node.disk->sync_errors_until); },
     [](Nodes& ns) { each(ns, [](SimNode& n) { n.disk->sync_errors_until = 0; }); }},
    // Healed by the operator when the node refuses to start, or by the run
    // loop for a node still down after the workload.
    {K::flip_snapshot_bit, "flip_snapshot_bit", 4, 4, nullptr,
     [](S& s, const D& d) { flip_bit(s, d, "snapshot"); }, nullptr},
    // A clock stays where a fault left it: the node must live with it.
    {K::clock_skew, "clock_skew", 5, 5, [](Rng& rng) { return rng.between(-600'000, 600'000); },
     [](S& s, const D& d) {
       d.node.clock_offset_ms = d.value;
       report(s, d, d.node.id + " clock off by " + std::to_string(d.value) + " ms");
     },
     nullptr},
    {K::clock_jump, "clock_jump", 4, 4, draw_clock_jump,
     [](S& s, const D& d) {
       int64_t& offset = d.node.clock_offset_ms;
       offset += d.value;
       report(s, d, d.node.id + " clock jumped to offset " + std::to_string(offset) + " ms");
     },
     nullptr},
    {K::responses_lost, "responses_lost", 6, 6, nullptr,
     [](S& s, const D& d) { until_window_ends(s, d, d.node.response_drop_until); },
     [](Nodes& ns) { each(ns, [](SimNode& n) { n.response_drop_until = 0; }); }},
    {K::append_fails, "append_fails", 6, 0, nullptr,
     [](S& s, const D& d) { appends_for_window(s, d, &LogLink::append_fail_pm); },
     [](Nodes& ns) { each(ns, [](SimNode& n) { n.link.append_fail_pm = 0; }); }},
    {K::append_unknown_committed, "append_unknown_committed", 6, 0, nullptr,
     [](S& s, const D& d) { appends_for_window(s, d, &LogLink::append_unknown_pm); },
     [](Nodes& ns) { each(ns, [](SimNode& n) { n.link.append_unknown_pm = 0; }); }},
    {K::append_commits_late, "append_commits_late", 6, 0, nullptr,
     [](S& s, const D& d) { appends_for_window(s, d, &LogLink::append_late_pm); },
     [](Nodes& ns) { each(ns, [](SimNode& n) { n.link.append_late_pm = 0; }); }},
    {K::watch_breaks, "watch_breaks", 6, 0, nullptr,
     [](S& s, const D& d) { until_window_ends(s, d, d.node.link.watch_broken_until); },
     [](Nodes& ns) { each(ns, [](SimNode& n) { n.link.watch_broken_until = 0; }); }},
    {K::slow_delivery, "slow_delivery", 4, 0, [](Rng& rng) { return rng.between(50, 800); },
     slow_delivery, [](Nodes& ns) { each(ns, [](SimNode& n) { n.link.delivery_delay_ms = 1; }); }},
    {K::compaction_overtakes, "compaction_overtakes", 4, 0, nullptr, compaction_overtakes, nullptr},
    {K::partition_from_log, "partition_from_log", 4, 0, nullptr,
     [](S& s, const D& d) {
       d.node.link.partitioned_until = s.run.world.now() + d.window_ms;
       report(s, d, d.node.id + " cut off from etcd for " + std::to_string(d.window_ms) + " ms");
     },
     [](Nodes& ns) { each(ns, [](SimNode& n) { n.link.partitioned_until = 0; }); }},
    {K::quorum_lost, "quorum_lost", 2, 0, nullptr,
     [](S& s, const D& d) {
       s.nodes.shared_log().down_until = s.run.world.now() + d.window_ms;
       report(s, d, "etcd has no quorum for " + std::to_string(d.window_ms) + " ms");
     },
     [](Nodes& ns) { ns.shared_log().down_until = 0; }},
    {K::flip_log_bit, "flip_log_bit", 0, 4, nullptr,
     [](S& s, const D& d) { flip_bit(s, d, "log"); }, nullptr},
};

constexpr bool rows_follow_the_enum() {
  if (std::size(kRows) != static_cast<size_t>(FaultKind::count)) return false;
  for (size_t i = 0; i < std::size(kRows); ++i) {
    const FaultRow& r = kRows[i];
    if (r.kind != static_cast<FaultKind>(i) || r.name == nullptr || r.inject == nullptr)
      return false;
    if (r.weight_cluster < 0 || r.weight_embedded < 0) return false;
  }
  return true;
}
static_assert(rows_follow_the_enum(),
              "one row per FaultKind, in enum order, each with a name and an injection");

}  // namespace

std::span<const FaultRow> fault_rows() { return kRows; }

const FaultRow& fault_row(FaultKind kind) { return kRows[static_cast<size_t>(kind)]; }

}  // namespace betcore::sim
