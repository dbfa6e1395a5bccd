// The drill's health monitor: samples every node's and etcd member's health every 200 ms.
#include "drill/monitor.h"

#include "drill/clock.h"

namespace betcore::drill {

constexpr int64_t kSampleEveryMs = 200;

Monitor::Monitor(const DrillCluster& c) : c_(c) {
  thread_ = std::thread([this] { run(); });
}

void Monitor::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

std::vector<HealthPoint> Monitor::samples() {
  std::lock_guard lock(mu_);
  return samples_;
}

void Monitor::run() {
  while (!stop_.load()) {
    HealthPoint s;
    s.at_ms = now_ms();
    for (int i = 0; i < kNodes; ++i) s.node_ready.push_back(c_.node_ready(i));
    for (int i = 0; i < kEtcdMembers; ++i) s.etcd_healthy.push_back(c_.etcd_healthy(i));
    {
      std::lock_guard lock(mu_);
      samples_.push_back(std::move(s));
    }
    sleep_ms(kSampleEveryMs);
  }
}

}  // namespace betcore::drill
