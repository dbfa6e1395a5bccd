// The node's side of the guard (guard.h): what it samples and what the guard
// may change in it.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cmath>
#include <charconv>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include "node/node.h"
#include "ops/wall_clock.h"
#include "tools/http_client.h"

namespace betcore::node {

double filesystem_bytes(const std::string& path, bool size) {
  struct statvfs v {};
  if (::statvfs(path.c_str(), &v) != 0) return std::numeric_limits<double>::quiet_NaN();
  const auto blocks = size ? v.f_blocks : v.f_bavail;
  return static_cast<double>(blocks) * static_cast<double>(v.f_frsize);
}

// An etcd member's /metrics at its client endpoint ("host:port"), or nothing
// within 500 ms.
std::optional<std::string> member_metrics(const std::string& endpoint,
                                          const std::optional<tls::ClientFiles>& tls) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  uint16_t port = 0;
  const char* digits = endpoint.data() + colon + 1;
  const char* end = endpoint.data() + endpoint.size();
  if (std::from_chars(digits, end, port).ec != std::errc{} || port == 0) return std::nullopt;
  tools::HttpClientOptions o;
  o.connect_timeout_ms = 300;
  o.request_timeout_ms = 500;
  o.tls = tls;  // with etcds://, etcd serves /metrics on its TLS client port too
  tools::Response r = tools::HttpClient(endpoint.substr(0, colon), port, o).get("/metrics");
  if (!r.ok()) return std::nullopt;
  return std::move(r.body);
}

// What the guard may change in this node (guard.h).
class Node::Actuator final : public GuardActuator {
 public:
  explicit Actuator(Node& node) : n_(node) {}
  size_t queue_limit_configured() const override { return n_.options_.queue_commands_max; }
  void set_queue_limit(size_t limit) override { n_.submitter_->set_queue_limit(limit); }
  void set_out_of_rotation(const std::string& reason) override {
    std::lock_guard lock(n_.rotation_mu_);
    n_.out_of_rotation_ = reason;
  }
  bool drains_gently() const override { return n_.options_.haproxy_agent; }
  // Most of the other nodes ready and at most half as slow as this one:
  // draining it leaves the service up and faster. A drained node publishes
  // itself not ready, so two slow nodes cannot both leave.
  bool peers_can_take_traffic(double mine_s, int64_t since_ms) override {
    if (!n_.cluster_) return false;
    size_t others = 0, ready_and_fast = 0;
    for (const PeerRecord& p : n_.cluster_->peers()) {
      if (p.id == n_.options_.node_id) continue;
      ++others;
      if (p.ready && p.published_ms >= since_ms && p.append_latency_s >= 0 &&
          p.append_latency_s <= mine_s / 2) {
        ++ready_and_fast;
      }
    }
    return ready_and_fast >= 1 && 2 * ready_and_fast > others;
  }

  // Each member's Status round trip (etcd_client), and its mean WAL fsync
  // since the last look, from the counters on its /metrics.
  std::vector<EtcdMemberSpeed> etcd_member_speeds() override {
    if (n_.etcd_ == nullptr) return {};
    // Three Status probes 50 ms apart each: a stalling member shows.
    auto members = n_.etcd_->client().members(500, 3, 50);
    if (!members.ok()) return {};
    std::vector<EtcdMemberSpeed> out;
    for (const log::etcd::Member& m : members.value()) {
      EtcdMemberSpeed s;
      s.id = m.id;
      s.name = m.name;
      s.endpoint = m.endpoint;
      s.leader = m.leader;
      s.usable = m.healthy && !m.learner;
      s.status_s = m.error.empty() ? m.status_s : std::numeric_limits<double>::quiet_NaN();
      s.fsync_s = fsync_since_last_look(m);
      s.prober_stall_s = m.prober_stall_s;
      out.push_back(std::move(s));
    }
    return out;
  }

  double free_disk(std::string& done) override {
    const double before = filesystem_bytes(n_.options_.data_dir, false);
    size_t pruned = 0;
    {
      std::lock_guard files(n_.snapshot_files_mu_);
      pruned = n_.snapshots_->prune(1);
      n_.compact_below_snapshots();
    }
    const double freed = filesystem_bytes(n_.options_.data_dir, false) - before;
    const std::vector<uint64_t> kept = n_.snapshots_->list();
    done = fmt::format(
        "kept only the newest snapshot{} ({} older removed) and compacted the log below it: {:.1f} MiB "
        "freed",
        kept.empty() ? "" : fmt::format(" (index {})", kept.back()), pruned,
        std::max(0.0, freed) / (1 << 20));
    return freed;
  }

  bool leave_etcd_member(const std::string& endpoint) override {
    return n_.etcd_ != nullptr && n_.etcd_->leave_member(endpoint);
  }

