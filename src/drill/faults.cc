// The table of fault kinds: one row each, in the order the nemesis takes them (docs/drill.md).
#include "drill/faults.h"

#include <array>

namespace betcore::drill {
namespace {

using enum FaultKind;
using enum FaultFamily;

constexpr std::array<FaultRow, kFaultKinds> kRows{{
    {kill_etcd_leader, "kill_etcd_leader", process, aim_etcd_leader, inject_kill, heal_restart,
     "an election: writes stall until there is a new leader; the member rejoins when restarted"},
    {kill_etcd_follower, "kill_etcd_follower", process, aim_etcd_follower, inject_kill,
     heal_restart, "writes go on with two members"},
    {kill_node, "kill_node", process, aim_node, inject_kill, heal_restart,
     "HAProxy sends to the other nodes; restarted, it catches up from its snapshot and the log"},
    {pause_node, "pause_node", process, aim_node, inject_pause, heal_continue,
     "HAProxy takes the node out; its requests in flight end indefinite and are retried"},
    {pause_etcd_leader, "pause_etcd_leader", process, aim_etcd_leader, inject_pause, heal_continue,
     "an election once the followers stop hearing it: writes stall until then"},
    {partition_etcd_leader, "partition_etcd_leader", network, aim_etcd_leader, inject_cut_from_etcd,
     heal_host, "the leader steps down, the other two elect one: writes stall until then"},
    {partition_etcd_follower, "partition_etcd_follower", network, aim_etcd_follower,
     inject_cut_from_etcd, heal_host,
     "writes go on with two members; etcd's /health may not show it"},
    {partition_node_from_etcd, "partition_node_from_etcd", network, aim_node, inject_cut_from_etcd,
     heal_host, "the node stops being ready; HAProxy sends to the others"},
    {node_link_down, "node_link_down", network, aim_node, inject_link_down, heal_host,
     "HAProxy takes the node out; the others carry on"},
    {node_disk_full, "node_disk_full", disk, aim_node, inject_disk_full, heal_disk_full,
     "only the node's snapshots fail; writes go on (docs/runbooks/disk-full.md)"},
    {etcd_quorum_lost, "etcd_quorum_lost", etcd, aim_etcd_quorum, inject_quorum_lost,
     heal_quorum_lost, "no write commits until both are back; nothing acknowledged is lost"},
    {feed_producer_silent, "feed_producer_silent", feed, aim_feed_producer, inject_feed_silent,
     heal_feed_silent,
     "the producer's markets read suspended within its limit + 1 s; reopened after recovery"},
    {feed_adapter_killed, "feed_adapter_killed", feed, aim_feed_adapter, inject_feed_adapter_kill,
     heal_feed_adapter_kill,
     "every feed market shuts by the feed deadline alone; the restarted adapter catches up"},
    {feed_broker_killed, "feed_broker_killed", feed, aim_feed_broker, inject_feed_broker_kill,
     heal_feed_broker_kill, "confirmed messages survive the broker; adapter and provider reconnect"},
    {feed_provider_misbehaves, "feed_provider_misbehaves", feed, aim_feed_provider,
     inject_feed_misbehaviour, heal_feed_misbehaviour,
     "duplicates and reorders change nothing twice; malformed messages go to the dead letters"},
    {payments_gateway_outage, "payments_gateway_outage", payments, aim_payment_gateway,
     inject_gateway_outage, heal_gateway_outage,
     "the adapter's breakers open and let only their trials through; the backlog drains after"},
    {payments_gateway_slow, "payments_gateway_slow", payments, aim_payment_gateway,
     inject_gateway_slow, heal_gateway_slow,
     "every call times out, the breakers open; payouts repeated by key are made once"},
    {payments_webhook_storm, "payments_webhook_storm", payments, aim_payment_gateway,
     inject_webhook_storm, heal_webhook_storm,
     "duplicated, late and stormed webhooks credit each deposit once"},
    {payments_adapter_killed, "payments_adapter_killed", payments, aim_payment_adapter,
     inject_payment_adapter_kill, heal_payment_adapter_kill,
     "withdrawals wait; restarted on its state file, it pays each once and takes the webhooks"},
}};

// A row's place is its kind: fault_row() indexes by it, and the nemesis'
// draws (`--seed`) depend on the order.
constexpr bool rows_in_kind_order() {
  for (size_t i = 0; i < kRows.size(); ++i) {
    if (static_cast<size_t>(kRows[i].kind) != i) return false;
  }
  return true;
}
static_assert(rows_in_kind_order(), "kRows must list every FaultKind once, in enum order");
static_assert(static_cast<size_t>(FaultKind::payments_adapter_killed) + 1 == kFaultKinds,
              "kFaultKinds must count the last FaultKind");

}  // namespace

std::span<const FaultRow> fault_rows() { return kRows; }

const FaultRow& fault_row(FaultKind kind) { return kRows[static_cast<size_t>(kind)]; }

const FaultRow* find_fault(std::string_view name) {
  for (const FaultRow& row : kRows) {
    if (row.name == name) return &row;
  }
  return nullptr;
}

const char* component_name(Component c) {
  switch (c) {
    case Component::etcd:
      return "etcd";
    case Component::node:
      return "node";
    case Component::feed:
      return "feed";
    case Component::payments:
      return "payments";
  }
  return "node";
}

}  // namespace betcore::drill
