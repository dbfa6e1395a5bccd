// A log-linear (HDR-style) histogram of non-negative integers, e.g. latencies
// in microseconds. Bounded memory (~36 KB) whatever the number of samples.
//
// Values below 256 are counted exactly; above, each power of two is split into
// 128 buckets, so a reported value is within 1/128 (< 0.8 %) of the truth.
// Values above 2^41 - 1 are counted in the last bucket; max() stays exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace betcore::tools {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void record(uint64_t value);
  void merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

  // The smallest recorded value v (up to bucket precision) such that at least
  // `percent` % of the values are <= v; `percent` is clamped to [0, 100].
  // 0 when empty; percentile(100) == max().
  uint64_t percentile(double percent) const;

  // Bucket arithmetic, public for tests.
  static size_t bucket_of(uint64_t value);
  static uint64_t bucket_highest(size_t bucket);  // the largest value in `bucket`

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace betcore::tools
