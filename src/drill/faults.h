// The drill's fault kinds: one row each (name, family, what it hits, how to inject, how to heal,
// what it expects). The table is in faults.cc; each family's actions in faults_<family>.cc.
//
// A new kind: a FaultKind value (last, see below), its row at the end of
// kRows in faults.cc, an aim, inject and heal (existing ones, or new ones in
// its family's file, or a new faults_<family>.cc), and a line in the
// nemesis table of docs/drill.md.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "drill/cluster.h"
#include "drill/report.h"
#include "drill/testnet.h"

namespace betcore::drill {

// In the order the nemesis takes them in turn (from a place the seed
// picks): a new kind goes last, or `--seed N` injects another sequence.
enum class FaultKind : uint8_t {
  kill_etcd_leader,
  kill_etcd_follower,
  kill_node,
  pause_node,
  pause_etcd_leader,
  partition_etcd_leader,
  partition_etcd_follower,
  partition_node_from_etcd,
  node_link_down,
  node_disk_full,
  etcd_quorum_lost,
  feed_producer_silent,
  feed_adapter_killed,
  feed_broker_killed,
  feed_provider_misbehaves,
  payments_gateway_outage,
  payments_gateway_slow,
  payments_webhook_storm,
  payments_adapter_killed,
};
inline constexpr size_t kFaultKinds = 19;

// Which file holds a kind's inject and heal.
enum class FaultFamily : uint8_t {
  process,  // faults_process.cc: kill -9 and restart, SIGSTOP and SIGCONT
  network,  // faults_network.cc: nftables partitions, a link down
  disk,     // faults_disk.cc: a full disk
  etcd,     // faults_etcd.cc: etcd's roles (leader, follower, quorum)
  feed,     // faults_feed.cc: the odds feed (provider, broker, adapter)
  payments, // faults_payments.cc: the payment gateway and adapter
};

enum class Component : uint8_t { etcd, node, feed, payments };

// What a fault hits: one etcd member or node, or two members (a quorum).
struct FaultTarget {
  Component component = Component::node;
  std::vector<int> members;  // indexes into cluster.etcd or cluster.nodes: one, or two (quorum)
  std::string label;         // "etcd-2 (leader)", "node-1"
};

class DrillFeed;
class DrillPayments;

struct FaultContext {
  DrillCluster& cluster;
  TestNet& net;
  std::mt19937_64& rng;  // the nemesis' seeded draws: who is hit
  DrillFeed* feed;       // the odds feed beside the cluster
  DrillPayments* payments;  // the payment gateway and adapter beside it
};

// Chooses the target; nullopt when there is none yet (no etcd leader known).
using AimFn = std::optional<FaultTarget> (*)(FaultContext& ctx);
// Injects; false with the reason in f.problems.
using InjectFn = bool (*)(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
// Undoes the fault; what failed goes into f.problems.
using HealFn = void (*)(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);

struct FaultRow {
  FaultKind kind;
  std::string_view name;  // as --kinds and report.json spell it
  FaultFamily family;
  AimFn aim;
  InjectFn inject;
  HealFn heal;
  std::string_view expects;  // what the cluster should do, for a person reading the table
};

// Every row, in FaultKind order.
std::span<const FaultRow> fault_rows();
const FaultRow& fault_row(FaultKind kind);
// The row named `name`, or nullptr.
const FaultRow* find_fault(std::string_view name);

const char* component_name(Component c);  // "etcd", "node"

// ---- aims: faults_etcd.cc (etcd's roles) and faults_process.cc (nodes) ----
std::optional<FaultTarget> aim_etcd_leader(FaultContext& ctx);
std::optional<FaultTarget> aim_etcd_follower(FaultContext& ctx);  // draws which follower
std::optional<FaultTarget> aim_etcd_quorum(FaultContext& ctx);    // the leader and the next
std::optional<FaultTarget> aim_node(FaultContext& ctx);           // draws which node

// ---- faults_process.cc ----
// One etcd member or node: kill -9 (continuing it first if paused), or
// start it again (an etcd member on its data directory); false with `why`.
void kill_member(FaultContext& ctx, Component c, int i);
bool restart_member(FaultContext& ctx, Component c, int i, std::string& why);
bool inject_kill(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_restart(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
bool inject_pause(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_continue(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);

// ---- faults_network.cc ----
bool inject_cut_from_etcd(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
bool inject_link_down(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_host(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);

// ---- faults_disk.cc ----
bool inject_disk_full(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_disk_full(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);

// ---- faults_etcd.cc ----
bool inject_quorum_lost(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_quorum_lost(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);

// ---- faults_feed.cc ----
std::optional<FaultTarget> aim_feed_producer(FaultContext& ctx);  // draws which producer
std::optional<FaultTarget> aim_feed_adapter(FaultContext& ctx);
std::optional<FaultTarget> aim_feed_broker(FaultContext& ctx);
std::optional<FaultTarget> aim_feed_provider(FaultContext& ctx);
bool inject_feed_silent(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_feed_silent(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
bool inject_feed_adapter_kill(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_feed_adapter_kill(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
bool inject_feed_broker_kill(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_feed_broker_kill(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
bool inject_feed_misbehaviour(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_feed_misbehaviour(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);

// ---- faults_payments.cc ----
std::optional<FaultTarget> aim_payment_gateway(FaultContext& ctx);
std::optional<FaultTarget> aim_payment_adapter(FaultContext& ctx);
bool inject_gateway_outage(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_gateway_outage(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
bool inject_gateway_slow(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_gateway_slow(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
bool inject_webhook_storm(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_webhook_storm(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
bool inject_payment_adapter_kill(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);
void heal_payment_adapter_kill(FaultContext& ctx, const FaultTarget& t, FaultRecord& f);

}  // namespace betcore::drill
