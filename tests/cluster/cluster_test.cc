// Cluster drills on real processes: three etcd members (Debian's etcd-server),
// three betcore nodes on the etcd log, and HAProxy in front with the repo's
// config. Clients keep each request until it has a definite answer (API.md:
// retry with the same id); afterwards every acknowledged write must be in the
// state exactly once, the ledger must sum to zero, and every node must reach
// the same applied index, checkpoint and digest.
//
// BETCORE_LEADER_KILLS=<n> (default 3) sets the etcd leader kills of the
// leader drill; it prints the time from each kill to the first write that
// was sent after it and acknowledged (the figure in the README).
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <random>
#include <set>
#include <thread>

#include "cluster/local_cluster.h"
#include "codec/batch.h"
#include "codec/command_codec.h"
#include "codec/snapshot.h"
#include "crash/bet_load.h"
#include "log/etcd/etcd_client.h"

namespace betcore::cluster {
namespace {

using Clock = std::chrono::steady_clock;
using crash::JsonClient;
using crash::Reply;

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

double metric(uint16_t port, const std::string& name) {
  tools::HttpClient http("127.0.0.1", port);
  tools::Response r = http.request("GET", "/metrics");
  for (size_t at = r.body.find("\n" + name + " "); at != std::string::npos;) {
    size_t start = at + 1 + name.size() + 1;
    return std::stod(r.body.substr(start, r.body.find('\n', start) - start));
  }
  return -1;
}

class ClusterTest : public ::testing::Test {
 protected:
  void start(ClusterOptions options = {}) {
    cluster_ = std::make_unique<LocalCluster>(dir_.path(), std::move(options));
    std::string why;
    ASSERT_TRUE(cluster_->start(why)) << why;
  }
  LocalCluster& c() { return *cluster_; }

