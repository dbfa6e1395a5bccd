#include "tools/latency_histogram.h"

#include <gtest/gtest.h>

#include <cmath>

namespace betcore::tools {
namespace {

// Within the histogram's documented precision (1/128) of `expected`.
void ExpectNear(uint64_t actual, uint64_t expected) {
  EXPECT_NEAR(static_cast<double>(actual), static_cast<double>(expected),
              std::max(1.0, static_cast<double>(expected) / 128.0))
      << "expected about " << expected;
}

TEST(LatencyHistogram, EmptyAnswersZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(100), 100u);
  EXPECT_EQ(h.percentile(0), 1u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(LatencyHistogram, UniformPercentilesWithinPrecision) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v);
  ExpectNear(h.percentile(50), 50000);
  ExpectNear(h.percentile(90), 90000);
  ExpectNear(h.percentile(99), 99000);
  ExpectNear(h.percentile(99.9), 99900);
  EXPECT_EQ(h.max(), 100000u);
  EXPECT_EQ(h.percentile(100), 100000u);
}

TEST(LatencyHistogram, TailIsSeenAmongManyFastValues) {
  LatencyHistogram h;
  for (int i = 0; i < 9990; ++i) h.record(1000);     // 1 ms
  for (int i = 0; i < 10; ++i) h.record(2'000'000);  // 2 s
  ExpectNear(h.percentile(99), 1000);
  ExpectNear(h.percentile(99.95), 2'000'000);
  EXPECT_EQ(h.max(), 2'000'000u);
}

TEST(LatencyHistogram, HugeValuesAreClampedButMaxIsExact) {
  LatencyHistogram h;
  h.record(UINT64_MAX / 2);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), UINT64_MAX / 2);
  EXPECT_EQ(h.percentile(100), UINT64_MAX / 2);
}

TEST(LatencyHistogram, MergeAddsCounts) {
  LatencyHistogram a;
  LatencyHistogram b;
  for (uint64_t v = 1; v <= 500; ++v) a.record(v);
  for (uint64_t v = 501; v <= 1000; ++v) b.record(v);
  a.merge(b);
  EXPECT_EQ(a.count(), 1000u);
  EXPECT_EQ(a.min(), 1u);
  EXPECT_EQ(a.max(), 1000u);
  ExpectNear(a.percentile(50), 500);
  ExpectNear(a.percentile(75), 750);
}

TEST(LatencyHistogram, BucketsCoverEveryValueOnce) {
  // Each bucket's highest value maps back to it, and the next value to the
  // next bucket: the buckets tile the number line without gaps.
  for (size_t b = 0; b < 4000; ++b) {
    uint64_t hi = LatencyHistogram::bucket_highest(b);
    ASSERT_EQ(LatencyHistogram::bucket_of(hi), b);
    ASSERT_EQ(LatencyHistogram::bucket_of(hi + 1), b + 1);
  }
}

}  // namespace
}  // namespace betcore::tools