  bool move_etcd_leader(uint64_t to, std::string& error) override {
    if (n_.etcd_ == nullptr) {
      error = "not in a cluster";
      return false;
    }
    // The leader as it is now: another node's guard may have moved it.
    auto members = n_.etcd_->client().members(500);
    if (!members.ok()) {
      error = members.error().message;
      return false;
    }
    for (const log::etcd::Member& m : members.value()) {
      if (!m.leader) continue;
      if (m.id == to) {
        error = m.name + " leads already (another node's guard moved it)";
        return false;
      }
      auto moved = n_.etcd_->client().move_leader(m.endpoint, to, 5'000);
      if (!moved.ok()) error = moved.error().message;
      return moved.ok();
    }
    error = "no member leads";
    return false;
  }

 private:
  double fsync_since_last_look(const log::etcd::Member& m) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::optional<std::string> text = member_metrics(m.endpoint, n_.etcd_tls());
    if (!text) return nan;
    const std::string& body = *text;
    const auto sum = ops::sample_value(body, "etcd_disk_wal_fsync_duration_seconds_sum");
    const auto count = ops::sample_value(body, "etcd_disk_wal_fsync_duration_seconds_count");
    if (!sum || !count) return nan;
    auto& [last_sum, last_count] = fsync_seen_[m.id];
    const double mean = *count > last_count && last_count > 0 ? (*sum - last_sum) / (*count - last_count) : nan;
    last_sum = *sum;
    last_count = *count;
    return mean;
  }

  Node& n_;
  std::map<uint64_t, std::pair<double, double>> fsync_seen_;  // member -> (sum, count) at the last look
};

std::unique_ptr<GuardActuator> Node::make_guard_actuator() {
  return std::make_unique<Actuator>(*this);
}

std::string Node::out_of_rotation() const {
  std::lock_guard lock(rotation_mu_);
  return out_of_rotation_;
}

std::vector<Incident> Node::incidents(size_t max) const {
  return guard_ ? guard_->incidents(max) : std::vector<Incident>{};
}

// The odds feed producers past their alive deadline, read on the applier's
// thread (a stale read: this node's own state); NaN when it does not answer
// within 500 ms.
void Node::feed_sample(GuardSample& g) {
  struct Answer {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    double down = std::numeric_limits<double>::quiet_NaN();
    double markets = 0;
    std::string names;
  };
  auto answer = std::make_shared<Answer>();
  read(Consistency::stale, 0, [answer](const domain::State* s) {
    std::lock_guard lock(answer->mu);
    answer->done = true;
    answer->cv.notify_one();
    if (s == nullptr) return;
    answer->down = 0;
    for (const domain::Producer& p : s->producers) {
      if (!s->producer_down(p)) continue;
      answer->down += 1;
      if (answer->down <= 5) answer->names += (answer->names.empty() ? "" : ", ") + std::string(p.id);
    }
    if (answer->down == 0) return;
    for (const domain::Market& m : s->markets) {
      if (m.status == domain::MarketStatus::open && s->feed_silent(m)) answer->markets += 1;
    }
  });
  std::unique_lock lock(answer->mu);
  answer->cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return answer->done; });
  g.producers_down = answer->down;
  g.producers_down_names = answer->names;
  g.markets_of_down = answer->markets;
}

// Every tenth sample in a cluster: the largest etcd member's database and
// the quota it may reach (etcd_server_quota_backend_bytes, from the leader's
// /metrics); NaN otherwise.
void Node::etcd_size_sample(GuardSample& g) {
  if (etcd_ == nullptr || guard_samples_++ % 10 != 0) return;
  auto members = etcd_->client().members(300);
  if (!members.ok()) return;
  double db = 0, quota = std::numeric_limits<double>::quiet_NaN();
  for (const log::etcd::Member& m : members.value()) {
    if (!m.error.empty()) continue;
    db = std::max(db, static_cast<double>(m.db_size));
    if (m.leader) {
      if (const auto text = member_metrics(m.endpoint, etcd_tls())) {
        if (const auto q = ops::sample_value(*text, "etcd_server_quota_backend_bytes")) quota = *q;
      }
    }
  }
  if (db > 0 && std::isfinite(quota)) {
    g.etcd_db_bytes = db;
    g.etcd_quota_bytes = quota;
  }
}

GuardSample Node::guard_sample() {
  GuardSample g;
  g.at_ms = ops::wall_ms();
  const BusinessMetrics& business = applier_->business();
  g.bets_accepted_total = business.bets_accepted();
  g.bets_refused_total = business.bets_refused();
  g.bets_refused_by_reason = business.bets_refused_by_code();
  g.commands_applied_total = static_cast<double>(applier_->commands_applied());
  g.commands_appended_total = static_cast<double>(submitter_->commands_appended());
  const ops::Histogram::Snapshot append = submitter_->append_seconds().snapshot();
  g.append_count = static_cast<double>(append.count);
  g.append_sum_s = append.sum;
  const NodeStatus st = status();
  g.head = static_cast<double>(st.log_head);
  g.applied = static_cast<double>(st.applied_index);
  g.queued = static_cast<double>(st.queued);
  g.etcd_round_trip_count = g.etcd_round_trip_sum_s = std::numeric_limits<double>::quiet_NaN();
  if (cluster_) {
    const ops::Histogram::Snapshot rt = cluster_->round_trip_seconds().snapshot();
    g.etcd_round_trip_count = static_cast<double>(rt.count);
    g.etcd_round_trip_sum_s = rt.sum;
  }
  feed_sample(g);
  etcd_size_sample(g);
  g.disk_free_bytes = filesystem_bytes(options_.data_dir, false);
  g.disk_size_bytes = filesystem_bytes(options_.data_dir, true);
  return g;
}

}  // namespace betcore::node
