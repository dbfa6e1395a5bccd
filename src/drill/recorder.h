// The drill's log recorder: watches the etcd log from the root namespace and keeps every committed
// batch, for the checker.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log/etcd/etcd_log.h"

namespace betcore::drill {

// Thread affinity: its own reader thread; the accessors from any thread.
class Recorder {
 public:
  // Records from the log's start, or after `before` (the batches up to a
  // restored position: a cluster loaded by `betcore restore --etcd` holds
  // only those after it).
  explicit Recorder(const std::vector<std::string>& endpoints, std::vector<log::Entry> before = {});
  ~Recorder() { stop(); }
  void stop();

  uint64_t last() const { return last_.load(); }  // the last position held
  std::vector<log::Entry> entries();
  // Why the recording stopped early ("" while it has not).
  std::string problem();

 private:
  void run();

  std::unique_ptr<log::etcd::EtcdLog> log_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> last_{0};
  std::mutex mu_;                    // guards entries_ and problem_
  std::vector<log::Entry> entries_;  // every committed batch, in order
  std::string problem_;
};

}  // namespace betcore::drill
