// The guard's judgement and actions on synthetic signals, with a fake node.
#include "node/guard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace betcore::node {
namespace {

struct FakeNode final : GuardActuator {
  size_t configured = 16'384;
  size_t limit = 16'384;
  std::vector<size_t> limits_set;
  std::string out;
  std::vector<std::string> rotations;
  bool peers = true;
  size_t queue_limit_configured() const override { return configured; }
  void set_queue_limit(size_t l) override {
    limit = l;
    limits_set.push_back(l);
  }
  void set_out_of_rotation(const std::string& reason) override {
    out = reason;
    rotations.push_back(reason);
  }
  bool peers_can_take_traffic(double, int64_t) override { return peers; }
  bool gentle = true;  // an HAProxy agent check answers for it
  bool drains_gently() const override { return gentle; }
  // etcd: three members, the leader's WAL fsync `leader_fsync_s`.
  double leader_fsync_s = 0.002;
  double leader_status_s = 0.001;  // etcd-1's Status round trip as this node timed it
  double prober_stall_s = 0;       // this node's own stall while it timed them
  bool fsync_unknown = false;      // no member's /metrics read this look
  uint64_t leader = 1;
  std::vector<uint64_t> moves;
  std::vector<EtcdMemberSpeed> etcd_member_speeds() override {
    std::vector<EtcdMemberSpeed> out;
    for (uint64_t id = 1; id <= 3; ++id) {
      EtcdMemberSpeed m;
      m.id = id;
      m.name = "etcd-" + std::to_string(id);
      m.endpoint = m.name + ":2379";
      m.leader = id == leader;
      m.usable = true;
      m.status_s = id == 1 ? leader_status_s : 0.001;
      m.prober_stall_s = prober_stall_s;
      m.fsync_s = id == 1 ? leader_fsync_s : 0.002 + 0.001 * static_cast<double>(id);
      if (fsync_unknown) m.fsync_s = std::numeric_limits<double>::quiet_NaN();
      out.push_back(m);
    }
    return out;
  }
  int disk_freed = 0;  // free_disk calls
  double free_disk(std::string& done) override {
    ++disk_freed;
    done = "kept only the newest snapshot";
    return 2e9;
  }
  std::vector<std::string> left;  // members this node stopped using
  bool leave_etcd_member(const std::string& endpoint) override {
    if (std::find(left.begin(), left.end(), endpoint) != left.end()) return false;
    left.push_back(endpoint);
    return true;
  }
  bool move_etcd_leader(uint64_t to, std::string&) override {
    moves.push_back(to);
    leader = to;
    return true;
  }
};

// A node's counters, advanced one second at a time.
struct World {
  GuardSample s;
  World() {
    s.at_ms = 1'700'000'000'000;
    s.disk_free_bytes = 50e9;
    s.disk_size_bytes = 100e9;
    s.etcd_round_trip_count = 0;
    s.etcd_round_trip_sum_s = 0;
  }
  // One second: `bets` accepted (and committed), appends of `append_s` each,
  // `queued` waiting, etcd round trips of `rt_s`.
  GuardSample tick(double bets, double append_s = 0.005, double queued = 0, double rt_s = 0.003,
                   double appends = 10) {
    s.at_ms += 1000;
    s.bets_accepted_total += bets;
    s.bets_refused_total += bets * 0.02;
    s.commands_applied_total += bets;
    s.commands_appended_total += bets;
    s.append_count += appends;
    s.append_sum_s += appends * append_s;
    s.head += 10;
    s.applied += 10;
    s.etcd_round_trip_count += 10;
    s.etcd_round_trip_sum_s += 10 * rt_s;
    s.queued = queued;
    return s;
  }
};

// Small wobble so the bands have a spread, deterministic.
double wobble(int i) { return 1.0 + 0.05 * std::sin(i * 0.7); }

class GuardTest : public ::testing::Test {
 protected:
  GuardOptions options() {
    GuardOptions o;
    o.sample_ms = 1000;
    o.action_gap_ms = 0;
    o.drain = true;
    o.queue_floor = 64;
    return o;
  }
  // A minute of steady load (100 bets/s, appends of 5 ms): the guard learns
  // its shape.
  void learn_steady(Guard& g) {
    for (int i = 0; i < 60; ++i) g.step(world_.tick(100 * wobble(i), 0.005 * wobble(i)));
  }
  // `seconds` of a slow log: appends and etcd round trips of 200 ms.
  void slow_log(Guard& g, int seconds) {
    for (int i = 0; i < seconds; ++i) g.step(world_.tick(100, 0.2, 0, 0.2));
  }
  ops::Registry metrics_;
  FakeNode node_;
  World world_;
};

TEST_F(GuardTest, ASteadyNodeRaisesNothingAndDoesNothing) {
  Guard g(options(), "n1", node_, metrics_);
  for (int i = 0; i < 900; ++i) g.step(world_.tick(100 * wobble(i), 0.005 * wobble(i + 3)));
  EXPECT_TRUE(g.incidents().empty()) << incident_json(g.incidents().front());
  EXPECT_TRUE(node_.limits_set.empty());
  EXPECT_TRUE(node_.rotations.empty());
}

TEST_F(GuardTest, ASurgeTightensAdmissionAndItsEndRelaxesIt) {
  Guard g(options(), "n1", node_, metrics_);
  for (int i = 0; i < 60; ++i) g.step(world_.tick(100 * wobble(i)));
  // 5x the bets, a queue that waits 2 s at 500 commands/s.
  for (int i = 0; i < 8; ++i) g.step(world_.tick(500 * wobble(i), 0.005, 1000));
  ASSERT_EQ(node_.limits_set.size(), 1u) << "one tightening";
  EXPECT_LT(node_.limit, 16'384u);
  EXPECT_GE(node_.limit, 64u);
  std::vector<Incident> open = g.incidents();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].signal, "bet_rate");
  EXPECT_EQ(open[0].kind, "anomaly");
  EXPECT_EQ(open[0].ended_ms, 0);
  EXPECT_EQ(open[0].action, "tightened admission");
  EXPECT_NE(open[0].seen.find("usual range"), std::string::npos) << open[0].seen;
  EXPECT_GT(open[0].value, open[0].expected_high);
  EXPECT_FALSE(open[0].runbook.empty());
  EXPECT_FALSE(open[0].recommendation.empty());
  // The surge ends: the bound comes back and the incident closes.
  for (int i = 0; i < 20; ++i) g.step(world_.tick(100 * wobble(i)));
  EXPECT_EQ(node_.limit, 16'384u);
  std::vector<Incident> closed = g.incidents();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_NE(closed[0].ended_ms, 0);
  EXPECT_NE(closed[0].action_effect.find("relaxed back to 16384"), std::string::npos)
      << closed[0].action_effect;
  EXPECT_GE(closed[0].timeline.size(), 4u) << "detected, tightened, relaxed, back in range";
}

TEST_F(GuardTest, RecommendOnlyChangesNothing) {
  GuardOptions o = options();
  o.remediate = false;
  Guard g(o, "n1", node_, metrics_);
  for (int i = 0; i < 60; ++i) g.step(world_.tick(100 * wobble(i)));
  for (int i = 0; i < 30; ++i) g.step(world_.tick(500 * wobble(i), 0.005, 1000));
  EXPECT_TRUE(node_.limits_set.empty());
  const std::vector<Incident> all = g.incidents();
  ASSERT_EQ(all.size(), 1u);
  bool recommended = false;
  for (const IncidentEvent& e : all[0].timeline) {
    recommended = recommended || e.what.starts_with("recommend (remediation off): tighten");
  }
  EXPECT_TRUE(recommended);
  int advice = 0;
  for (const IncidentEvent& e : all[0].timeline) advice += e.what.starts_with("recommend") ? 1 : 0;
  EXPECT_EQ(advice, 1) << "once per incident, not every 10 s while the surge lasts";
}

TEST_F(GuardTest, ASlowAppendPathTakesAClusterNodeOutOfRotationAndBackWhenItsRoundTripRecovers) {
  Guard g(options(), "n2", node_, metrics_);
  learn_steady(g);
  slow_log(g, 5);
  ASSERT_EQ(node_.rotations.size(), 1u);
  EXPECT_NE(node_.out.find("out of the load balancer"), std::string::npos) << node_.out;
  // Out: no traffic, no appends; the round trip to etcd is normal again.
  // Out for 30 s at least (its own latency is not measured while out).
  for (int i = 0; i < 12; ++i) g.step(world_.tick(0, 0.005, 0, 0.003, /*appends=*/0));
  ASSERT_EQ(node_.rotations.size(), 1u) << "back too soon";
  for (int i = 0; i < 20; ++i) g.step(world_.tick(0, 0.005, 0, 0.003, /*appends=*/0));
  ASSERT_EQ(node_.rotations.size(), 2u);
  EXPECT_EQ(node_.out, "");
  bool found = false;
  for (const Incident& i : g.incidents()) {
    if (i.signal != "append_latency") continue;
    found = true;
    EXPECT_EQ(i.action, "out of rotation");
    EXPECT_NE(i.ended_ms, 0);
  }
  EXPECT_TRUE(found);
}

TEST_F(GuardTest, ASlowEtcdLeaderDiskMovesTheLeadershipToTheFastestFollowerOnce) {
  node_.peers = false;  // the whole cluster is slow: no node is drained
  Guard g(options(), "n1", node_, metrics_);
  learn_steady(g);
  node_.leader_fsync_s = 0.2;  // etcd-1 leads on a slow disk
  slow_log(g, 5);
  ASSERT_EQ(node_.moves.size(), 1u);
  EXPECT_EQ(node_.moves[0], 2u) << "to the follower with the fastest fsync";
  // Still slow for a while (the incident is open): no second move.
  slow_log(g, 3);
  EXPECT_EQ(node_.moves.size(), 1u);
  bool found = false;
  for (const Incident& i : g.incidents()) {
    if (i.signal != "append_latency") continue;
    found = true;
    EXPECT_EQ(i.action, "etcd leadership moved");
    bool said = false;
    for (const IncidentEvent& e : i.timeline) said = said || e.what.find("from etcd-1 to etcd-2") != std::string::npos;
    EXPECT_TRUE(said) << incident_json(i);
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(node_.rotations.empty());
}

// A CPU-starved node times the members while it stalls itself: etcd-1's
// Status looks 100 ms slow in every look, but the node overslept its probe
// gaps as long, and etcd-1's own WAL fsync is fine. Nothing moves until the
// node stops stalling and etcd-1 is still slow.
TEST_F(GuardTest, ANodeThatStallsWhileItTimesTheMembersDoesNotBlameThem) {
  node_.peers = false;
  Guard g(options(), "n1", node_, metrics_);
  learn_steady(g);
  node_.leader_status_s = 0.1;
  node_.prober_stall_s = 0.1;
  slow_log(g, 8);
  EXPECT_TRUE(node_.moves.empty());
  EXPECT_TRUE(node_.left.empty());
  bool said = false;
  for (const Incident& i : g.incidents()) {
    for (const IncidentEvent& e : i.timeline) {
      said = said || e.what.starts_with("this node stalled 100");
    }
  }
  EXPECT_TRUE(said);
  node_.prober_stall_s = 0.005;  // a wobble under the floor: the times are trusted
  slow_log(g, 3);
  EXPECT_EQ(node_.moves, std::vector<uint64_t>{2});
}

// The same node stalls in every other look, and etcd-1 leads, slow in its
// Status round trips only (CPU-starved: its fsyncs are fine). The looks the
// node spoiled neither count nor break the run of slow ones: the
// leadership still moves, after two trusted looks.
TEST_F(GuardTest, LooksSpoiledByTheNodesOwnStallDoNotHideASlowLeader) {
  node_.peers = false;
  Guard g(options(), "n1", node_, metrics_);
  learn_steady(g);
  node_.leader_status_s = 0.1;
  for (int i = 0; i < 12 && node_.moves.empty(); ++i) {
    node_.prober_stall_s = i % 2 == 0 ? 0.0 : 0.1;
    slow_log(g, 1);
  }
  EXPECT_EQ(node_.moves, std::vector<uint64_t>{2});
}

// etcd-1, a follower, was slow in its fsyncs and this node left it; a
// failover brought its calls back. Then a look the node's own stall spoiled,
// with no fsync figures at all: nothing in it says etcd-1 is slow, so the
// run kept from before must not make the node leave it again.
TEST_F(GuardTest, ASpoiledLookWithNoFiguresActsOnNoMember) {
  node_.peers = false;
  Guard g(options(), "n1", node_, metrics_);
  learn_steady(g);
  node_.leader = 2;
  node_.leader_fsync_s = 0.2;
  for (int i = 0; i < 8 && node_.left.empty(); ++i) slow_log(g, 1);
  ASSERT_EQ(node_.left, std::vector<std::string>{"etcd-1:2379"});
  node_.left.clear();  // a failover moved the calls back to it
  node_.fsync_unknown = true;
  node_.prober_stall_s = 0.1;
  slow_log(g, 3);
  EXPECT_TRUE(node_.left.empty());
  EXPECT_TRUE(node_.moves.empty());
}

TEST_F(GuardTest, ASlowFollowerOrRecommendOnlyLeavesTheLeadershipWhereItIs) {
  node_.peers = false;
  {
    Guard g(options(), "n1", node_, metrics_);
    learn_steady(g);
    node_.leader = 2;  // etcd-1, slow, follows
    node_.leader_fsync_s = 0.2;
    slow_log(g, 8);
    EXPECT_TRUE(node_.moves.empty());
    // This node's own calls leave it, once.
    EXPECT_EQ(node_.left, std::vector<std::string>{"etcd-1:2379"});
  }
  GuardOptions o = options();
  o.remediate = false;
  ops::Registry metrics;
  Guard g(o, "n1", node_, metrics);
  learn_steady(g);
  node_.leader = 1;
  slow_log(g, 8);
  EXPECT_TRUE(node_.moves.empty());
  int advice = 0;
  for (const Incident& i : g.incidents()) {
    for (const IncidentEvent& e : i.timeline) advice += e.what.starts_with("recommend: move the etcd leadership to etcd-2") ? 1 : 0;
  }
  EXPECT_EQ(advice, 1);
}

TEST_F(GuardTest, ASilentFeedProducerOpensAnIncidentSayingItsMarketsTakeNoBetsAndClosesWhenItIsBack) {
  Guard g(options(), "n1", node_, metrics_);
  world_.s.producers_down = 0;
  for (int i = 0; i < 40; ++i) g.step(world_.tick(100 * wobble(i)));
  EXPECT_TRUE(g.incidents().empty());
  world_.s.producers_down = 1;
  world_.s.producers_down_names = "pinnacle";
  world_.s.markets_of_down = 12;
  for (int i = 0; i < 5; ++i) g.step(world_.tick(100 * wobble(i)));
  std::vector<Incident> open = g.incidents();
  ASSERT_EQ(open.size(), 1u) << "one incident, not one a sample";
  EXPECT_EQ(open[0].signal, "feed_producers_down");
  EXPECT_EQ(open[0].action, "markets suspended");
  EXPECT_NE(open[0].seen.find("pinnacle"), std::string::npos) << open[0].seen;
  EXPECT_NE(open[0].seen.find("12 open market(s)"), std::string::npos) << open[0].seen;
  EXPECT_EQ(open[0].runbook, "docs/runbooks/integrations.md#betcorefeedsilent");
  world_.s.producers_down = 0;
  g.step(world_.tick(100));
  EXPECT_NE(g.incidents()[0].ended_ms, 0);
  // Not read this sample (NaN): nothing changes.
  world_.s.producers_down = std::numeric_limits<double>::quiet_NaN();
  for (int i = 0; i < 5; ++i) g.step(world_.tick(100));
  EXPECT_EQ(g.incidents().size(), 1u);
}

TEST_F(GuardTest, ARefusalReasonThatWasRareRaisesItsOwnIncident) {
  Guard g(options(), "n1", node_, metrics_);
  double odds = 0, closed = 0;
  auto tick = [&](double odds_per_s, double closed_per_s) {
    odds += odds_per_s;
    closed += closed_per_s;
    world_.s.bets_refused_by_reason = {{"odds_changed", odds}, {"market_not_open", closed}};
    world_.s.bets_refused_total += odds_per_s + closed_per_s;
    return world_.tick(100);
  };
  for (int i = 0; i < 60; ++i) g.step(tick(2 * wobble(i), 0));
  EXPECT_TRUE(g.incidents().empty());
  // A feed goes stale: its markets refuse a third of the bets.
  for (int i = 0; i < 5; ++i) g.step(tick(2, 40));
  bool found = false;
  for (const Incident& i : g.incidents()) {
    if (i.signal != "refusal_ratio:market_not_open") continue;
    found = true;
    EXPECT_EQ(i.runbook, "docs/runbooks/slo-burn.md");
    EXPECT_NE(i.seen.find("%"), std::string::npos) << i.seen;
  }
  EXPECT_TRUE(found) << (g.incidents().empty() ? "none" : incident_json(g.incidents().front()));
  for (const Incident& i : g.incidents()) EXPECT_NE(i.signal, "refusal_ratio:odds_changed");
}

TEST_F(GuardTest, EtcdGrowingTowardItsQuotaIsPredictedWhileThereIsTime) {
  Guard g(options(), "n1", node_, metrics_);
  // 2 GiB of an 8 GiB quota, growing 2 MiB a second: at the quota in ~50 min.
  world_.s.etcd_quota_bytes = 8.0 * (1 << 30);
  world_.s.etcd_db_bytes = 2.0 * (1 << 30);
  for (int i = 0; i < 400; ++i) {
    world_.s.etcd_db_bytes += 2.0 * (1 << 20);
    g.step(world_.tick(100 * wobble(i)));
  }
  bool found = false;
  for (const Incident& i : g.incidents()) {
    if (i.signal != "etcd_quota") continue;
    found = true;
    EXPECT_EQ(i.kind, "exhaustion");
    EXPECT_NE(i.seen.find("of its 8192.0 MiB quota"), std::string::npos) << i.seen;
    EXPECT_EQ(i.runbook, "docs/runbooks/disk-full.md");
    EXPECT_NE(i.recommendation.find("defragment"), std::string::npos);
  }
  EXPECT_TRUE(found);
  // Compacted and defragmented: far from the quota, it closes.
  world_.s.etcd_db_bytes = 1.0 * (1 << 30);
  for (int i = 0; i < 3700; ++i) g.step(world_.tick(100 * wobble(i)));
  for (const Incident& i : g.incidents()) {
    if (i.signal == "etcd_quota") {
      EXPECT_NE(i.ended_ms, 0);
    }
  }
}

TEST_F(GuardTest, AnEmbeddedNodeIsNeverDrainedOnlyAdvised) {
  node_.peers = false;
  Guard g(options(), "n1", node_, metrics_);
  learn_steady(g);
  for (int i = 0; i < 5; ++i) g.step(world_.tick(100, 0.2));
  EXPECT_TRUE(node_.rotations.empty());
  const std::vector<Incident> all = g.incidents();
  ASSERT_FALSE(all.empty());
  bool advised = false;
  for (const IncidentEvent& e : all[0].timeline)
    advised = advised || e.what.starts_with("recommend:");
  EXPECT_TRUE(advised);
}

TEST_F(GuardTest, ADiskFillingFastIsPredictedAndRecordedWhenItCloses) {
  GuardOptions o = options();
  const auto dir =
      std::filesystem::temp_directory_path() / ("guard-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  o.incidents_path = (dir / "incidents.jsonl").string();
  o.reports_dir = (dir / "incidents").string();
  Guard g(o, "n1", node_, metrics_);
  // 1 GB a minute from 50 GB: full within the hour. Five minutes of it
  // before any prediction.
  for (int i = 0; i < 400; ++i) {
    world_.s.disk_free_bytes -= 1e9 / 60;
    g.step(world_.tick(100 * wobble(i)));
    if (i == 250) {
      EXPECT_TRUE(g.incidents().empty()) << "a prediction from under 5 minutes";
    }
  }
  std::vector<Incident> all = g.incidents();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0].signal, "disk_free");
  EXPECT_EQ(all[0].kind, "exhaustion");
  EXPECT_EQ(all[0].severity, "warning") << "about 45 minutes left";
  EXPECT_NE(all[0].seen.find("full in about"), std::string::npos) << all[0].seen;
  // The first safe action, once: old snapshots pruned, the log compacted.
  EXPECT_EQ(node_.disk_freed, 1);
  EXPECT_EQ(all[0].action, "pruned snapshots and compacted the log");
  EXPECT_NE(all[0].action_effect.find("1907.3 MiB freed"), std::string::npos) << all[0].action_effect;
  // Space freed: the prediction goes away and the closed incident is on disk.
  world_.s.disk_free_bytes = 80e9;
  for (int i = 0; i < 1900; ++i) g.step(world_.tick(100 * wobble(i)));
  EXPECT_NE(g.incidents()[0].ended_ms, 0);
  std::ifstream in(o.incidents_path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_NE(line.find("\"signal\":\"disk_free\""), std::string::npos) << line;
  // Its report: the page and the JSON, with the chart and the timeline.
  const std::string id = g.incidents()[0].id;
  std::ifstream html(dir / "incidents" / (id + ".html"));
  const std::string page((std::istreambuf_iterator<char>(html)), {});
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("<polyline"), std::string::npos);
  EXPECT_NE(page.find("full in about"), std::string::npos);
  EXPECT_NE(page.find("docs/runbooks/disk-full.md"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir / "incidents" / (id + ".json")));
  std::filesystem::remove_all(dir);
}

TEST_F(GuardTest, AdmissionNeverDropsBelowTheFloorSoAFeedBatchStillFits) {
  GuardOptions o = options();
  o.queue_floor = 1'024;
  Guard g(o, "n1", node_, metrics_);
  for (int i = 0; i < 60; ++i) g.step(world_.tick(100 * wobble(i)));
  for (int i = 0; i < 8; ++i) g.step(world_.tick(500 * wobble(i), 0.005, 3000));
  ASSERT_EQ(node_.limits_set.size(), 1u);
  EXPECT_EQ(node_.limit, 1'024u) << "500/s x 100 ms is 50: the floor wins";
}

TEST_F(GuardTest, WithoutAnHaproxyAgentASlowNodeIsOnlyAdvisedToBeDrainedOnce) {
  GuardOptions o = options();
  o.drain = GuardOptions{}.drain;
  ASSERT_TRUE(o.drain) << "draining through the agent check is on by default";
  ASSERT_FALSE(GuardOptions{}.drain_by_readiness) << "draining by readiness cuts HAProxy's sessions";
  node_.gentle = false;  // no --agent-listen
  Guard g(o, "n2", node_, metrics_);
  learn_steady(g);
  for (int i = 0; i < 30; ++i) g.step(world_.tick(100, 0.2));
  EXPECT_TRUE(node_.rotations.empty());
  const std::vector<Incident> all = g.incidents();
  int advised = 0;
  for (const Incident& i : all) {
    for (const IncidentEvent& e : i.timeline) {
      if (!e.what.starts_with("recommend: take this node out")) continue;
      ++advised;
      EXPECT_NE(e.what.find("--agent-listen"), std::string::npos) << e.what;
    }
  }
  EXPECT_EQ(advised, 1) << "once per incident, not every sample";
}

TEST_F(GuardTest, AnIncidentWhoseSignalHasNoMoreDataClosesSayingSo) {
  node_.peers = false;
  Guard g(options(), "n1", node_, metrics_);
  learn_steady(g);
  for (int i = 0; i < 5; ++i) g.step(world_.tick(100, 0.2));
  ASSERT_EQ(g.open_incidents(), 1u);
  // Traffic stops: no appends, nothing to judge the latency by.
  for (int i = 0; i < 40; ++i) g.step(world_.tick(0, 0.005, 0, 0.003, /*appends=*/0));
  bool found = false;
  for (const Incident& i : g.incidents()) {
    if (i.signal != "append_latency")
      continue;  // (the bet rate's drop to 0 is an anomaly of its own)
    found = true;
    EXPECT_NE(i.ended_ms, 0) << "closed";
    bool said = false;
    for (const IncidentEvent& e : i.timeline) said = said || e.what.starts_with("no data for");
    EXPECT_TRUE(said);
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace betcore::node
