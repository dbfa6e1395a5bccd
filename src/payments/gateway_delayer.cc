// The gateway's timer thread for answers held back on purpose.
#include "payments/gateway_delayer.h"

namespace betcore::payments::gateway {

Delayer::Delayer() : thread_([this] { run(); }) {}

Delayer::~Delayer() { stop(); }

bool Delayer::hold(http::Responder responder, http::Response response, int delay_ms) {
  if (delay_ms > 0) {
    std::lock_guard lock(mu_);
    if (!stopping_ && held_.size() < kHeldAnswersMax) {
      held_.push(Held{Clock::now() + std::chrono::milliseconds(delay_ms), next_order_++,
                      std::move(responder), std::move(response)});
      wake_.notify_one();
      return true;
    }
  }
  responder.send(std::move(response));
  return delay_ms <= 0;
}

void Delayer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    held_ = {};
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Delayer::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (held_.empty()) {
      wake_.wait(lock);
      continue;
    }
    // A copy: wait_until reads its deadline again after waking, when stop()
    // may have freed the element (found by ASan).
    const Clock::time_point due = held_.top().due;
    if (due > Clock::now()) {
      wake_.wait_until(lock, due);
      continue;
    }
    // priority_queue::top is const: copy the handles out (both are cheap).
    Held h = held_.top();
    held_.pop();
    lock.unlock();
    h.responder.send(std::move(h.response));
    lock.lock();
  }
}

}  // namespace betcore::payments::gateway
