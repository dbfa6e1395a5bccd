// The flags every etcd member of a betcore cluster runs with, beyond its
// name, URLs, initial cluster and TLS files; docs/cluster.md, "etcd
// settings", says why each. `betcore etcd-flags` prints them and
// scripts/cluster.sh starts its members with that; betcore drill's and the
// tests' clusters take them from here too, so all of them run what
// production runs.
#pragma once

#include <string>
#include <vector>

namespace betcore::log::etcd {

struct MemberTiming {
  int heartbeat_ms = 50;
  int election_ms = 500;
};

// Empty when etcd accepts the timing; otherwise what to change (etcd refuses
// to start with an election timeout under 5 heartbeats or over 50 s).
std::string timing_error(const MemberTiming& timing);

// One argument per element ("--snapshot-count", "10000", ...).
std::vector<std::string> member_flags(const MemberTiming& timing = {});

}  // namespace betcore::log::etcd
