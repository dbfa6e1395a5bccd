// A circuit breaker with resilience4j's semantics and defaults
// (CircuitBreakerConfig, resilience4j 2.x): closed → open when, over a
// count-based sliding window, the failure rate or the slow-call rate reaches
// its threshold (once the window holds the minimum number of calls); open →
// half-open on the first call attempt after the wait; half-open lets a fixed
// number of trial calls through and closes or reopens on their rates.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace betcore::payments {

struct BreakerConfig {
  // resilience4j's defaults, all changeable by flags (integrations.md).
  double failure_rate_threshold = 50;      // percent
  double slow_call_rate_threshold = 100;   // percent
  int64_t slow_call_duration_ms = 60000;   // a call at least this long is slow
  int sliding_window_size = 100;           // calls (COUNT_BASED)
  int minimum_number_of_calls = 100;       // before any rate is judged
  int64_t wait_open_ms = 60000;            // open → half-open after this
  int permitted_calls_in_half_open = 10;   // trial calls
};

enum class BreakerState : uint8_t { closed = 0, open = 1, half_open = 2 };
std::string_view to_string(BreakerState s);

// What a caller holds for one permitted call; give it back to record().
struct Permit {
  bool granted = false;
  BreakerState state = BreakerState::closed;  // the state that granted it
  uint64_t generation = 0;                    // outcomes of older generations are dropped
  std::chrono::steady_clock::time_point started;
};

// Counts for /metrics and the tests. All monotonic.
struct BreakerCounts {
  uint64_t granted_closed = 0;
  uint64_t granted_half_open = 0;
  uint64_t not_permitted = 0;
  uint64_t opened = 0;     // transitions into open
  uint64_t half_opened = 0;
  uint64_t closed = 0;     // transitions from half-open back to closed
  std::chrono::steady_clock::time_point last_opened{};  // the last transition into open (epoch: never)
};

// Thread-safe. The clock is passed in so tests can drive it.
class Breaker {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Breaker(BreakerConfig config = {});

  Permit try_acquire(Clock::time_point now = Clock::now());
  // `failure`: the call failed in a way that says the endpoint is unwell
  // (transport error, timeout, 5xx, 429); a business 4xx is a success here.
  void record(const Permit& permit, bool failure, Clock::time_point now = Clock::now());

  BreakerState state() const;
  BreakerCounts counts() const;
  // How long until an open breaker lets a trial call through (0 if not open).
  int64_t open_remaining_ms(Clock::time_point now = Clock::now()) const;

 private:
  struct Outcome {
    bool failure = false;
    bool slow = false;
  };
  void transition(BreakerState to, Clock::time_point now);
  bool rates_trip(const std::vector<Outcome>& calls) const;

  const BreakerConfig config_;
  mutable std::mutex mu_;
  BreakerState state_ = BreakerState::closed;
  uint64_t generation_ = 0;
  Clock::time_point opened_at_{};
  std::vector<Outcome> window_;  // ring of the last sliding_window_size outcomes (closed)
  size_t window_next_ = 0;
  int half_open_granted_ = 0;
  std::vector<Outcome> trials_;  // outcomes of the half-open trials
  BreakerCounts counts_;
};

}  // namespace betcore::payments
