#include "node/cluster_member.h"

#include "ops/build_info.h"

#include <cmath>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include "ops/wall_clock.h"

namespace betcore::node {

using nlohmann::json;

ClusterMember::ClusterMember(ClusterMemberOptions options, log::etcd::EtcdLog& log,
                             ClusterMemberSources sources, ops::Registry& metrics)
    : options_(std::move(options)),
      log_(log),
      client_(log.client()),
      sources_(std::move(sources)),
      compactions_(metrics.counter("betcore_log_compactions_total",
                                   "Compactions of the etcd log done by this node")),
      defrags_(metrics.counter("betcore_etcd_defragmentations_total",
                               "etcd members defragmented by this node")),
      divergences_(
          metrics.counter("betcore_divergences_total",
                          "Checkpoints at which a peer's digest differed from this node's")),
      round_trip_seconds_(metrics.histogram(
          "betcore_etcd_round_trip_seconds",
          "Time of the quorum read of the log head this node makes every tick: its round trip "
          "through etcd's leader")) {
  callbacks_.push_back(metrics.gauge_callback(
      "betcore_log_lag_seconds", "Age of the oldest log head this node has not applied yet", {},
      [this] { return lag_seconds(); }));
  callbacks_.push_back(metrics.gauge_callback(
      "betcore_divergent", "1 when this node's digest differs from the majority's", {},
      [this] { return divergent_.load() ? 1.0 : 0.0; }));
  callbacks_.push_back(metrics.counter_callback(
      "betcore_log_watch_reconnects_total", "Times the log watch broke and was resumed", {},
      [this] { return static_cast<double>(log_.watch_reconnects()); }));
  callbacks_.push_back(metrics.gauge_callback(
      "betcore_etcd_raft_term",
      "The highest etcd Raft term this node has seen: each step up is an election", {},
      [this] { return static_cast<double>(log_.raft_term()); }));
  callbacks_.push_back(metrics.gauge_callback(
      "betcore_cluster_nodes", "betcore nodes registered in the cluster (as last read)", {},
      [this] { return static_cast<double>(peers().size()); }));
}

ClusterMember::~ClusterMember() { stop(); }

void ClusterMember::start() {
  if (started_.exchange(true)) return;
  sample_head();
  publish_now();
  thread_ = std::thread([this] { loop(); });
  maintenance_thread_ = std::thread([this] { maintenance_loop(); });
}

void ClusterMember::stop() {
  if (!started_.exchange(false)) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (maintenance_thread_.joinable()) maintenance_thread_.join();
  stopped_.store(true);
  publish();
}

void ClusterMember::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.tick_ms), [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    client_.keep_connected();  // every member's connection ready for a failover
    sample_head();
    if (Clock::now() - last_publish_ >= std::chrono::milliseconds(options_.publish_every_ms)) {
      publish_now();
    }
    lock.lock();
  }
}

void ClusterMember::maintenance_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.maintenance_every_ms),
                 [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    maintain();
    lock.lock();
  }
}

void ClusterMember::publish_now() {
  last_publish_ = Clock::now();
  publish();
  read_peers();
  check_agreement();
}

void ClusterMember::sample_head() {
  const auto t0 = Clock::now();
  auto head = log_.head();
  if (head.ok()) round_trip_seconds_.observe(Clock::now() - t0);
  uint64_t applied = sources_.applied();
  std::lock_guard lock(mu_);
  auto now = Clock::now();
  if (!head.ok()) {
    head_error_ = head.error().message;
    return;
  }
  head_error_.clear();
  head_ok_at_ = now;
  uint64_t h = head.value().value;
  last_head_ = h;
  if (h > applied && (heads_.empty() || heads_.back().second < h)) heads_.emplace_back(now, h);
  while (!heads_.empty() && heads_.front().second <= applied) heads_.pop_front();
}

