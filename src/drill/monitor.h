// The drill's health monitor: every 200 ms, each node's /health/ready and each etcd member's
// /health, for the report's time to detect.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "drill/cluster.h"
#include "drill/report.h"

namespace betcore::drill {

// Thread affinity: its own sampling thread; samples() from any thread.
class Monitor {
 public:
  explicit Monitor(const DrillCluster& c);
  ~Monitor() { stop(); }
  void stop();
  std::vector<HealthPoint> samples();

 private:
  void run();

  const DrillCluster& c_;  // only probed: node_ready, etcd_healthy
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // guards samples_
  std::vector<HealthPoint> samples_;
};

}  // namespace betcore::drill
