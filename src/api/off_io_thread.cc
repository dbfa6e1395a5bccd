// A worker thread with a bounded queue, for handlers that must not block HTTP I/O.
#include "api/off_io_thread.h"

namespace betcore::api {

OffIoThread::OffIoThread() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      std::function<void()> fn = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  });
}

OffIoThread::~OffIoThread() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool OffIoThread::run(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (tasks_.size() >= kTasksMax) return false;
    tasks_.push_back(std::move(fn));
  }
  cv_.notify_one();
  return true;
}

}  // namespace betcore::api
