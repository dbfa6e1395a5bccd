// Process faults: kill -9 and restart, SIGSTOP and SIGCONT, of an etcd member or a node.
#include <signal.h>

#include "drill/faults.h"

namespace betcore::drill {
namespace {

Proc& proc(FaultContext& ctx, Component c, int i) {
  std::vector<Proc>& all = c == Component::etcd ? ctx.cluster.etcd : ctx.cluster.nodes;
  return all[static_cast<size_t>(i)];
}

}  // namespace

std::optional<FaultTarget> aim_node(FaultContext& ctx) {
  int i = static_cast<int>(ctx.rng() % kNodes);
  return FaultTarget{Component::node, {i}, ctx.cluster.nodes[static_cast<size_t>(i)].name};
}

void kill_member(FaultContext& ctx, Component c, int i) { ctx.cluster.kill9(proc(ctx, c, i)); }

bool restart_member(FaultContext& ctx, Component c, int i, std::string& why) {
  switch (c) {
    case Component::etcd:
      return ctx.cluster.start_etcd(i, false, why);
    case Component::node:
      return ctx.cluster.start_node(i, why);
    case Component::feed:
    case Component::payments:
      break;  // faults_feed.cc and faults_payments.cc restart their own
  }
  why = "not a cluster member";
  return false;
}

bool inject_kill(FaultContext& ctx, const FaultTarget& t, FaultRecord&) {
  kill_member(ctx, t.component, t.members[0]);
  return true;
}

void heal_restart(FaultContext& ctx, const FaultTarget& t, FaultRecord& f) {
  std::string why;
  if (!restart_member(ctx, t.component, t.members[0], why)) f.problems.push_back(why);
}

bool inject_pause(FaultContext& ctx, const FaultTarget& t, FaultRecord&) {
  Proc& p = proc(ctx, t.component, t.members[0]);
  p.process.kill(SIGSTOP);
  p.paused = true;
  return true;
}

void heal_continue(FaultContext& ctx, const FaultTarget& t, FaultRecord&) {
  Proc& p = proc(ctx, t.component, t.members[0]);
  p.process.kill(SIGCONT);
  p.paused = false;
}

}  // namespace betcore::drill
