// `betcore restore --etcd`: loads a fresh etcd cluster so a whole new betcore
// cluster starts from a restored state (docs/backup.md, "A new cluster").
//
// A fresh etcd numbers its revisions from 1. The restore writes one key,
// /betcore/<cluster>/base, holding the restored position; from then on every
// position is the etcd revision plus (restored position - the base key's
// revision), so the new cluster's positions go on after the restored one:
// indexes clients hold, /v1/stream offsets and the archive's checkpoint
// digests keep their meaning (log/etcd/etcd_log.h).
#pragma once

#include <cstdint>
#include <string>

#include "log/etcd/etcd_log.h"

namespace betcore::backup {

struct ClusterLoad {
  std::string cluster;
  int64_t base_revision = 0;  // the etcd revision of the base key
  int64_t offset = 0;         // position = revision + offset
};

// Checks that the cluster at `log_url` (etcd://host:port,.../CLUSTER) holds
// no betcore key yet, but a base (an earlier attempt of a restore). False
// with what to do in `error`.
bool check_fresh_cluster(const std::string& log_url, std::string& error);

// Writes the base record, only if the cluster still holds no betcore key;
// a base already there is accepted only if it is exactly this one (the same
// restore run again after an attempt whose answer was lost).
bool load_cluster(const std::string& log_url, const log::etcd::BaseRecord& base, ClusterLoad& out,
                  std::string& error);

}  // namespace betcore::backup
