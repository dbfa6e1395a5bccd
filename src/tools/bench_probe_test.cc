#include "tools/bench_probe.h"

#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <sstream>

#include "ops/metrics.h"
#include "ops/request_stage.h"

namespace betcore::tools {
namespace {

// The figures come from the nodes' own expositions, parsed back: each
// node's window (after - before), summed.
TEST(BenchProbe, StageFiguresAreEachNodesWindowSummed) {
  ops::Registry node1, node2;
  ops::request_stage(node1, "queue").observe(0.5);  // before the window: not counted
  StageSnapshot before1, before2;
  add_stage_samples(node1.expose(), before1);
  add_stage_samples(node2.expose(), before2);
  for (int i = 0; i < 98; ++i) ops::request_stage(node1, "queue").observe(0.0002);  // 0.1..0.25 ms bucket
  ops::request_stage(node2, "queue").observe(0.004);  // 2.5..5 ms
  ops::request_stage(node2, "queue").observe(0.004);
  ops::request_stage(node2, "append").observe(0.003);
  StageSnapshot after1, after2, window;
  add_stage_samples(node1.expose(), after1);
  add_stage_samples(node2.expose(), after2);
  ASSERT_TRUE(stage_window(before1, after1, window));
  ASSERT_TRUE(stage_window(before2, after2, window));

  const auto figures = stage_figures(window);
  ASSERT_TRUE(figures.count("queue"));
  const StageFigures& q = figures.at("queue");
  EXPECT_EQ(q.count, 100u);
  EXPECT_NEAR(q.mean_ms, (98 * 0.2 + 2 * 4.0) / 100, 1e-6);
  EXPECT_GT(q.p50_ms, 0.1);
  EXPECT_LE(q.p50_ms, 0.25);
  EXPECT_GT(q.p99_ms, 2.5);  // the 99th of 100 is one of node-2's
  EXPECT_LE(q.p99_ms, 5.0);
  ASSERT_TRUE(figures.count("append"));
  EXPECT_EQ(figures.at("append").count, 1u);
  EXPECT_NEAR(figures.at("append").mean_ms, 3.0, 1e-6);
}

TEST(BenchProbe, ANodeThatRestartedInTheWindowIsNotSubtracted) {
  ops::Registry before_restart, after_restart;
  for (int i = 0; i < 10; ++i) ops::request_stage(before_restart, "queue").observe(0.001);
  ops::request_stage(after_restart, "queue").observe(0.001);
  StageSnapshot before, after, window;
  add_stage_samples(before_restart.expose(), before);
  add_stage_samples(after_restart.expose(), after);
  EXPECT_FALSE(stage_window(before, after, window));
  EXPECT_TRUE(window.empty());
}

TEST(BenchProbe, OtherSeriesAndBrokenLinesAreIgnored) {
  StageSnapshot s;
  add_stage_samples(
      "# HELP betcore_request_stage_seconds x\n"
      "betcore_request_stage_seconds_bucket{le=\"1\"} 3\n"   // no stage label
      "betcore_request_stage_seconds_count{stage=\"parse\" 4\n"  // no closing brace
      "betcore_batch_commands_count 7\n"
      "betcore_request_stage_seconds_count{substage=\"x\"} 9\n"     // not the stage label
      "betcore_request_stage_seconds_created{stage=\"parse\"} 1\n"  // not a histogram part
      "betcore_request_stage_seconds_count{stage=\"parse\"}\n"      // no value
      "betcore_request_stage_seconds_count{stage=\"parse\"} 5\n",
      s);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s.at("parse").count, 5u);
}

TEST(BenchProbe, CpuOfThisProcessGrowsAndAGoneProcessIsNotMeasured) {
  const auto t0 = process_cpu_seconds(static_cast<int>(::getpid()));
  ASSERT_TRUE(t0.has_value());
  // Burn 150 ms of this process' CPU, however long that takes on a busy machine.
  auto cpu_now = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  const double burn_from = cpu_now();
  volatile uint64_t x = 0;
  while (cpu_now() - burn_from < 0.15) x = x + 1;
  const auto t1 = process_cpu_seconds(static_cast<int>(::getpid()));
  ASSERT_TRUE(t1.has_value());
  EXPECT_GE(*t1 - *t0, 0.1);  // /proc counts in ticks (10 ms)
  EXPECT_FALSE(process_cpu_seconds(0x3fffffff).has_value());

  BenchProbe probe({}, {{"gone", 0x3fffffff}});
  std::ostringstream err;
  probe.open(err);
  probe.close(err);
  const auto cpu = probe.cpu(1000);
  ASSERT_EQ(cpu.size(), 2u);
  EXPECT_EQ(cpu[0].name, "gone");
  EXPECT_LT(cpu[0].seconds, 0);
  EXPECT_EQ(cpu[1].name, "bench");
  EXPECT_GE(cpu[1].seconds, 0);
  EXPECT_TRUE(probe.stages().empty());  // no metrics URL
}

TEST(BenchProbe, AnUnreachableMetricsUrlIsSaidOnceAndGivesNoStages) {
  BenchProbe probe({"http://127.0.0.1:1/metrics"}, {});
  std::ostringstream err;
  probe.open(err);
  probe.close(err);
  EXPECT_TRUE(probe.stages().empty());
  const std::string said = err.str();
  EXPECT_NE(said.find("--metrics"), std::string::npos) << said;
  EXPECT_EQ(said.find("--metrics"), said.rfind("--metrics")) << "said twice: " << said;
}

}  // namespace
}  // namespace betcore::tools
