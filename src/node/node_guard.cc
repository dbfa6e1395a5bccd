// The node's side of the guard (guard.h): what it samples and what the guard
// may change in it.
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <limits>
#include <string>
#include <vector>

#include "node/node.h"
#include "ops/wall_clock.h"

namespace betcore::node {

double filesystem_bytes(const std::string& path, bool size) {
  struct statvfs v {};
  if (::statvfs(path.c_str(), &v) != 0) return std::numeric_limits<double>::quiet_NaN();
  const auto blocks = size ? v.f_blocks : v.f_bavail;
  return static_cast<double>(blocks) * static_cast<double>(v.f_frsize);
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
  // Most of the other nodes ready and at most half as slow as this one:
  // draining it leaves the service up and faster. A drained node publishes
  // itself not ready, so two slow nodes cannot both leave.
  bool peers_can_take_traffic(double mine_s) override {
    if (!n_.cluster_) return false;
    size_t others = 0, ready_and_fast = 0;
    for (const PeerRecord& p : n_.cluster_->peers()) {
      if (p.id == n_.options_.node_id) continue;
      ++others;
      if (p.ready && p.append_latency_s >= 0 && p.append_latency_s <= mine_s / 2) ++ready_and_fast;
    }
    return ready_and_fast >= 1 && 2 * ready_and_fast > others;
  }

 private:
  Node& n_;
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

GuardSample Node::guard_sample() const {
  GuardSample g;
  g.at_ms = ops::wall_ms();
  const BusinessMetrics& business = applier_->business();
  g.bets_accepted_total = business.bets_accepted();
  g.bets_refused_total = business.bets_refused();
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
  g.disk_free_bytes = filesystem_bytes(options_.data_dir, false);
  g.disk_size_bytes = filesystem_bytes(options_.data_dir, true);
  return g;
}

}  // namespace betcore::node
