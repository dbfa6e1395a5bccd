// The retry budget's sliding window (retry_budget.h).
#include "payments/retry_budget.h"

#include <algorithm>

namespace betcore::payments {

RetryBudget::RetryBudget(RetryBudgetConfig config) : config_(config) {}

int64_t RetryBudget::second_of(Clock::time_point t) const {
  return std::chrono::duration_cast<std::chrono::seconds>(t - epoch_).count();
}

RetryBudget::Bucket& RetryBudget::bucket(int64_t second) {
  Bucket& b = buckets_[static_cast<size_t>(second % kBuckets)];
  if (b.second != second) b = Bucket{second, 0, 0};
  return b;
}

void RetryBudget::deposit(Clock::time_point now) {
  std::lock_guard lock(mu_);
  ++bucket(second_of(now)).calls;
}

bool RetryBudget::try_withdraw(Clock::time_point now) {
  std::lock_guard lock(mu_);
  const int64_t s = second_of(now);
  const int ttl = std::clamp(config_.ttl_s, 1, kBuckets);
  uint64_t calls = 0, retries = 0;
  for (const Bucket& b : buckets_) {
    if (b.second > s - ttl && b.second <= s) {
      calls += b.calls;
      retries += b.retries;
    }
  }
  const double allowed = config_.min_retries_per_s * ttl +
                         config_.percent_can_retry / 100.0 * static_cast<double>(calls);
  if (static_cast<double>(retries) + 1 > allowed) {
    ++refused_;
    return false;
  }
  ++bucket(s).retries;
  return true;
}

uint64_t RetryBudget::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

}  // namespace betcore::payments
