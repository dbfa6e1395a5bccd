// The circuit breaker's state machine (breaker.h).
#include "payments/breaker.h"

#include <algorithm>

namespace betcore::payments {

std::string_view to_string(BreakerState s) {
  switch (s) {
    case BreakerState::closed: return "closed";
    case BreakerState::open: return "open";
    case BreakerState::half_open: return "half_open";
  }
  return "unknown";
}

Breaker::Breaker(BreakerConfig config) : config_(config) {
  window_.reserve(static_cast<size_t>(std::max(1, config_.sliding_window_size)));
}

bool Breaker::rates_trip(const std::vector<Outcome>& calls) const {
  if (calls.empty()) return false;
  size_t failures = 0, slow = 0;
  for (const Outcome& o : calls) {
    failures += o.failure ? 1 : 0;
    slow += o.slow ? 1 : 0;
  }
  const double n = static_cast<double>(calls.size());
  return 100.0 * static_cast<double>(failures) / n >= config_.failure_rate_threshold ||
         100.0 * static_cast<double>(slow) / n >= config_.slow_call_rate_threshold;
}

void Breaker::transition(BreakerState to, Clock::time_point now) {
  state_ = to;
  ++generation_;
  switch (to) {
    case BreakerState::open:
      opened_at_ = now;
      ++counts_.opened;
      counts_.last_opened = now;
      break;
    case BreakerState::half_open:
      half_open_granted_ = 0;
      trials_.clear();
      ++counts_.half_opened;
      break;
    case BreakerState::closed:
      window_.clear();
      window_next_ = 0;
      ++counts_.closed;
      break;
  }
}

Permit Breaker::try_acquire(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (state_ == BreakerState::open &&
      now - opened_at_ >= std::chrono::milliseconds(config_.wait_open_ms)) {
    transition(BreakerState::half_open, now);
  }
  Permit p;
  p.state = state_;
  p.generation = generation_;
  p.started = now;
  switch (state_) {
    case BreakerState::closed:
      p.granted = true;
      ++counts_.granted_closed;
      break;
    case BreakerState::half_open:
      if (half_open_granted_ < config_.permitted_calls_in_half_open) {
        ++half_open_granted_;
        p.granted = true;
        ++counts_.granted_half_open;
      } else {
        ++counts_.not_permitted;
      }
      break;
    case BreakerState::open:
      ++counts_.not_permitted;
      break;
  }
  return p;
}

void Breaker::record(const Permit& permit, bool failure, Clock::time_point now) {
  if (!permit.granted) return;
  std::lock_guard lock(mu_);
  // A call that began before the last transition says nothing about now.
  if (permit.generation != generation_) return;
  Outcome o;
  o.failure = failure;
  o.slow = now - permit.started >= std::chrono::milliseconds(config_.slow_call_duration_ms);
  if (state_ == BreakerState::closed) {
    const size_t size = static_cast<size_t>(std::max(1, config_.sliding_window_size));
    if (window_.size() < size) {
      window_.push_back(o);
    } else {
      window_[window_next_] = o;
    }
    window_next_ = (window_next_ + 1) % size;
    const size_t minimum =
        std::min(size, static_cast<size_t>(std::max(1, config_.minimum_number_of_calls)));
    if (window_.size() >= minimum && rates_trip(window_)) transition(BreakerState::open, now);
  } else if (state_ == BreakerState::half_open) {
    trials_.push_back(o);
    if (trials_.size() >= static_cast<size_t>(config_.permitted_calls_in_half_open)) {
      transition(rates_trip(trials_) ? BreakerState::open : BreakerState::closed, now);
    }
  }
}

BreakerState Breaker::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

BreakerCounts Breaker::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

int64_t Breaker::open_remaining_ms(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  if (state_ != BreakerState::open) return 0;
  const auto left = std::chrono::milliseconds(config_.wait_open_ms) - (now - opened_at_);
  return std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(left).count());
}

}  // namespace betcore::payments
