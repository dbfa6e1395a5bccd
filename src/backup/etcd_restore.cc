// Loads a fresh etcd cluster with a restored position (etcd_restore.h).
#include "backup/etcd_restore.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "log/etcd/etcd_client.h"

namespace betcore::backup {
namespace {

constexpr int kCallTimeoutMs = 5'000;

struct Connected {
  log::etcd::Target target;
  std::unique_ptr<log::etcd::Client> client;
};

bool connect(const std::string& log_url, Connected& c, std::string& error) {
  if (!log::etcd::parse_target(log_url, c.target, error)) return false;
  c.client = std::make_unique<log::etcd::Client>(
      log::etcd::ClientOptions{c.target.endpoints, kCallTimeoutMs});
  return true;
}

// Empty "": fresh. Otherwise the first key found, or the error.
bool holds_betcore_keys(Connected& c, std::string& first_key, std::string& error) {
  const log::etcd::Keys keys(c.target.cluster);
  log::etcd::RangeOptions o;
  o.limit = 1;
  o.keys_only = true;
  auto r = c.client->range(keys.root, log::etcd::prefix_end(keys.root), o, kCallTimeoutMs);
  if (!r.ok()) {
    error = fmt::format("cannot read etcd at {}: {}; check that a quorum of its members is up",
                        fmt::join(c.target.endpoints, ","), r.error().message);
    return false;
  }
  first_key = r.value().kvs.empty() ? "" : r.value().kvs.front().key;
  return true;
}

std::string not_fresh(const Connected& c, const std::string& key) {
  return fmt::format(
      "etcd at {} already holds betcore keys for cluster '{}' (e.g. {}): a restore loads only a fresh "
      "cluster, never one that ran. Start new etcd members on empty data directories (or use another "
      "cluster name in the etcd:// URL), then run the restore before any node starts",
      fmt::join(c.target.endpoints, ","), c.target.cluster, key);
}

}  // namespace

bool check_fresh_cluster(const std::string& log_url, std::string& error) {
  Connected c;
  if (!connect(log_url, c, error)) return false;
  std::string key;
  if (!holds_betcore_keys(c, key, error)) return false;
  if (!key.empty()) {
    error = not_fresh(c, key);
    return false;
  }
  return true;
}

bool load_cluster(const std::string& log_url, const log::etcd::BaseRecord& base, ClusterLoad& out,
                  std::string& error) {
  Connected c;
  if (!connect(log_url, c, error)) return false;
  std::string key;
  if (!holds_betcore_keys(c, key, error)) return false;
  if (!key.empty()) {
    error = not_fresh(c, key);
    return false;
  }
  const log::etcd::Keys keys(c.target.cluster);
  // Created only if absent: two restores racing cannot both set a base.
  auto put = c.client->put_if_mod_revision(keys.base_key(), base.to_json(), 0, kCallTimeoutMs);
  if (!put.ok()) {
    error = fmt::format("writing {} failed: {}. Check etcd, then run the restore again on a fresh "
                        "cluster (if the key was written, start new etcd members first)",
                        keys.base_key(), put.error().message);
    return false;
  }
  if (!put.value().written) {
    error = not_fresh(c, keys.base_key());
    return false;
  }
  out.cluster = c.target.cluster;
  out.base_revision = put.value().revision;
  out.offset = static_cast<int64_t>(base.position) - put.value().revision;
  return true;
}

}  // namespace betcore::backup
