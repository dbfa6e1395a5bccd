// A worker thread with a bounded queue, for handlers that must not block HTTP I/O:
// those that wait on etcd or the disk.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace betcore::api {

class OffIoThread {
 public:
  // At most this many tasks wait; beyond, run() refuses (the caller answers 503).
  static constexpr size_t kTasksMax = 16;

  OffIoThread();
  // Runs the tasks still waiting, then joins.
  ~OffIoThread();

  // Queues fn for the worker thread. False (fn not run) when kTasksMax wait
  // already. Any thread.
  bool run(std::function<void()> fn);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::thread thread_;
};

}  // namespace betcore::api
