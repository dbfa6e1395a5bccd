// A retry budget (Finagle's RetryBudget, its defaults): over the last `ttl`,
// retries may be at most `percent_can_retry` of the calls plus a floor of
// `min_retries_per_s`. When a dependency fails, every call wants a retry; the
// budget keeps retries from multiplying the load on something already down.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace betcore::payments {

struct RetryBudgetConfig {
  int ttl_s = 10;
  double min_retries_per_s = 10;
  double percent_can_retry = 20;  // percent of first calls
};

// Thread-safe. Time in whole seconds, buckets of one second.
class RetryBudget {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RetryBudget(RetryBudgetConfig config = {});

  // A first attempt (not a retry) was made.
  void deposit(Clock::time_point now = Clock::now());
  // May a retry be made now? If so it is counted.
  bool try_withdraw(Clock::time_point now = Clock::now());

  uint64_t refused() const;

 private:
  static constexpr int kBuckets = 64;  // ttl_s at most this
  struct Bucket {
    int64_t second = -1;
    uint64_t calls = 0;
    uint64_t retries = 0;
  };
  Bucket& bucket(int64_t second);
  int64_t second_of(Clock::time_point t) const;

  const RetryBudgetConfig config_;
  const Clock::time_point epoch_ = Clock::now();
  mutable std::mutex mu_;
  std::array<Bucket, kBuckets> buckets_{};
  uint64_t refused_ = 0;
};

}  // namespace betcore::payments
