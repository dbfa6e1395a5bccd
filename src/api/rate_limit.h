// Token buckets per key (docs/security.md, "Limits"): a client holds its
// budget, others are unaffected. The API keeps one limiter per token and one
// per client address; a request over either gets 429 rate_limited with
// Retry-After (API.md, Errors).
//
// Thread-safe: admit() runs on every I/O thread. The keys are sharded over
// mutexes so threads rarely meet; each shard is bounded (keys_max): when full,
// buckets that have refilled (idle clients) are dropped first, then the
// stalest, so a flood of new addresses cannot grow memory without bound.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace betcore::api {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    double rate_per_s = 0;  // refill; 0: no limit
    double burst = 0;       // bucket size (at least 1)
    size_t keys_max = 100'000;
  };
  // Retry-After's upper bound: a tiny rate must not promise a wait of days
  // (or overflow int); a client told an hour asks again then.
  static constexpr int kRetryAfterMaxS = 3600;
  explicit RateLimiter(Options options);

  bool enabled() const { return options_.rate_per_s > 0; }
  // True when `key` may make one more request at `now` (and takes a token).
  // False with `retry_after_s` (1 to kRetryAfterMaxS): when the next token is there.
  bool admit(std::string_view key, Clock::time_point now, int& retry_after_s);
  size_t keys() const;

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point at;
  };
  struct Shard {
    std::mutex mu;
    absl::flat_hash_map<std::string, Bucket> buckets;  // guarded by mu
  };
  static constexpr size_t kShards = 16;
  void make_room(Shard& shard, Clock::time_point now);

  const Options options_;
  const size_t shard_keys_max_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace betcore::api
