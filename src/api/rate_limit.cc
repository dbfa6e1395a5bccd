#include "api/rate_limit.h"

#include <absl/hash/hash.h>

#include <algorithm>
#include <cmath>

namespace betcore::api {

RateLimiter::RateLimiter(Options options)
    : options_{options.rate_per_s, std::max(1.0, options.burst), std::max<size_t>(options.keys_max, 1)},
      shard_keys_max_(std::max<size_t>(1, options_.keys_max / kShards)) {}

size_t RateLimiter::keys() const {
  size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

void RateLimiter::make_room(Shard& shard, Clock::time_point now) {
  // Idle buckets first: a client that has refilled its whole burst loses
  // nothing when its bucket is forgotten (a new one starts full).
  const double refill_s = options_.burst / options_.rate_per_s;
  absl::erase_if(shard.buckets, [&](const auto& kv) {
    return std::chrono::duration<double>(now - kv.second.at).count() >= refill_s;
  });
  if (shard.buckets.size() < shard_keys_max_) return;
  // All busy (a flood of distinct keys): drop the stalest.
  auto stalest = std::min_element(shard.buckets.begin(), shard.buckets.end(),
                                  [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
  shard.buckets.erase(stalest);
}

bool RateLimiter::admit(std::string_view key, Clock::time_point now, int& retry_after_s) {
  if (!enabled()) return true;
  Shard& shard = shards_[absl::Hash<std::string_view>{}(key) % kShards];
  std::lock_guard lock(shard.mu);
  // Debian's Abseil has its own string_view type.
  auto it = shard.buckets.find(absl::string_view(key.data(), key.size()));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= shard_keys_max_) make_room(shard, now);
    it = shard.buckets.emplace(std::string(key), Bucket{options_.burst, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed_s = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(options_.burst, b.tokens + std::max(0.0, elapsed_s) * options_.rate_per_s);
  b.at = std::max(b.at, now);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  // Clamped in double: the quotient may be far beyond int's range.
  const double wait_s = std::ceil((1 - b.tokens) / options_.rate_per_s);
  retry_after_s = static_cast<int>(std::clamp(wait_s, 1.0, double{kRetryAfterMaxS}));
  return false;
}

}  // namespace betcore::api
