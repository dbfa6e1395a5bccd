// The archiver's source in a cluster (docs/backup.md, "Sources"): the
// committed log read straight from etcd (a watch on the log prefix, as a
// node reads it), and a hold on the log kept in etcd under a lease, so that
// the cluster never compacts what the archive still needs. When the log was
// compacted past the archive anyway, a node's newest snapshot (GET
// /v1/snapshot) restarts it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backup/log_source.h"
#include "log/etcd/etcd_log.h"

namespace betcore::backup {

struct EtcdSourceOptions {
  std::string log_url;             // etcd://HOST:PORT,HOST:PORT/CLUSTER, as the nodes' --log
  std::string name = "archiver";   // the hold's name (one per archiver)
  int64_t hold_ttl_s = 86'400;     // an archiver gone this long loses its hold
  std::vector<tools::Url> nodes;   // where to fetch a snapshot from, in order
  std::string token;               // a `backup` token for the nodes
};

class EtcdSource final : public LogSource {
 public:
  // False with `error` on a malformed URL.
  static std::unique_ptr<EtcdSource> open(EtcdSourceOptions options, std::string& error);

  log::Result<SourceRead> read(uint64_t from, const ArchiveProgress& progress, int wait_ms) override;
  bool fetch_state(std::string& encoded, uint64_t& position, std::string& error) override;
  std::string describe() const override;
  std::optional<SourceBase> base() const override;

 private:
  EtcdSource(EtcdSourceOptions options, log::etcd::Target target);
  void renew_hold(uint64_t needs_from, const ArchiveProgress& progress);

  const EtcdSourceOptions options_;
  const log::etcd::Target target_;
  std::shared_ptr<log::etcd::Client> client_;
  std::unique_ptr<log::etcd::EtcdLog> log_;
  int64_t lease_ = 0;
  int64_t hold_renewed_ms_ = 0;
  int64_t head_read_ms_ = 0;
  uint64_t head_ = 0;
};

}  // namespace betcore::backup