double ClusterMember::lag_seconds() const {
  uint64_t applied = sources_.applied();
  std::lock_guard lock(mu_);
  for (const auto& [at, h] : heads_) {
    if (h > applied) return std::chrono::duration<double>(Clock::now() - at).count();
  }
  return 0.0;
}

log::Result<log::Position> ClusterMember::last_head() const {
  std::lock_guard lock(mu_);
  if (Clock::now() - head_ok_at_ > std::chrono::milliseconds(options_.head_unreadable_max_ms)) {
    return log::Error{log::Errc::unavailable, head_error_.empty() ? "no recent log head" : head_error_};
  }
  return log::Position{last_head_};
}

std::string ClusterMember::not_ready_reason() const {
  if (divergent_.load()) {
    std::lock_guard lock(mu_);
    return "divergent: " + divergence_;
  }
  double lag = lag_seconds();
  std::lock_guard lock(mu_);
  auto now = Clock::now();
  // An etcd election takes 0.5-2.5 s and stalls every node alike: only a longer
  // silence takes this node out of rotation.
  if (now - head_ok_at_ > std::chrono::milliseconds(options_.head_unreadable_max_ms)) {
    return "cannot read the log head from etcd" +
           (head_error_.empty() ? std::string() : ": " + head_error_);
  }
  if (lag * 1000 > options_.lag_ready_max_ms) {
    return fmt::format("catching up: {:.1f} s behind the log head", lag);
  }
  return "";
}

std::vector<std::string> ClusterMember::alerts() const {
  std::lock_guard lock(mu_);
  return alerts_;
}

std::vector<PeerRecord> ClusterMember::peers() const {
  std::lock_guard lock(mu_);
  return peers_;
}

bool ClusterMember::ensure_lease() {
  auto now = Clock::now();
  if (lease_ != 0 && now - lease_renewed_ < std::chrono::seconds(1)) return true;
  if (lease_ != 0) {
    auto alive = client_.lease_keep_alive(lease_);
    if (alive.ok() && alive.value()) {
      lease_renewed_ = now;
      return true;
    }
    if (alive.ok()) {
      spdlog::warn("the registration lease expired; registering again");
      lease_ = 0;
    } else if (now - lease_renewed_ < std::chrono::seconds(options_.lease_ttl_s)) {
      return true;  // may still live; try again next tick
    } else {
      lease_ = 0;
    }
  }
  auto granted = client_.lease_grant(options_.lease_ttl_s);
  if (!granted.ok()) {
    spdlog::warn("cannot register in the cluster: {}", granted.error().message);
    return false;
  }
  lease_ = granted.value();
  lease_renewed_ = now;
  return true;
}

std::string ClusterMember::record_json() const {
  json cps = json::array();
  for (const Checkpoint& c : sources_.checkpoints()) {
    cps.push_back({{"index", c.index}, {"commands", c.commands}, {"digest", c.digest}});
  }
  std::string reason = stopped_.load() ? "stopped" : not_ready_reason();
  if (reason.empty() && sources_.local_problem) reason = sources_.local_problem();
  json j = {{"id", options_.node_id},
            {"address", options_.address},
            {"applied_index", sources_.applied()},
            {"ready", reason.empty()},
            {"not_ready_reason", reason},
            {"checkpoints", cps},
            {"snapshot_index", sources_.snapshot_index()},
            {"needs_from", log_.needed_from()}};
  if (sources_.append_latency_s) {
    if (const double l = sources_.append_latency_s(); std::isfinite(l)) j["append_latency_s"] = l;
  }
  j["published_ms"] = ops::wall_ms();
  // Which build: a mixed-version cluster shows in /v1/cluster (docs/cluster.md, "Upgrades").
  j["version"] = ops::build_line();
  return j.dump();
}

void ClusterMember::publish() {
  if (!ensure_lease()) return;
  auto put = client_.put(log_.keys().node_key(options_.node_id), record_json(), lease_);
  if (!put.ok()) {
    spdlog::warn("cannot publish this node's record: {}", put.error().message);
    // A lease etcd no longer knows: take a new one next time.
    if (put.error().message.find("lease not found") != std::string::npos) lease_ = 0;
  }
}

