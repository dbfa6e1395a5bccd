#include "log/etcd/member_flags.h"

#include <fmt/format.h>

namespace betcore::log::etcd {

std::string timing_error(const MemberTiming& t) {
  if (t.heartbeat_ms < 1 || t.heartbeat_ms > 10'000) {
    return fmt::format("the heartbeat must be 1-10,000 ms (got {})", t.heartbeat_ms);
  }
  if (t.election_ms < 5 * t.heartbeat_ms) {
    return fmt::format("the election timeout ({} ms) must be at least 5 heartbeats ({} ms); raise it, "
                       "or lower the heartbeat",
                       t.election_ms, 5 * t.heartbeat_ms);
  }
  if (t.election_ms > 50'000) {
    return fmt::format("the election timeout ({} ms) must be at most 50,000 ms", t.election_ms);
  }
  return {};
}

std::vector<std::string> member_flags(const MemberTiming& t) {
  return {
      // betcore compacts the log itself, below the oldest position a live
      // node or an archiver still needs
      "--auto-compaction-retention", "0",
      // a member back from a partition first asks whether it could win, so
      // it does not depose a working leader (the drill saw 4 s without a
      // leader after a partition healed, without it)
      "--pre-vote=true",
      // 8 GiB, etcd's suggested maximum: room for log not compacted yet
      "--quota-backend-bytes", "8589934592",
      // one batch is one put: the largest batch a node writes must fit
      "--max-request-bytes", "8388608",
      // raft entries kept in memory between raft snapshots (etcd's default,
      // 100,000, of batches up to a few MiB could hold GiBs)
      "--snapshot-count", "10000",
      // measured under a saturated CPU (docs/cluster.md)
      "--heartbeat-interval", std::to_string(t.heartbeat_ms),
      "--election-timeout", std::to_string(t.election_ms),
      "--logger", "zap", "--log-outputs", "stderr",
  };
}

}  // namespace betcore::log::etcd
