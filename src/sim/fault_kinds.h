// The nemesis's registry of fault kinds: one row per kind, with its name,
// its odds in each topology, how to draw its parameter, how to inject it and
// how to heal what is left of it when the workload ends.
//
// To add a kind: add it to FaultKind (before `count`), add its row to the
// table in fault_kinds.cc in the same place (a static_assert checks the
// table follows the enum), add it to the table in docs/simulation.md. A
// kind added at the end leaves every existing seed's draws as they were
// only if its weights are 0; otherwise the weighted draw changes every run.
#pragma once

#include <cstdint>
#include <span>

#include "sim/nodes.h"
#include "sim/run_context.h"

namespace betcore::sim {

// The order is part of every seed: the weighted draw walks the kinds in it.
enum class FaultKind : uint8_t {
  crash,
  crash_at_next_fsync,
  disk_write_errors,
  disk_full,
  fsync_errors,
  flip_snapshot_bit,
  clock_skew,
  clock_jump,
  responses_lost,
  append_fails,
  append_unknown_committed,
  append_commits_late,
  watch_breaks,
  slow_delivery,
  compaction_overtakes,
  partition_from_log,
  quorum_lost,
  flip_log_bit,
  count  // not a kind: how many there are
};

// One fault about to happen. The node and the window are drawn for every
// kind, before the kind itself; `value` after it, by the kind's own draw.
struct FaultDraw {
  FaultKind kind;
  SimNode& node;
  int64_t window_ms;  // how long a fault with a window lasts
  int64_t value;      // the kind's own parameter (FaultRow::draw); 0 when it has none
};

// What a fault can touch.
struct FaultScope {
  RunContext& run;
  Nodes& nodes;
};

struct FaultRow {
  FaultKind kind;
  const char* name;     // in the report and, hashed, in the trace: renaming changes every seed
  int weight_cluster;   // relative odds in a cluster run; 0: never there
  int weight_embedded;  // relative odds in an embedded run; 0: never there
  int64_t (*draw)(Rng& rng);                              // nullptr: no parameter
  void (*inject)(FaultScope& scope, const FaultDraw& d);  // may do nothing (a node already down)
  void (*heal)(Nodes& nodes);  // when the workload ends; nullptr: nothing lasts
};

// Every row, in FaultKind order.
std::span<const FaultRow> fault_rows();
const FaultRow& fault_row(FaultKind kind);

}  // namespace betcore::sim