log::Result<std::vector<PeerRecord>> read_peer_records(log::etcd::EtcdLog& log) {
  const std::string prefix = log.keys().nodes_prefix();
  auto r = log.client().range(prefix, log::etcd::prefix_end(prefix));
  if (!r.ok()) return r.error();
  std::vector<PeerRecord> peers;
  for (const auto& kv : r.value().kvs) {
    try {
      json j = json::parse(kv.value);
      PeerRecord p;
      p.id = j.at("id").get<std::string>();
      p.address = j.at("address").get<std::string>();
      p.applied_index = j.at("applied_index").get<uint64_t>();
      p.ready = j.at("ready").get<bool>();
      p.not_ready_reason = j.value("not_ready_reason", "");
      for (const json& c : j.at("checkpoints")) {
        p.checkpoints.push_back(Checkpoint{c.at("index").get<uint64_t>(), c.at("commands").get<uint64_t>(),
                                           c.at("digest").get<std::string>()});
      }
      p.snapshot_index = j.at("snapshot_index").get<uint64_t>();
      p.needs_from = j.at("needs_from").get<uint64_t>();
      p.append_latency_s = j.value("append_latency_s", -1.0);
      p.published_ms = j.value("published_ms", int64_t{0});
      p.version = j.value("version", std::string("unknown (registered by a build before versions)"));
      p.updated_revision = kv.mod_revision;
      peers.push_back(std::move(p));
    } catch (const std::exception& e) {
      spdlog::warn("ignoring the unreadable node record {}: {}", kv.key, e.what());
    }
  }
  return peers;
}

log::Result<std::vector<HoldRecord>> read_hold_records(log::etcd::EtcdLog& log) {
  const std::string prefix = log.keys().holds_prefix();
  auto r = log.client().range(prefix, log::etcd::prefix_end(prefix));
  if (!r.ok()) return r.error();
  std::vector<HoldRecord> holds;
  for (const auto& kv : r.value().kvs) {
    try {
      json j = json::parse(kv.value);
      HoldRecord h;
      h.name = kv.key.substr(prefix.size());
      h.needs_from = j.at("needs_from").get<uint64_t>();
      h.archived = j.value("archived", uint64_t{0});
      h.lag_ms = j.value("lag_ms", int64_t{0});
      h.remote_lag_ms = j.value("remote_lag_ms", int64_t{-1});
      h.at_ms = j.value("at_ms", int64_t{0});
      holds.push_back(std::move(h));
    } catch (const std::exception& e) {
      spdlog::warn("ignoring the unreadable archive hold {}: {}", kv.key, e.what());
    }
  }
  return holds;
}

void ClusterMember::read_peers() {
  auto peers = read_peer_records(log_);
  if (!peers.ok()) return;
  auto holds = read_hold_records(log_);
  std::lock_guard lock(mu_);
  peers_ = std::move(peers.value());
  if (holds.ok()) holds_ = std::move(holds.value());
}

std::vector<HoldRecord> ClusterMember::holds() const {
  std::lock_guard lock(mu_);
  return holds_;
}

