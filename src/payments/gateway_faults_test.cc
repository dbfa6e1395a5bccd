// The gateway's fault settings and rolls.
#include "payments/gateway_faults.h"

#include <gtest/gtest.h>

namespace betcore::payments::gateway {
namespace {

TEST(GatewayFaults, FieldsAbsentKeepTheirValue) {
  std::string error;
  std::optional<FaultsChange> a = apply_faults_json(R"({"latency_ms":50})", Faults{}, 0, &error);
  ASSERT_TRUE(a) << error;
  std::optional<FaultsChange> b = apply_faults_json(R"({"error_share":0.5})", a->faults, 0, &error);
  ASSERT_TRUE(b) << error;
  EXPECT_EQ(b->faults.latency_ms, 50);
  EXPECT_EQ(b->faults.error_share, 0.5);
  EXPECT_EQ(b->faults.timeout_hold_ms, 15'000);
  EXPECT_EQ(b->webhook_storm, 0);
}

TEST(GatewayFaults, BadChangesAreRefusedWhole) {
  std::string error;
  EXPECT_FALSE(apply_faults_json(R"({"latency_ms":5,"error_shar":1})", Faults{}, 0, &error));
  EXPECT_NE(error.find("error_shar"), std::string::npos);
  EXPECT_FALSE(apply_faults_json(R"({"error_share":1.5})", Faults{}, 0, &error));
  EXPECT_FALSE(apply_faults_json(R"({"latency_ms":-1})", Faults{}, 0, &error));
  EXPECT_FALSE(apply_faults_json(R"({"latency_ms":1.5})", Faults{}, 0, &error));
  EXPECT_FALSE(apply_faults_json(R"({"webhook_storm":1000})", Faults{}, 0, &error));
  EXPECT_FALSE(apply_faults_json("[]", Faults{}, 0, &error));
  EXPECT_FALSE(apply_faults_json("not json", Faults{}, 0, &error));
}

TEST(GatewayFaults, OutageCountsFromNowAndZeroEndsIt) {
  std::string error;
  std::optional<FaultsChange> c =
      apply_faults_json(R"({"outage_ms":1000})", Faults{}, 5000, &error);
  ASSERT_TRUE(c);
  tools::SplitMix64 rng(1);
  EXPECT_EQ(decide(c->faults, 5999, rng).fate, Fate::outage);
  EXPECT_EQ(decide(c->faults, 6000, rng).fate, Fate::normal);
  EXPECT_NE(faults_json(c->faults, 5500).find(R"("outage_ms":500)"), std::string::npos);
  std::optional<FaultsChange> off =
      apply_faults_json(R"({"outage_ms":0})", c->faults, 5100, &error);
  EXPECT_EQ(decide(off->faults, 5100, rng).fate, Fate::normal);
}

TEST(GatewayFaults, SharesAreRolled) {
  Faults f;
  f.error_share = 0.2;
  f.latency_ms = 7;
  tools::SplitMix64 rng(42);
  int before = 0, after = 0, normal = 0;
  for (int i = 0; i < 10'000; ++i) {
    Decision d = decide(f, 0, rng);
    EXPECT_EQ(d.answer_delay_ms, 7);
    before += d.fate == Fate::error_before;
    after += d.fate == Fate::error_after;
    normal += d.fate == Fate::normal;
  }
  EXPECT_NEAR(before + after, 2000, 200);
  EXPECT_NEAR(before, after, 200);
  EXPECT_EQ(before + after + normal, 10'000);
}

TEST(GatewayFaults, TimeoutAddsTheHoldAndResetIsAFate) {
  Faults f;
  f.timeout_share = 1;
  f.timeout_hold_ms = 900;
  f.latency_ms = 100;
  tools::SplitMix64 rng(1);
  Decision d = decide(f, 0, rng);
  EXPECT_EQ(d.fate, Fate::timeout);
  EXPECT_EQ(d.answer_delay_ms, 1000);
  f.timeout_share = 0;
  f.reset_share = 1;
  EXPECT_EQ(decide(f, 0, rng).fate, Fate::reset);
}

TEST(GatewayFaults, TheSameSeedRollsTheSameFates) {
  Faults f;
  f.error_share = 0.3;
  f.reset_share = 0.3;
  tools::SplitMix64 a(7), b(7);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(decide(f, 0, a).fate, decide(f, 0, b).fate);
}

}  // namespace
}  // namespace betcore::payments::gateway
