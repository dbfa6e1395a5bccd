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
      log::etcd::client_options(c.target, kCallTimeoutMs));
  return true;
}

// The cluster's keys: none (fresh), only a base (a restore's, maybe this
// one's from an attempt whose answer was lost), or others (it ran).
struct Found {
  std::string other_key;  // a key that is not the base ("" when none)
  bool base = false;
  std::string base_value;
  int64_t base_revision = 0;
};

bool find_keys(Connected& c, Found& found, std::string& error) {
  const log::etcd::Keys keys(c.target.cluster);
  log::etcd::RangeOptions o;
  o.limit = 2;
  auto r = c.client->range(keys.root, log::etcd::prefix_end(keys.root), o, kCallTimeoutMs);
  if (!r.ok()) {
    error = fmt::format("cannot read etcd at {}: {}; check that a quorum of its members is up",
                        fmt::join(c.target.endpoints, ","), r.error().message);
    return false;
  }
  for (const log::etcd::KeyValue& kv : r.value().kvs) {
    if (kv.key == keys.base_key()) {
      found.base = true;
      found.base_value = kv.value;
      found.base_revision = kv.mod_revision;
    } else if (found.other_key.empty()) {
      found.other_key = kv.key;
    }
  }
  return true;
}

std::string not_fresh(const Connected& c, const std::string& key) {
  return fmt::format(
      "etcd at {} already holds betcore keys for cluster '{}' (e.g. {}): a restore loads only a "
      "fresh "
      "cluster, never one that ran. Start new etcd members on empty data directories (or use "
      "another "
      "cluster name in the etcd:// URL), then run the restore before any node starts",
      fmt::join(c.target.endpoints, ","), c.target.cluster, key);
}

}  // namespace

bool check_fresh_cluster(const std::string& log_url, std::string& error) {
  Connected c;
  if (!connect(log_url, c, error)) return false;
  Found found;
  if (!find_keys(c, found, error)) return false;
  if (!found.other_key.empty()) {
    error = not_fresh(c, found.other_key);
    return false;
  }
  // A lone base: an earlier attempt of a restore; load_cluster accepts it
  // only if it is this restore's.
  return true;
}

bool load_cluster(const std::string& log_url, const log::etcd::BaseRecord& base, ClusterLoad& out,
                  std::string& error) {
  Connected c;
  if (!connect(log_url, c, error)) return false;
  const log::etcd::Keys keys(c.target.cluster);
  const std::string value = base.to_json();
  out.cluster = c.target.cluster;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Found found;
    if (!find_keys(c, found, error)) return false;
    if (!found.other_key.empty()) {
      error = not_fresh(c, found.other_key);
      return false;
    }
    if (found.base) {
      if (found.base_value != value) {
        error = fmt::format(
            "{} already holds another restore's base ({}): start new etcd members on "
            "empty data directories and restore again",
            keys.base_key(), found.base_value);
        return false;
      }
      out.base_revision = found.base_revision;  // this restore's, written by an earlier attempt
      out.offset = static_cast<int64_t>(base.position) - found.base_revision;
      return true;
    }
    // Created only if absent: two restores racing cannot both set a base.
    auto put = c.client->put_if_mod_revision(keys.base_key(), value, 0, kCallTimeoutMs);
    if (put.ok() && put.value().written) {
      out.base_revision = put.value().revision;
      out.offset = static_cast<int64_t>(base.position) - put.value().revision;
      return true;
    }
    // Not written, or no answer: what is there now decides (the loop).
    if (!put.ok()) error = put.error().message;
  }
  error = fmt::format("writing {} failed: {}. Check etcd, then run the same restore again",
                      keys.base_key(), error.empty() ? "etcd did not take it" : error);
  return false;
}

}  // namespace betcore::backup
