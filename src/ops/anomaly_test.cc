#include "ops/anomaly.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace betcore::ops {
namespace {

EwmaBand::Options latency_band() {
  EwmaBand::Options o;
  o.alpha = 0.05;
  o.k = 4;
  o.warmup_samples = 30;
  return o;
}

TEST(EwmaBand, NoBandWhileWarmingUpThenOneAroundTheMean) {
  EwmaBand b(latency_band());
  for (int i = 0; i < 29; ++i) {
    b.learn(10 + (i % 2));  // 10, 11, 10, ...
    EXPECT_FALSE(b.band().has_value()) << i;
  }
  b.learn(10);
  ASSERT_TRUE(b.band().has_value());
  EXPECT_NEAR(b.band()->expected, 10.5, 0.1);
  EXPECT_LT(b.band()->low, 10);
  EXPECT_GT(b.band()->high, 11);
  EXPECT_LT(b.band()->high, 14) << "4 sd of a 0.5 sd signal";
}

TEST(EwmaBand, AFlatSignalGetsTheMinimumSpread) {
  EwmaBand::Options o = latency_band();
  o.spread_min = 2;
  o.spread_min_ratio = 0.5;
  EwmaBand b(o);
  for (int i = 0; i < 100; ++i) b.learn(10);
  ASSERT_TRUE(b.band().has_value());
  EXPECT_DOUBLE_EQ(b.band()->low, 5);  // 50% of 10 beats the absolute 2
  EXPECT_DOUBLE_EQ(b.band()->high, 15);
}

// Steady noise raises nothing; a step up raises after raise_after samples and
// clears after clear_after once it is back; the step is not learned.
TEST(Detector, RaisesOnAStepAfterItsRunAndClearsAfterTheReturn) {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(5.0, 0.5);  // ms
  Detector<EwmaBand> d(EwmaBand(latency_band()), 5, 10);
  for (int i = 0; i < 600; ++i) {
    Verdict v = d.observe(noise(rng));
    ASSERT_NE(v.change, Verdict::Change::raised) << "false positive at sample " << i;
  }
  int raised_at = -1;
  for (int i = 0; i < 20; ++i) {
    Verdict v = d.observe(50 + noise(rng));
    if (v.change == Verdict::Change::raised) raised_at = i;
    ASSERT_TRUE(v.out_of_band);
    ASSERT_TRUE(v.band.has_value());
    EXPECT_LT(v.band->high, 10) << "the step must not widen the band";
  }
  EXPECT_EQ(raised_at, 4) << "raised on the 5th sample out of band";
  int cleared_at = -1;
  for (int i = 0; i < 20; ++i) {
    Verdict v = d.observe(noise(rng));
    if (v.change == Verdict::Change::cleared) cleared_at = i;
  }
  EXPECT_EQ(cleared_at, 9);
  EXPECT_FALSE(d.anomalous());
}

TEST(Detector, OneOutlierRaisesNothing) {
  Detector<EwmaBand> d(EwmaBand(latency_band()), 3, 3);
  for (int i = 0; i < 100; ++i) d.observe(5 + (i % 3) * 0.1);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(d.observe(i == 2 ? 500 : 5.1).change, Verdict::Change::none);
  }
  EXPECT_FALSE(d.anomalous());
}

TEST(Detector, ALastingChangeBecomesTheNewNormalAfterRelearnAfter) {
  Detector<EwmaBand> d(EwmaBand(latency_band()), 3, 3, /*relearn_after=*/60);
  for (int i = 0; i < 100; ++i) d.observe(5 + (i % 2) * 0.2);
  bool cleared = false;
  for (int i = 0; i < 400 && !cleared; ++i)
    cleared = d.observe(20 + (i % 2) * 0.2).change == Verdict::Change::cleared;
  EXPECT_TRUE(cleared) << "20 is the normal now";
}

// A daily shape (quiet nights, busy evenings) learned by Holt-Winters: the
// evening peak is no anomaly, the same rate at 4 a.m. is.
TEST(HoltWinters, LearnsADailyShapeAndFlagsTheSameRateAtTheWrongHour) {
  HoltWinters::Options o;
  o.season = 24;  // hours of a day
  o.k = 4;
  o.spread_min = 5;
  auto rate = [](int hour) {
    return 100 + 80 * std::sin((hour - 6) * 3.14159265 / 12);
  };  // 20..180
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 3);
  Detector<HoltWinters> d(HoltWinters(o), 1, 1);
  for (int day = 0; day < 7; ++day) {
    for (int h = 0; h < 24; ++h) {
      Verdict v = d.observe(rate(h) + noise(rng));
      if (day > 1) {
        ASSERT_FALSE(v.out_of_band)
            << "day " << day << " hour " << h << ": " << v.band->low << ".." << v.band->high;
      }
    }
  }
  // Day 8: normal until 3 a.m., then the evening's rate at 4 a.m.
  for (int h = 0; h < 4; ++h) ASSERT_FALSE(d.observe(rate(h)).out_of_band);
  Verdict night = d.observe(rate(12));
  EXPECT_TRUE(night.out_of_band);
  ASSERT_TRUE(night.band.has_value());
  EXPECT_LT(night.band->high, rate(12)) << "expected about " << rate(4);
  EXPECT_NEAR(night.band->expected, rate(4), 15);
}

TEST(Trend, PredictsWhenAFallingValueReachesItsLimit) {
  Trend t(100);
  EXPECT_FALSE(t.time_to(0).has_value());
  for (int s = 0; s < 60; ++s) t.add(s, 1000.0 - 5.0 * s);  // 5 units/s down, at 705 at t=59
  ASSERT_TRUE(t.slope().has_value());
  EXPECT_NEAR(*t.slope(), -5, 1e-9);
  ASSERT_TRUE(t.time_to(0).has_value());
  EXPECT_NEAR(*t.time_to(0), 141, 1e-6);
  EXPECT_FALSE(t.time_to(2000).has_value()) << "moving away from it";
  EXPECT_EQ(t.span(), 59);
  for (int s = 60; s < 200; ++s) t.add(s, 1000.0 - 5.0 * s);
  EXPECT_EQ(t.span(), 100) << "only the window is kept";
  Trend flat(10);
  for (int s = 0; s < 10; ++s) flat.add(s, 7);
  EXPECT_FALSE(flat.time_to(0).has_value());
}

}  // namespace
}  // namespace betcore::ops
