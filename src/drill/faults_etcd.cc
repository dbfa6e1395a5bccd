// etcd faults: who etcd's leader and followers are, and a lost quorum (two of three members).
#include "drill/faults.h"

namespace betcore::drill {
namespace {

std::string member_name(FaultContext& ctx, int i) {
  return ctx.cluster.etcd[static_cast<size_t>(i)].name;
}

}  // namespace

std::optional<FaultTarget> aim_etcd_leader(FaultContext& ctx) {
  int leader = ctx.cluster.etcd_leader();
  if (leader < 0) return std::nullopt;
  return FaultTarget{Component::etcd, {leader}, member_name(ctx, leader) + " (leader)"};
}

// One of the two followers, drawn only once a leader is known (the draw
// order is the seed's contract).
std::optional<FaultTarget> aim_etcd_follower(FaultContext& ctx) {
  int leader = ctx.cluster.etcd_leader();
  if (leader < 0) return std::nullopt;
  int i = (leader + 1 + static_cast<int>(ctx.rng() % 2)) % kEtcdMembers;
  return FaultTarget{Component::etcd, {i}, member_name(ctx, i) + " (follower)"};
}

std::optional<FaultTarget> aim_etcd_quorum(FaultContext& ctx) {
  int leader = ctx.cluster.etcd_leader();
  if (leader < 0) return std::nullopt;
  int next = (leader + 1) % kEtcdMembers;
  return FaultTarget{Component::etcd,
                     {leader, next},
                     member_name(ctx, leader) + " (leader) and " + member_name(ctx, next)};
}

// Two of three members killed: no quorum, no write can commit.
bool inject_quorum_lost(FaultContext& ctx, const FaultTarget& t, FaultRecord&) {
  for (int i : t.members) kill_member(ctx, Component::etcd, i);
  return true;
}

void heal_quorum_lost(FaultContext& ctx, const FaultTarget& t, FaultRecord& f) {
  std::string why;
  for (int i : t.members) {
    if (!restart_member(ctx, Component::etcd, i, why)) f.problems.push_back(why);
  }
}

}  // namespace betcore::drill