void ClusterMember::check_agreement() {
  std::vector<Checkpoint> mine = sources_.checkpoints();
  std::vector<PeerRecord> peers = this->peers();
  for (const Checkpoint& c : mine) {
    // Digests reported for this checkpoint, by node (this node's own first).
    std::map<std::string, std::vector<std::string>> by_digest;
    by_digest[c.digest].push_back(options_.node_id);
    size_t reporting = 1;
    for (const PeerRecord& p : peers) {
      if (p.id == options_.node_id) continue;
      for (const Checkpoint& pc : p.checkpoints) {
        if (pc.index != c.index) continue;
        by_digest[pc.digest].push_back(p.id);
        ++reporting;
      }
    }
    if (by_digest.size() == 1) continue;
    std::string detail = fmt::format("checkpoint at index {}:", c.index);
    for (const auto& [digest, nodes] : by_digest) {
      detail += fmt::format(" {} has {};", fmt::join(nodes, ","), digest);
    }
    size_t mine_count = by_digest[c.digest].size();
    bool minority = false;
    for (const auto& [digest, nodes] : by_digest) {
      if (digest != c.digest && nodes.size() > mine_count && nodes.size() * 2 > reporting) minority = true;
    }
    std::lock_guard lock(mu_);
    std::string alert = "state digests differ at " + detail;
    if (std::find(alerts_.begin(), alerts_.end(), alert) == alerts_.end()) {
      alerts_.push_back(alert);
      if (alerts_.size() > 32) alerts_.erase(alerts_.begin());
      divergences_.inc();
      spdlog::critical("DIVERGENCE: {}", alert);
    }
    if (minority && !divergent_.load()) {
      divergence_ = "this node's digest differs from the majority's at " + detail +
                    " It takes no writes; replace its data from a healthy peer (docs/runbooks)";
      divergent_.store(true);
      spdlog::critical("this node disagrees with the majority and stops taking writes: {}", detail);
    }
  }
}

void ClusterMember::maintain() {
  std::vector<PeerRecord> peers = this->peers();
  if (peers.empty()) return;
  auto lowest = std::min_element(peers.begin(), peers.end(),
                                 [](const PeerRecord& a, const PeerRecord& b) { return a.id < b.id; });
  if (lowest->id != options_.node_id) return;
  uint64_t target = UINT64_MAX;
  for (const PeerRecord& p : peers) target = std::min(target, p.needs_from);
  // An archiver holds the log it has not archived yet (its hold lives as
  // long as its lease: an archiver gone longer loses its claim).
  auto holds = read_hold_records(log_);
  if (!holds.ok()) return;  // never compact without knowing what is held
  if (!log_.base_known()) return;  // nor without knowing how positions map to revisions
  for (const HoldRecord& h : holds.value()) target = std::min(target, h.needs_from);
  // In etcd's revisions (a restored cluster's positions are offset from
  // them; nothing at or below its base is in etcd).
  const int64_t revision = log_.revision_of(log::Position{target});
  if (target > 1 && revision > 1 && static_cast<int64_t>(target) > compacted_to_) {
    auto done = client_.compact(revision);
    if (!done.ok()) {
      spdlog::warn("log compaction to {} failed: {}", target, done.error().message);
      return;
    }
    compacted_to_ = static_cast<int64_t>(target);
    compactions_.inc();
    spdlog::info("log compacted below {} (the oldest position a live node needs)", target);
  }
  if (compacted_to_ == 0) return;  // nothing freed yet

  // Every pass, not only right after a compaction: each member frees the
  // compacted pages in its own time. Defragment the members whose files are mostly free space, one at a time,
  // followers first: a member stalls while it defragments.
  auto members = client_.members();
  if (!members.ok()) return;
  std::vector<log::etcd::Member> todo;
  for (const auto& m : members.value()) {
    if (m.healthy && m.db_size - m.db_size_in_use >= options_.defrag_free_bytes_min) todo.push_back(m);
  }
  std::stable_sort(todo.begin(), todo.end(),
                   [](const auto& a, const auto& b) { return !a.leader && b.leader; });
  for (const auto& m : todo) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    auto t0 = Clock::now();
    auto r = client_.defragment(m.endpoint, 60'000);
    if (!r.ok()) {
      spdlog::warn("defragmenting etcd member {} failed: {}; not touching the others now", m.name,
                   r.error().message);
      return;
    }
    defrags_.inc();
    spdlog::info("defragmented etcd member {} ({} MiB free before) in {} ms", m.name,
                 (m.db_size - m.db_size_in_use) >> 20,
                 std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
  }
}

}  // namespace betcore::node
