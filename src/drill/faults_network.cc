// Network faults: nftables partitions in a test host's namespace, and its link taken down.
#include "drill/faults.h"

namespace betcore::drill {
namespace {

const std::string& host_of(FaultContext& ctx, const FaultTarget& t) {
  const std::vector<Proc>& all =
      t.component == Component::etcd ? ctx.cluster.etcd : ctx.cluster.nodes;
  return all[static_cast<size_t>(t.members[0])].host;
}

}  // namespace

// All traffic to and from every etcd member but the target itself dropped:
// an etcd member is cut from the other two, a node from the whole etcd.
bool inject_cut_from_etcd(FaultContext& ctx, const FaultTarget& t, FaultRecord& f) {
  const std::string& host = host_of(ctx, t);
  std::vector<std::string> peers;
  for (const Proc& e : ctx.cluster.etcd) {
    if (e.host != host) peers.push_back(e.host);
  }
  std::string why;
  if (ctx.net.isolate(host, peers, why)) return true;
  f.problems.push_back(why);
  return false;
}

bool inject_link_down(FaultContext& ctx, const FaultTarget& t, FaultRecord& f) {
  std::string why;
  if (ctx.net.set_link(host_of(ctx, t), false, why)) return true;
  f.problems.push_back(why);
  return false;
}

// Rules removed and the link up: heals either fault.
void heal_host(FaultContext& ctx, const FaultTarget& t, FaultRecord& f) {
  std::string why;
  if (!ctx.net.heal(host_of(ctx, t), why)) f.problems.push_back(why);
}

}  // namespace betcore::drill
