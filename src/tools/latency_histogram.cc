#include "tools/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace betcore::tools {

namespace {

constexpr int kLinearBits = 8;                            // exact below 256
constexpr uint64_t kLinear = uint64_t{1} << kLinearBits;  // 256
constexpr uint64_t kHalf = kLinear / 2;                   // buckets per power of two
constexpr int kTopBit = 40;                               // largest tracked value < 2^41
constexpr uint64_t kTrackedMax = (uint64_t{1} << (kTopBit + 1)) - 1;
constexpr size_t kBuckets = (kTopBit - kLinearBits + 1) * kHalf + kLinear;

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

size_t LatencyHistogram::bucket_of(uint64_t value) {
  value = std::min(value, kTrackedMax);
  if (value < kLinear) return static_cast<size_t>(value);
  int top = std::bit_width(value) - 1;  // >= kLinearBits
  int shift = top - (kLinearBits - 1);
  return static_cast<size_t>(shift) * kHalf + static_cast<size_t>(value >> shift);
}

uint64_t LatencyHistogram::bucket_highest(size_t bucket) {
  if (bucket < kLinear) return bucket;
  uint64_t shift = bucket / kHalf - 1;
  uint64_t low = (kHalf + bucket % kHalf) << shift;
  return low + (uint64_t{1} << shift) - 1;
}

void LatencyHistogram::record(uint64_t value) {
  ++counts_[bucket_of(value)];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::percentile(double percent) const {
  if (count_ == 0) return 0;
  percent = std::clamp(percent, 0.0, 100.0);
  auto rank = static_cast<uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(bucket_highest(i), min(), max_);
  }
  return max_;
}

}  // namespace betcore::tools
