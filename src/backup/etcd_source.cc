// The archiver's source in a cluster: the log from etcd, a hold in etcd.
#include "backup/etcd_source.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "backup/archiver.h"
#include "codec/snapshot.h"

namespace betcore::backup {

std::unique_ptr<EtcdSource> EtcdSource::open(EtcdSourceOptions options, std::string& error) {
  log::etcd::Target target;
  if (!log::etcd::parse_target(options.log_url, target, error)) return nullptr;
  return std::unique_ptr<EtcdSource>(new EtcdSource(std::move(options), std::move(target)));
}

EtcdSource::EtcdSource(EtcdSourceOptions options, log::etcd::Target target)
    : options_(std::move(options)), target_(std::move(target)) {
  client_ = std::make_shared<log::etcd::Client>(log::etcd::client_options(target_, 2'000));
  log::etcd::EtcdLogOptions lo;
  lo.node_id = "archiver-" + options_.name;  // never appends: the id only names its session
  lo.cluster = target_.cluster;
  log_ = std::make_unique<log::etcd::EtcdLog>(client_, lo);
}

std::string EtcdSource::describe() const {
  return fmt::format("etcd cluster '{}' at {}", target_.cluster, fmt::join(target_.endpoints, ","));
}

void EtcdSource::renew_hold(uint64_t needs_from, const ArchiveProgress& progress) {
  const int64_t now = wall_ms();
  if (now - hold_renewed_ms_ < 1'000) return;
  if (lease_ != 0) {
    auto alive = client_->lease_keep_alive(lease_);
    if (!alive.ok()) return;  // etcd unreachable: the read below says so
    if (!alive.value()) lease_ = 0;
  }
  if (lease_ == 0) {
    auto granted = client_->lease_grant(options_.hold_ttl_s);
    if (!granted.ok()) return;
    lease_ = granted.value();
  }
  nlohmann::json j = {{"needs_from", needs_from},   {"archived", progress.archived},
                      {"lag_ms", progress.lag_ms},  {"remote_lag_ms", progress.remote_lag_ms},
                      {"at_ms", now}};
  if (client_->put(log_->keys().hold_key(options_.name), j.dump(), lease_).ok()) hold_renewed_ms_ = now;
}

log::Result<SourceRead> EtcdSource::read(uint64_t from, const ArchiveProgress& progress, int wait_ms) {
  // What the archive still needs: the batches after what it has archived
  // (those read but not yet in a segment included).
  renew_hold(progress.archived + 1, progress);
  const int64_t now = wall_ms();
  if (now - head_read_ms_ >= 1'000) {
    if (auto h = log_->head(); h.ok()) head_ = h.value().value;
    head_read_ms_ = now;
  }
  auto got = log_->read(log::Position{from}, 4'096, size_t{16} << 20, wait_ms);
  if (!got.ok()) return got.error();
  SourceRead out;
  out.entries = std::move(got.value());
  if (!out.entries.empty()) head_ = std::max(head_, out.entries.back().position.value);
  out.head = head_;
  return out;
}

std::optional<SourceBase> EtcdSource::base() const {
  if (log_->base_position() == 0) return std::nullopt;
  return SourceBase{log_->base().position, log_->base().digest};
}

bool EtcdSource::fetch_state(std::string& encoded, uint64_t& position, std::string& error) {
  error = "no --node to fetch a snapshot from";
  for (const tools::Url& node : options_.nodes) {
    NodeSource source(node, options_.token);
    if (source.fetch_state(encoded, position, error)) return true;
    spdlog::warn("archiver: {}", error);
  }
  return false;
}

}  // namespace betcore::backup
