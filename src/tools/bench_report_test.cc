#include "tools/bench_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace betcore::tools {
namespace {

BenchReport sample() {
  BenchReport r;
  r.run_id = "r1";
  r.targets = {"http://127.0.0.1:8080"};
  r.connections = 8;
  r.threads = 1;
  r.duration_s = 2;
  r.warmup_s = 1;
  r.stats.requests = 110;
  r.stats.ok = 100;
  r.stats.by_status = {{201, 100}, {429, 10}};
  r.stats.errors = {{"429 overloaded", 10}};
  for (int i = 1; i <= 100; ++i) r.stats.ok_latency_us.record(static_cast<uint64_t>(i) * 100);
  return r;
}

TEST(BenchReport, JsonHasTheDocumentedShape) {
  auto j = nlohmann::json::parse(report_json(sample()));
  EXPECT_DOUBLE_EQ(j["bets_per_s"].get<double>(), 50.0);
  EXPECT_EQ(j["requests"], 110);
  EXPECT_EQ(j["ok"], 100);
  EXPECT_EQ(j["errors"]["429 overloaded"], 10);
  EXPECT_EQ(j["status"]["201"], 100);
  EXPECT_EQ(j["connections"], 8);
  EXPECT_DOUBLE_EQ(j["duration_s"].get<double>(), 2.0);
  const auto& l = j["latency_ms"];
  EXPECT_NEAR(l["p50"].get<double>(), 5.0, 0.05);
  EXPECT_NEAR(l["p99"].get<double>(), 9.9, 0.1);
  EXPECT_TRUE(l.contains("p90"));
  EXPECT_TRUE(l.contains("p999"));
  EXPECT_DOUBLE_EQ(l["max"].get<double>(), 10.0);
}

TEST(BenchReport, JsonWithoutErrorsHasEmptyObjects) {
  BenchReport r;
  auto j = nlohmann::json::parse(report_json(r));
  EXPECT_TRUE(j["errors"].is_object());
  EXPECT_TRUE(j["errors"].empty());
  EXPECT_EQ(j["bets_per_s"], 0.0);
}

TEST(BenchReport, TableNamesTheFigures) {
  std::string t = report_table(sample());
  for (const char* want :
       {"throughput", "50.0 bets/s", "p99.9", "429 overloaded: 10", "201: 100"}) {
    EXPECT_NE(t.find(want), std::string::npos) << want << "\n" << t;
  }
}

}  // namespace
}  // namespace betcore::tools
