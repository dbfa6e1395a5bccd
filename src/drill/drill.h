// `betcore drill`: a failover drill on real processes. It builds its own
// test hosts (testnet.h), starts 3 etcd members and 3 betcore nodes in them
// and HAProxy in front, runs a bet/deposit/withdrawal/settlement workload
// through HAProxy while a nemesis injects faults (kill -9 and restart of etcd
// members, leader and followers, and of nodes; SIGSTOP/SIGCONT; partitions
// between etcd members and between nodes and etcd; a node's link down; a
// full disk), then heals everything, checks every invariant against the
// committed log and every node's final state, and writes an incident report
// (report.json, report.html with SVG charts) into --out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace betcore::drill {

struct DrillOptions {
  double minutes = 3;           // stop injecting after this long (the run ends after its faults)
  int faults = 20;              // inject at least this many (the run lasts until both hold)
  uint64_t seed = 1;
  std::string out = "drill-report";
  std::string subnet = "10.213.77";  // the test hosts' /24 (first three octets)
  int clients = 6;
  std::vector<std::string> kinds;    // only these fault kinds (empty: all)
  std::string haproxy_template;      // deploy/haproxy/betcore.cfg.in
  bool keep = false;                 // keep the processes' data and logs
  // "faults": the nemesis' faults in turn; "site-loss": the whole site lost
  // after --minutes of load, a new cluster restored from the archive.
  std::string scenario = "faults";
  int rpo_max_ms = 5'000;            // site-loss: an acknowledged write older than this lost fails the run
};

// Exit codes: 0 every invariant held; 1 a violation (the report says which);
// 2 the drill could not run (no root, a missing program, the cluster did
// not start).
int run_drill(const DrillOptions& options);

void add_drill_command(CLI::App& root);

}  // namespace betcore::drill