  test::TempDir dir_{"betcore-cluster"};
  std::unique_ptr<LocalCluster> cluster_;
};

// The remote ports of the established TCP connections process `pid` holds
// (its sockets in /proc/PID/fd, their state in /proc/PID/net/tcp and tcp6:
// gRPC's sockets are IPv6 ones, reaching 127.0.0.1 as a mapped address).
std::set<uint16_t> established_remote_ports(pid_t pid) {
  std::set<std::string> inodes;
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator(fmt::format("/proc/{}/fd", pid), ec)) {
    const std::string target = fs::read_symlink(fd.path(), ec).string();
    if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::set<uint16_t> ports;
  for (const char* table : {"tcp", "tcp6"}) {
    std::ifstream tcp(fmt::format("/proc/{}/net/{}", pid, table));
    std::string line;
    std::getline(tcp, line);  // the header
    while (std::getline(tcp, line)) {
      std::istringstream in(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      in >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      if (state != "01" || inodes.count(inode) == 0) continue;  // 01: ESTABLISHED
      ports.insert(static_cast<uint16_t>(std::stoul(remote.substr(remote.find(':') + 1), nullptr, 16)));
    }
  }
  return ports;
}

// Issue 14: a node keeps a connection to every etcd member, not only to the
// one its calls go to, so a failover does not begin with a connect and a
// TLS handshake; and it makes it again after the member comes back.
TEST_F(ClusterTest, ANodeKeepsAConnectionToEveryEtcdMemberReady) {
  ClusterOptions o;
  o.nodes = 1;
  o.haproxy = false;
  ASSERT_NO_FATAL_FAILURE(start(o));
  const pid_t node = c().node(0).pid();
  auto connected_to_all = [&](int timeout_ms, std::string& missing) {
    const auto until = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const std::set<uint16_t> ports = established_remote_ports(node);
      missing.clear();
      for (int i = 0; i < c().etcd_members(); ++i) {
        if (ports.count(c().etcd_client_port(i)) == 0) missing += fmt::format(" etcd-{}", i + 1);
      }
      if (missing.empty() || Clock::now() > until) return missing.empty();
      sleep_ms(100);
    }
  };
  // 3 s: a connect and a TLS handshake take milliseconds, a reconnect after
  // a refusal up to gRPC's 1.2 s backoff (from when the member listens,
  // which is before start_etcd returns). The node's other calls to every
  // member (its maintenance, every 5 s) may make the connection too, but
  // within the window only by chance: without keep_connected this test
  // failed in 2 of 2 runs with a 2 s window.
  std::string missing;
  EXPECT_TRUE(connected_to_all(3'000, missing)) << "no connection from the node to" << missing;
  // A member that went away and came back is connected again, with no call
  // of the node's going to it: the last one (a node's calls start on the
  // first and stay while it answers).
  const int member = c().etcd_members() - 1;
  c().kill_etcd(member);
  std::string why;
  ASSERT_TRUE(c().start_etcd(member, why)) << why;
  EXPECT_TRUE(connected_to_all(3'000, missing)) << "after etcd-" << member + 1
                                                 << " restarted, no connection from the node to" << missing;
}

// A node's etcd client must reach a member again soon after the member
// serves: a member restarted, or one that was not up yet when the node
// started. gRPC's pick_first re-resolves after a refused connection and the
// resolver's default minimum time between resolutions held the channel back
// ~10 s whatever the reconnect backoff (etcd_client.cc); a cluster test's
// start-up health check lost 30 s to it in the flake hunt. The bound here is
// generous (measured from the restart: ~1-2 s with the fix, ~15 s without).
TEST_F(ClusterTest, AnEtcdMemberThatWasDownIsReachedSoonAfterItServes) {
  ClusterOptions o;
  o.nodes = 0;
  o.haproxy = false;
  ASSERT_NO_FATAL_FAILURE(start(o));
  const std::string member0 = c().etcd_endpoints().substr(0, c().etcd_endpoints().find(','));
  c().kill_etcd(0);
  log::etcd::Client client(log::etcd::ClientOptions{{member0}});
  // The client keeps calling while the member is down and comes back, as a
  // node's would (the throttle only bit a channel that kept trying).
  std::atomic<bool> stop{false};
  std::atomic<int> refusals{0};
  std::atomic<int64_t> reached_at_ms{-1};  // since `restart`
  const auto since = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
  };
  Clock::time_point restart = Clock::now() + std::chrono::hours(1);  // set before the restart
  std::atomic<bool> restarting{false};
  std::thread caller([&] {
    while (!stop && reached_at_ms < 0) {
      if (client.range("k", "", {}, 1000).ok()) {
        reached_at_ms = restarting ? since(restart) : 0;
      } else {
        ++refusals;
        sleep_ms(50);
      }
    }
  });
  sleep_ms(500);
  std::string why;
  restart = Clock::now();
  restarting = true;
  // start_etcd returns once a fresh client finds the member healthy (about
  // a second; without the fix its own check was held back as well).
  const bool restarted = c().start_etcd(0, why);
  while (restarted && reached_at_ms < 0 && since(restart) < 10'000) sleep_ms(20);
  stop = true;
  caller.join();
  ASSERT_TRUE(restarted) << why;
  ASSERT_GT(refusals.load(), 0) << "the client never saw member 0 down";
  ASSERT_GE(reached_at_ms.load(), 0) << "a client that saw member 0 down cannot reach it 10 s after its restart";
  EXPECT_LT(reached_at_ms.load(), 10'000) << "the client reached the restarted member only after "
                                          << reached_at_ms.load() << " ms";
  std::printf("reached the restarted member %lld ms after the restart began (%d failed calls before)\n",
              static_cast<long long>(reached_at_ms.load()), refusals.load());
}

TEST_F(ClusterTest, EveryNodeTakesWritesAndServesLinearizableReads) {
  ASSERT_NO_FATAL_FAILURE(start());
  const auto& t = c().tokens();
  JsonClient n1(c().node(0).port()), n2(c().node(1).port()), n3(c().node(2).port());
  Reply r = n1.post("/v1/accounts", R"({"account_id":"acct-00","currency":"EUR"})", t.admin);
  ASSERT_EQ(r.status, 201) << r.describe();
  // A write on node 2, read at once on node 3: linearizable by default.
  for (int i = 0; i < 20; ++i) {
    std::string ref = "dep-" + std::to_string(i);
    r = n2.post("/v1/deposits", fmt::format(R"({{"payment_ref":"{}","account_id":"acct-00","amount":100}})", ref),
                t.payments);
    ASSERT_EQ(r.status, 201) << r.describe();
    Reply a = n3.get("/v1/accounts/acct-00", t.admin);
    ASSERT_EQ(a.status, 200) << a.describe();
    EXPECT_EQ(a.json.value("balance", int64_t{-1}), 100 * (i + 1)) << "node 3 missed a write node 2 acknowledged";
    Reply w = n1.get("/v1/withdrawals/none?min_index=" + std::to_string(r.json.value("index", uint64_t{0})), t.admin);
    EXPECT_EQ(w.status, 404) << w.describe();
  }
  Reply stale = n1.get("/v1/accounts/acct-00?stale=true", t.admin);
  EXPECT_EQ(stale.status, 200) << stale.describe();

  // /v1/cluster: three nodes, three etcd members, one leader.
  Reply cl;
  for (int i = 0; i < 50; ++i) {
    cl = n3.get("/v1/cluster", t.admin);
    if (cl.status == 200 && cl.json["nodes"].size() == 3) break;
    sleep_ms(100);
  }
  ASSERT_EQ(cl.status, 200) << cl.describe();
  EXPECT_EQ(cl.json["log"].value("backend", std::string()), "etcd") << cl.describe();
  ASSERT_EQ(cl.json["nodes"].size(), 3u) << cl.describe();
  ASSERT_EQ(cl.json["log"]["members"].size(), 3u) << cl.describe();
  int leaders = 0;
  for (const auto& m : cl.json["log"]["members"]) {
    leaders += m.value("leader", false) ? 1 : 0;
    EXPECT_TRUE(m.value("healthy", false)) << m.dump();
    EXPECT_FALSE(m.value("learner", true)) << m.dump();
  }
  EXPECT_EQ(leaders, 1) << cl.describe();
  for (int i = 0; i < 3; ++i) {
    bool listed = false;
    for (const auto& n : cl.json["nodes"]) {
      listed = listed || (n.value("id", std::string()) == c().node_id(i) &&
                          n.value("address", std::string()) == fmt::format("127.0.0.1:{}", c().node(i).port()));
    }
    EXPECT_TRUE(listed) << c().node_id(i) << " not listed: " << cl.describe();
  }
  // Through HAProxy too.
  JsonClient lb(c().haproxy_port());
  Reply via = lb.get("/v1/accounts/acct-00", t.admin);
  EXPECT_EQ(via.status, 200) << via.describe();
  std::string why;
  EXPECT_TRUE(c().wait_converged(10'000, why)) << why;
}

TEST_F(ClusterTest, BadLogEntriesAreRefusedLoudlyAndNeverApplied) {
  ASSERT_NO_FATAL_FAILURE(start());
  const auto& t = c().tokens();
  JsonClient n1(c().node(0).port());
  ASSERT_EQ(n1.post("/v1/accounts", R"({"account_id":"acct-00","currency":"EUR"})", t.admin).status, 201);

  // A real batch that would credit 12345 cents, three ways broken.
  codec::BatchHeader h;
  h.node_id = "intruder";
  h.first_seq = 1;
  h.stamped_ms = 1;
  std::string cmd;
  codec::encode_command(domain::Deposit{"evil-1", "acct-00", domain::Amount{12345}}, cmd);
  const std::string good = codec::encode_batch(h, {cmd});
  std::string flipped = good;
  flipped[flipped.size() - 3] ^= 0x20;  // in the command: the checksum no longer matches
  std::string future = good;
  future[4] = 99;  // version
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"not_a_batch", "hello, this is not a batch"}, {"checksum", flipped}, {"unknown_version", future}};
  for (const auto& [name, bytes] : bad) {
    fs::path f = dir_.path() / ("bad-" + name);
    std::ofstream(f, std::ios::binary) << bytes;
    std::string why;
    ASSERT_TRUE(c().etcd_put("/betcore/t/log/intruder", f.string(), why)) << why;
  }
  // The cluster goes on: a write after them is applied everywhere.
  Reply d = n1.post("/v1/deposits", R"({"payment_ref":"ok-1","account_id":"acct-00","amount":7})", t.payments);
  ASSERT_EQ(d.status, 201) << d.describe();
  std::string why;
  ASSERT_TRUE(c().wait_converged(10'000, why)) << why;
  for (int i = 0; i < c().nodes(); ++i) {
    EXPECT_EQ(metric(c().node(i).port(), "betcore_batches_refused_total"), 3.0) << c().node_id(i);
    const std::string log = c().node(i).last_log();
    for (const auto& [name, bytes] : bad) {
      EXPECT_NE(log.find(name), std::string::npos) << c().node_id(i) << " did not say " << name << ":\n" << log;
    }
    JsonClient n(c().node(i).port());
    Reply a = n.get("/v1/accounts/acct-00", t.admin);
    EXPECT_EQ(a.json.value("balance", int64_t{-1}), 7) << c().node_id(i) << " applied a bad entry: " << a.describe();
  }
}

// Load through HAProxy with one node killed and restarted, then the checks.
TEST_F(ClusterTest, NodeKilledUnderLoadLosesNothingAndCatchesUp) {
  // Two append lanes (the default), the second taking any command queued
  // while the first appends (a full batch is one): both lanes carry this load.
  ClusterOptions o;
  o.node_args = {"--append-lanes", "2", "--batch-linger-commands", "1"};
  ASSERT_NO_FATAL_FAILURE(start(o));
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(c().api_port(), c().tokens()));
  crash::Load load(std::random_device{}(), c().api_port(), c().tokens());
  load.start();
  sleep_ms(1'500);
  c().node(1).kill9();
  sleep_ms(2'000);
  std::string why;
  ASSERT_TRUE(c().start_node(1, why)) << why;
  sleep_ms(1'500);
  load.finish();
  const std::vector<crash::Op> ops = load.ops();
  size_t acked = crash::expect_definite_answers(ops, "node kill");
  EXPECT_GT(acked, 100u) << "too little load to prove anything";
  ASSERT_TRUE(c().wait_converged(30'000, why)) << why;
  crash::expect_state_matches(c().api_port(), c().tokens(), ops);
  EXPECT_NE(c().node(1).last_log().find("catching up from index"), std::string::npos) << c().node(1).last_log();
  // Each node kept two puts in flight under the load: both of its keys took
  // batches, and nothing above was lost or doubled.
  const std::string endpoint = c().etcd_endpoints().substr(0, c().etcd_endpoints().find(','));
  log::etcd::Client client(log::etcd::ClientOptions{{endpoint}});
  const std::string prefix = "/betcore/t/log/";
  log::etcd::RangeOptions keys;
  keys.keys_only = true;
  auto r = client.range(prefix, log::etcd::prefix_end(prefix), keys, 5'000);
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::set<std::string> found;
  for (const auto& kv : r.value().kvs) found.insert(kv.key.substr(prefix.size()));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(found.count(c().node_id(i)) && found.count(c().node_id(i) + "/1"))
        << c().node_id(i) << "'s two lanes did not both take batches; keys: " << fmt::format("{}", fmt::join(found, " "));
  }
}

TEST_F(ClusterTest, EtcdLeaderKilledUnderLoadLosesNothing) {
  const int kills = static_cast<int>(crash::env_u64("BETCORE_LEADER_KILLS", 3));
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(c().api_port(), c().tokens()));
  crash::Load load(std::random_device{}(), c().api_port(), c().tokens());
  load.start();
  std::vector<Clock::time_point> killed_at;
  std::vector<int> victims;
  for (int k = 0; k < kills; ++k) {
    sleep_ms(1'500);
    int leader = c().etcd_leader();
    ASSERT_GE(leader, 0) << "no etcd leader before kill " << k;
    c().kill_etcd(leader);
    killed_at.push_back(Clock::now());
    victims.push_back(leader);
    sleep_ms(3'000);
    std::string why;
    ASSERT_TRUE(c().start_etcd(leader, why)) << why;
  }
  sleep_ms(1'500);
  load.finish();
  const std::vector<crash::Op> ops = load.ops();
  size_t acked = crash::expect_definite_answers(ops, "etcd leader kill");
  EXPECT_GT(acked, 100u) << "too little load to prove anything";

  // Recovery: from each kill to the first acknowledged write sent after it.
  std::vector<double> recoveries;
  for (size_t k = 0; k < killed_at.size(); ++k) {
    Clock::time_point first = Clock::time_point::max();
    for (const crash::Op& op : ops) {
      if (op.acked() && op.sent_at > killed_at[k] && op.answered_at < first) first = op.answered_at;
    }
    ASSERT_NE(first, Clock::time_point::max()) << "no write was acknowledged after kill " << k;
    recoveries.push_back(std::chrono::duration<double>(first - killed_at[k]).count());
    std::printf("etcd leader kill %zu (etcd-%d): first write sent after it acknowledged %.3f s later\n", k + 1,
                victims[k] + 1, recoveries.back());
  }
  std::sort(recoveries.begin(), recoveries.end());
  std::printf("etcd leader kills: %zu, first write after a kill: median %.3f s, worst %.3f s\n", recoveries.size(),
              recoveries[recoveries.size() / 2], recoveries.back());
  std::map<std::string, size_t> answers;
  for (const crash::Op& op : ops) {
    for (const std::string& a : op.indefinite_answers) ++answers[a];
  }
  for (const auto& [a, n] : answers) std::printf("  retried after: %zux %s\n", n, a.c_str());

  std::string why;
  ASSERT_TRUE(c().wait_converged(30'000, why)) << why;
  crash::expect_state_matches(c().api_port(), c().tokens(), ops);
}

TEST_F(ClusterTest, WipedNodeBootstrapsFromAPeerSnapshotAfterCompaction) {
  ClusterOptions o;
  o.node_args = {"--checkpoint-every-commands", "200", "--etcd-defrag-min-free-bytes", "1"};
  ASSERT_NO_FATAL_FAILURE(start(o));
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(c().api_port(), c().tokens()));
  crash::Load load(std::random_device{}(), c().api_port(), c().tokens());
  load.start();
  // Snapshots everywhere, then a compaction by the lowest node.
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (metric(c().node(0).port(), "betcore_log_compactions_total") < 1 && Clock::now() < deadline) sleep_ms(200);
  ASSERT_GE(metric(c().node(0).port(), "betcore_log_compactions_total"), 1) << c().node(0).last_log();

  // Node 3 leaves and loses its disk; the others compact past everything it had.
  test::ExitStatus stopped = c().node(2).stop();
  EXPECT_TRUE(stopped.success()) << stopped.describe();
  double before = metric(c().node(0).port(), "betcore_log_compactions_total");
  fs::remove_all(c().node_data(2));
  deadline = Clock::now() + std::chrono::seconds(60);
  while (metric(c().node(0).port(), "betcore_log_compactions_total") < before + 1 && Clock::now() < deadline) {
    sleep_ms(200);
  }
  ASSERT_GE(metric(c().node(0).port(), "betcore_log_compactions_total"), before + 1);

  // A stop while it fetches a peer's snapshot: the peers are stopped
  // (SIGSTOP), so the fetch waits on them; SIGTERM ends it at once, and the
  // next start fetches anew. (A stop while the bytes flow: the
  // HttpClientDownload tests.)
  ASSERT_TRUE(c().node(0).signal(SIGSTOP) && c().node(1).signal(SIGSTOP));
  std::string why;
  ASSERT_TRUE(c().launch_node(2, why)) << why;
  tools::HttpClientOptions quick;
  quick.request_timeout_ms = 1'000;
  tools::HttpClient probe("127.0.0.1", c().node(2).port(), quick);
  std::string ready;
  deadline = Clock::now() + std::chrono::seconds(30);
  while (ready.find("fetching the snapshot") == std::string::npos && Clock::now() < deadline) {
    ready = probe.get("/health/ready").body;
    sleep_ms(50);
  }
  const auto t0 = Clock::now();
  test::ExitStatus stopped_fetching = c().node(2).stop(10'000);
  const double stop_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  ASSERT_TRUE(c().node(0).signal(SIGCONT) && c().node(1).signal(SIGCONT));
  ASSERT_NE(ready.find("fetching the snapshot"), std::string::npos) << ready << c().node(2).last_log();
  std::printf("stopped %.0f ms after SIGTERM while fetching a snapshot\n", stop_ms);
  EXPECT_TRUE(stopped_fetching.success()) << stopped_fetching.describe();
  const std::string fetch_log = c().node(2).last_log();
  EXPECT_NE(fetch_log.find("bootstrap: stopped while fetching the snapshot"), std::string::npos) << fetch_log;
  EXPECT_NE(fetch_log.find("stopped while catching up"), std::string::npos) << fetch_log;
  EXPECT_FALSE(fs::exists(c().node_data(2) / "snapshots" / "fetching.partial"));

  ASSERT_TRUE(c().start_node(2, why)) << why;
  const std::string log = c().node(2).last_log();
  EXPECT_NE(log.find("was compacted"), std::string::npos) << log;
  EXPECT_NE(log.find("bootstrap: loaded the snapshot at index"), std::string::npos) << log;
  // Fetched into a file of its own, then moved in under its index's name.
  const fs::path snapshots = c().node_data(2) / "snapshots";
  EXPECT_FALSE(fs::exists(snapshots / "fetching.partial"));
  size_t kept = 0;
  for (const auto& e : fs::directory_iterator(snapshots)) kept += e.path().extension() == ".bcs";
  EXPECT_GE(kept, 1u) << "the fetched snapshot was not kept in " << snapshots;
  sleep_ms(1'000);
  load.finish();
  const std::vector<crash::Op> ops = load.ops();
  crash::expect_definite_answers(ops, "wiped node");
  ASSERT_TRUE(c().wait_converged(30'000, why)) << why;
  crash::expect_state_matches(c().node(2).port(), c().tokens(), ops);

  // After its compactions node 1 (the lowest id) defragments every etcd
  // member, one at a time (each as soon as it shows freed pages).
  auto all_defragmented = [&] {
    const std::string log1 = c().node(0).last_log();
    for (int i = 1; i <= c().etcd_members(); ++i) {
      if (log1.find(fmt::format("defragmented etcd member etcd-{}", i)) == std::string::npos) return false;
    }
    return true;
  };
  deadline = Clock::now() + std::chrono::seconds(30);
  while (!all_defragmented() && Clock::now() < deadline) sleep_ms(200);
  EXPECT_GE(metric(c().node(0).port(), "betcore_etcd_defragmentations_total"), 3);
  const std::string log1 = c().node(0).last_log();
  for (int i = 1; i <= c().etcd_members(); ++i) {
    EXPECT_NE(log1.find(fmt::format("defragmented etcd member etcd-{}", i)), std::string::npos) << log1;
  }
}

// A replica whose state silently differs (here: a snapshot doctored with the
// real codec, so its checksum is good) is caught at the next checkpoint: every
// node raises the alert, and the one that disagrees with the majority stops
// taking writes while the others go on.
TEST_F(ClusterTest, ANodeThatDisagreesWithTheMajorityStopsTakingWrites) {
  ClusterOptions o;
  o.node_args = {"--checkpoint-every-commands", "100"};
  ASSERT_NO_FATAL_FAILURE(start(o));
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(c().api_port(), c().tokens()));
  const auto& t = c().tokens();
  JsonClient lb(c().api_port());
  auto deposits = [&](const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      Reply r = lb.post_until_definite(
          "/v1/deposits", fmt::format(R"({{"payment_ref":"{}-{}","account_id":"acct-01","amount":1}})", prefix, i),
          t.payments, 10'000, nullptr);
      ASSERT_EQ(r.status, 201) << r.describe();
    }
  };
  ASSERT_NO_FATAL_FAILURE(deposits("a", 150));
  std::string why;
  ASSERT_TRUE(c().wait_converged(20'000, why)) << why;

  // Node 3 stops; its newest snapshot gets another event name, sealed anew.
  ASSERT_TRUE(c().node(2).stop().success());
  fs::path newest;
  for (const auto& e : fs::directory_iterator(c().node_data(2) / "snapshots")) {
    if (e.path().extension() == ".bcs" && e.path() > newest) newest = e.path();
  }
  ASSERT_FALSE(newest.empty()) << "node 3 wrote no snapshot";
  std::string bytes = [&] {
    std::ifstream in(newest, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }();
  codec::OpenedSnapshot opened = codec::open_snapshot(bytes);
  ASSERT_TRUE(opened.error.empty()) << opened.error;
  codec::DecodedState decoded = codec::decode_state(opened.encoded_state);
  ASSERT_TRUE(decoded.state) << decoded.error;
  ASSERT_FALSE(decoded.state->events.empty());
  decoded.state->events[0].name += " (changed)";
  std::ofstream(newest, std::ios::binary | std::ios::trunc)
      << codec::seal_snapshot(codec::encode_state(*decoded.state), opened.applied_index);

  ASSERT_TRUE(c().start_node(2, why)) << why;
  ASSERT_NO_FATAL_FAILURE(deposits("b", 150));  // crosses the next checkpoint

  // Node 3 says it is divergent and refuses writes; the alert is everywhere.
  JsonClient n3(c().node(2).port()), n1(c().node(0).port());
  Reply ready;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  do {
    sleep_ms(200);
    ready = n3.get("/health/ready", "");
  } while (ready.status == 200 && Clock::now() < deadline);
  EXPECT_EQ(ready.status, 503) << ready.describe();
  EXPECT_NE(ready.body.find("divergent"), std::string::npos) << ready.describe();
  Reply refused = n3.post("/v1/deposits", R"({"payment_ref":"c-1","account_id":"acct-01","amount":1})", t.payments);
  EXPECT_EQ(refused.status, 503) << refused.describe();
  Reply alerts;
  deadline = Clock::now() + std::chrono::seconds(10);
  do {
    alerts = n1.get("/v1/alerts", t.admin);
    if (alerts.body.find("state_divergence") != std::string::npos) break;
    sleep_ms(200);
  } while (Clock::now() < deadline);
  EXPECT_NE(alerts.body.find("state_divergence"), std::string::npos) << alerts.describe();
  Reply n1ready = n1.get("/health/ready", "");
  EXPECT_EQ(n1ready.status, 200) << n1ready.describe();
  // The majority goes on, through HAProxy.
  ASSERT_NO_FATAL_FAILURE(deposits("d", 20));
  EXPECT_GE(metric(c().node(0).port(), "betcore_divergences_total"), 1);
  EXPECT_EQ(metric(c().node(2).port(), "betcore_divergent"), 1);
  EXPECT_EQ(metric(c().node(0).port(), "betcore_divergent"), 0);
}

TEST_F(ClusterTest, RollingRestartsOfEveryNodeAndEveryEtcdMemberLoseNothing) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(c().api_port(), c().tokens()));
  crash::Load load(std::random_device{}(), c().api_port(), c().tokens());
  load.start();
  std::string why;
  for (int i = 0; i < c().nodes(); ++i) {
    sleep_ms(700);
    test::ExitStatus stopped = c().node(i).stop();
    EXPECT_TRUE(stopped.success()) << c().node_id(i) << ": " << stopped.describe();
    ASSERT_TRUE(c().start_node(i, why)) << why;
  }
  for (int i = 0; i < c().etcd_members(); ++i) {
    sleep_ms(700);
    c().kill_etcd(i);  // etcd has no graceful stop worth waiting for; a crash is the harder case
    ASSERT_TRUE(c().start_etcd(i, why)) << why;
  }
  sleep_ms(1'000);
  load.finish();
  const std::vector<crash::Op> ops = load.ops();
  size_t acked = crash::expect_definite_answers(ops, "rolling restarts");
  EXPECT_GT(acked, 100u);
  ASSERT_TRUE(c().wait_converged(30'000, why)) << why;
  crash::expect_state_matches(c().api_port(), c().tokens(), ops);
}

}  // namespace
}  // namespace betcore::cluster
