#include "ops/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace betcore::ops {
namespace {

TEST(Metrics, ExpositionTextIsExact) {
  Registry r;
  r.counter("betcore_requests_total", "Requests answered.", {{"route", "bets"}, {"code", "201"}})
      .inc(3);
  r.counter("betcore_requests_total", "Requests answered.", {{"code", "404"}, {"route", "bets"}})
      .inc();
  r.gauge("betcore_queue_depth", "Commands waiting.").set(-2.5);
  auto applied =
      r.gauge_callback("betcore_applied_index", "Applied log position.", {}, [] { return 812.0; });
  const double bounds[] = {0.25, 1, 4};
  Histogram& h = r.histogram("betcore_commit_seconds", "Commit latency.", {{"node", "n1"}}, bounds);
  h.observe(0.5);
  h.observe(0.25);  // le is inclusive
  h.observe(2.0);
  h.observe(8.0);
  r.counter("betcore_empty_total", "Never incremented.");

  EXPECT_EQ(r.expose(),
            "# HELP betcore_applied_index Applied log position.\n"
            "# TYPE betcore_applied_index gauge\n"
            "betcore_applied_index 812\n"
            "# HELP betcore_commit_seconds Commit latency.\n"
            "# TYPE betcore_commit_seconds histogram\n"
            "betcore_commit_seconds_bucket{node=\"n1\",le=\"0.25\"} 1\n"
            "betcore_commit_seconds_bucket{node=\"n1\",le=\"1\"} 2\n"
            "betcore_commit_seconds_bucket{node=\"n1\",le=\"4\"} 3\n"
            "betcore_commit_seconds_bucket{node=\"n1\",le=\"+Inf\"} 4\n"
            "betcore_commit_seconds_sum{node=\"n1\"} 10.75\n"
            "betcore_commit_seconds_count{node=\"n1\"} 4\n"
            "# HELP betcore_empty_total Never incremented.\n"
            "# TYPE betcore_empty_total counter\n"
            "betcore_empty_total 0\n"
            "# HELP betcore_queue_depth Commands waiting.\n"
            "# TYPE betcore_queue_depth gauge\n"
            "betcore_queue_depth -2.5\n"
            "# HELP betcore_requests_total Requests answered.\n"
            "# TYPE betcore_requests_total counter\n"
            "betcore_requests_total{code=\"201\",route=\"bets\"} 3\n"
            "betcore_requests_total{code=\"404\",route=\"bets\"} 1\n");
}

TEST(Metrics, UnlabelledHistogramAndDefaultBuckets) {
  Registry r;
  Histogram& h = r.histogram("betcore_latency_seconds", "Latency.");
  h.observe(std::chrono::microseconds(300));
  const std::string text = r.expose();
  EXPECT_NE(text.find("betcore_latency_seconds_bucket{le=\"0.0001\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("betcore_latency_seconds_bucket{le=\"0.00025\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("betcore_latency_seconds_bucket{le=\"0.0005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("betcore_latency_seconds_bucket{le=\"10\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("betcore_latency_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("betcore_latency_seconds_sum 0.0003\n"), std::string::npos);
  EXPECT_NE(text.find("betcore_latency_seconds_count 1\n"), std::string::npos);
  EXPECT_EQ(default_latency_buckets_s().front(), 0.0001);
  EXPECT_EQ(default_latency_buckets_s().back(), 10);
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.gauge("betcore_x", "Help with \\ and \"quotes\"\nand a second line.",
          {{"path", "C:\\dir\\\"name\"\nnext"}})
      .set(1);
  EXPECT_EQ(r.expose(),
            "# HELP betcore_x Help with \\\\ and \"quotes\"\\nand a second line.\n"
            "# TYPE betcore_x gauge\n"
            "betcore_x{path=\"C:\\\\dir\\\\\\\"name\\\"\\nnext\"} 1\n");
}

TEST(Metrics, SameNameAndLabelsReturnTheSameObject) {
  Registry r;
  Counter& a = r.counter("betcore_c_total", "C.", {{"a", "1"}, {"b", "2"}});
  Counter& b = r.counter("betcore_c_total", "C.", {{"b", "2"}, {"a", "1"}});
  Counter& other = r.counter("betcore_c_total", "C.", {{"a", "1"}, {"b", "3"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  // References stay valid while the registry grows.
  for (int i = 0; i < 1000; ++i) r.counter("betcore_c_total", "C.", {{"i", std::to_string(i)}});
  a.inc(5);
  EXPECT_EQ(b.value(), 5u);
  Gauge& g1 = r.gauge("betcore_g", "G.");
  Gauge& g2 = r.gauge("betcore_g", "G.");
  EXPECT_EQ(&g1, &g2);
}

TEST(Metrics, GaugeSetIncDec) {
  Registry r;
  Gauge& g = r.gauge("betcore_g", "G.");
  g.set(int64_t{1} << 40);
  g.inc();
  g.dec(3);
  EXPECT_EQ(g.value(), static_cast<double>((int64_t{1} << 40) - 2));
  g.set(0.125);
  EXPECT_EQ(r.expose(), "# HELP betcore_g G.\n# TYPE betcore_g gauge\nbetcore_g 0.125\n");
}

TEST(Metrics, CallbackSeriesDisappearWithTheirRegistration) {
  Registry r;
  int depth = 7;
  {
    Registration reg = r.gauge_callback("betcore_queue_depth", "Depth.", {{"queue", "submit"}},
                                        [&depth] { return static_cast<double>(depth); });
    depth = 9;
    EXPECT_EQ(r.expose(),
              "# HELP betcore_queue_depth Depth.\n"
              "# TYPE betcore_queue_depth gauge\n"
              "betcore_queue_depth{queue=\"submit\"} 9\n");
  }
  EXPECT_EQ(r.expose(), "");  // a family without live series is not written at all
  // The same series can be registered again once the first is gone.
  Registration again = r.counter_callback("betcore_bytes_total", "Bytes.", {}, [] { return 1e20; });
  EXPECT_EQ(r.expose(),
            "# HELP betcore_bytes_total Bytes.\n"
            "# TYPE betcore_bytes_total counter\n"
            "betcore_bytes_total 1e+20\n");
  Registration moved = std::move(again);
  moved.reset();
  EXPECT_EQ(r.expose(), "");
}

TEST(Metrics, RegistrationMayOutliveTheRegistry) {
  Registration reg;
  {
    Registry r;
    reg = r.gauge_callback("betcore_g", "G.", {}, [] { return 1.0; });
  }
  reg.reset();  // must not touch the dead registry
}

TEST(Metrics, ValuesUseTheExpositionNumberSyntax) {
  auto text = [](double v) {
    std::string s;
    append_value(s, v);
    return s;
  };
  EXPECT_EQ(text(0), "0");
  EXPECT_EQ(text(10), "10");
  EXPECT_EQ(text(-3), "-3");
  EXPECT_EQ(text(0.0001), "0.0001");
  EXPECT_EQ(text(0.00001), "1e-05");
  EXPECT_EQ(text(2.5), "2.5");
  EXPECT_EQ(text(0.1), "0.1");
  EXPECT_EQ(text(1234.5), "1234.5");
  EXPECT_EQ(text(123456789012.5), "1.234567890125e+11");  // as Go prints it
  EXPECT_EQ(text(1e300), "1e+300");
  EXPECT_EQ(text(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(text(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(text(std::nan("")), "NaN");
}

TEST(Metrics, HistogramEdgeValues) {
  Registry r;
  const double bounds[] = {1, 2, std::numeric_limits<double>::infinity()};  // +Inf is implied
  Histogram& h = r.histogram("betcore_h", "H.", {}, bounds);
  EXPECT_EQ(h.upper_bounds().size(), 2u);
  h.observe(std::nan(""));
  h.observe(-5);
  h.observe(1e9);
  const Histogram::Snapshot s = h.snapshot();
  ASSERT_EQ(s.cumulative_counts.size(), 3u);
  EXPECT_EQ(s.cumulative_counts[0], 1u);  // -5
  EXPECT_EQ(s.cumulative_counts[1], 1u);
  EXPECT_EQ(s.cumulative_counts[2], 3u);  // NaN and 1e9 land in +Inf
  EXPECT_EQ(s.count, 3u);
  EXPECT_TRUE(std::isnan(s.sum));
}

TEST(Metrics, ConcurrentUpdatesGiveExactTotals) {
  Registry r;
  Counter& c = r.counter("betcore_c_total", "C.");
  Gauge& g = r.gauge("betcore_g", "G.");
  Histogram& h = r.histogram("betcore_h_seconds", "H.");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Every thread also registers: lookups race with updates and scrapes.
      Counter& mine = r.counter("betcore_c_total", "C.");
      for (int i = 0; i < kPerThread; ++i) {
        mine.inc();
        g.inc();
        g.dec();
        h.observe(static_cast<double>((i + t) % 4));  // 0,1,2,3: exact sums
        if (i % 20000 == 0) (void)r.expose();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(g.value(), 0);
  const Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(s.sum, 1.5 * kThreads * kPerThread);
  // 0 falls in le=0.0001 (the first bucket); 1 in le=1; 2 and 3 in le=2.5 and le=5.
  EXPECT_EQ(s.cumulative_counts[0], uint64_t{kThreads} * kPerThread / 4);
  const std::string text = r.expose();
  EXPECT_NE(text.find("betcore_c_total 800000\n"), std::string::npos);
  EXPECT_NE(text.find("betcore_h_seconds_count 800000\n"), std::string::npos);
}

TEST(MetricsDeathTest, ProgrammerErrorsStopTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  r.counter("betcore_x_total", "X.");
  EXPECT_DEATH(r.gauge("betcore_x_total", "X."), "two types");
  EXPECT_DEATH(r.counter("betcore_x_total", "Other help."), "two help");
  EXPECT_DEATH(r.counter("9bad", "X."), "metric name");
  EXPECT_DEATH(r.counter("betcore_y_total", "Y.", {{"__reserved", "1"}}), "label name");
  EXPECT_DEATH(r.counter("betcore_y_total", "Y.", {{"a", "1"}, {"a", "2"}}), "unique");
  EXPECT_DEATH(r.histogram("betcore_h", "H.", {{"le", "1"}}), "reserved");
  const double unsorted[] = {2, 1};
  EXPECT_DEATH(r.histogram("betcore_h2", "H.", {}, unsorted), "increasing");
}

TEST(Metrics, SampleValueFindsTheSeriesWithTheLabelsAsked) {
  Registry r;
  r.counter("betcore_calls_total", "Calls.", {{"endpoint", "a"}, {"result", "ok"}}).inc(3);
  r.counter("betcore_calls_total", "Calls.", {{"endpoint", "b"}, {"result", "ok"}}).inc(5);
  r.gauge("betcore_calls", "Not the counter.").set(9);
  const std::string text = r.expose();
  EXPECT_EQ(sample_value(text, "betcore_calls_total", {"endpoint=\"b\""}), 5);
  EXPECT_EQ(sample_value(text, "betcore_calls_total"), 3);  // the first
  EXPECT_EQ(sample_value(text, "betcore_calls"), 9);       // a name, not a prefix
  EXPECT_EQ(sample_value(text, "betcore_calls_total", {"endpoint=\"c\""}), std::nullopt);
  EXPECT_EQ(sample_value(text, "betcore_missing"), std::nullopt);
}

}  // namespace
}  // namespace betcore::ops
