// The archive of a cluster, with real processes: `betcore backup run --etcd`
// follows three nodes' etcd log under a bet load, is killed with -9 while the
// nodes keep snapshotting and compacting (its hold in etcd must keep the log
// it has not archived), and what it archived restores into a node that holds
// exactly the acknowledged requests. Then the whole site is lost under load
// (every node, every etcd member, HAProxy and the archiver killed, their
// directories deleted) and `betcore restore --etcd` starts a new cluster from
// the archive.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "cluster/local_cluster.h"
#include "crash/bet_load.h"

namespace betcore::cluster {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

test::ExitStatus run_betcore(const std::vector<std::string>& args, const fs::path& log, std::string& output) {
  test::SpawnOptions o;
  o.program = test::betcore_binary().string();
  o.args = args;
  o.log_path = log.string();
  test::Process p = test::Process::spawn(o);
  auto st = p.wait(300'000);
  if (!st) {
    p.kill(SIGKILL);
    st = p.wait(5'000);
  }
  output = p.read_log();
  return *st;
}

json last_json(const std::string& output) { return json::parse(tools::last_json_line(output), nullptr, false); }

// Waits (60 s at most) until the archiver serving /metrics on `port` has
// archived `position`: true, or false with how far it got and its log.
::testing::AssertionResult archived_to(uint16_t port, uint64_t position, const test::Process& archiver) {
  double archived = -1;
  if (test::eventually(60s, [&] {
        archived = test::metric(tools::HttpClient("127.0.0.1", port).get("/metrics").body,
                                "betcore_backup_archived_position");
        return archived >= static_cast<double>(position);
      })) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "archived " << archived << " of " << position << "\n"
                                       << test::last_lines(archiver.read_log());
}

// A deposit through `client`, retried until definite: its index, or 0 after
// a gtest failure.
uint64_t deposit(crash::JsonClient& client, const test::TestTokens& tokens, const std::string& ref,
                 const std::string& account, int64_t amount) {
  crash::Reply dep = client.post_until_definite(
      "/v1/deposits", json{{"payment_ref", ref}, {"account_id", account}, {"amount", amount}}.dump(),
      tokens.payments, 30'000, nullptr);
  EXPECT_EQ(dep.status, 201) << dep.describe();
  return dep.status == 201 ? dep.json.value("index", uint64_t{0}) : 0;
}

// Long: one scenario (load, a killed archiver, compaction), then its checks.
TEST(ClusterBackup, AnArchiverFollowsTheClusterHoldsItsCompactionAndItsArchiveRestoresEveryAcknowledgedWrite) {
  test::TempDir dir("betcore-cluster-backup");
  ClusterOptions options;
  options.node_args = {"--checkpoint-every-commands", "300"};  // snapshots, then compaction, often
  LocalCluster c(dir.path(), options);
  std::string why;
  ASSERT_TRUE(c.start(why)) << why;
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(c.api_port(), c.tokens()));
  std::string out;
  ASSERT_TRUE(run_betcore({"backup", "keygen", "--out", (dir / "key").string()}, dir / "keygen.log", out).success())
      << out;

  uint16_t archiver_port = 0;
  auto start_archiver = [&] {
    return test::start_server(
        [&](uint16_t p) {
          test::SpawnOptions o;
          o.program = test::betcore_binary().string();
          o.args = {"backup", "run", "--etcd", c.log_url(), "--tokens", c.tokens().credentials.string(), "--archive",
                    (dir / "archive").string(), "--key", (dir / "key").string(), "--segment-ms", "200",
                    "--snapshot-every-s", "2", "--metrics-listen", "127.0.0.1:" + std::to_string(p)};
          for (int i = 0; i < c.nodes(); ++i) {
            o.args.insert(o.args.end(), {"--node", "http://127.0.0.1:" + std::to_string(c.node(i).port())});
          }
          o.log_path = (dir / "archiver.log").string();
          return o;
        },
        "/metrics", archiver_port, "betcore backup run --etcd");
  };
  test::Process archiver = start_archiver();
  ASSERT_TRUE(archiver.started());

  crash::Load load(std::random_device{}(), c.api_port(), c.tokens());
  load.start();
  std::this_thread::sleep_for(2s);
  // Killed: while it is gone the nodes snapshot and compact; its hold must
  // keep every batch it has not archived.
  ASSERT_TRUE(archiver.kill(SIGKILL));
  archiver.wait(5'000);
  std::this_thread::sleep_for(8s);  // past a maintenance pass (5 s) of compaction
  archiver = start_archiver();
  ASSERT_TRUE(archiver.started());
  std::this_thread::sleep_for(2s);
  load.finish();
  const std::vector<crash::Op> ops = load.ops();
  EXPECT_GT(crash::expect_definite_answers(ops, "cluster archive"), 100u);
  ASSERT_TRUE(c.wait_converged(30'000, why)) << why;

  uint64_t head = 0;
  {
    tools::Response r = tools::HttpClient("127.0.0.1", c.node(0).port()).get("/v1/cluster", c.tokens().admin);
    ASSERT_EQ(r.status, 200) << r.body;
    head = json::parse(r.body).at("applied_index").get<uint64_t>();
  }
  ASSERT_TRUE(archived_to(archiver_port, head, archiver));
  EXPECT_EQ(archiver.read_log().find("GAP"), std::string::npos)
      << "the cluster compacted past the archive: " << test::last_lines(archiver.read_log());
  EXPECT_EQ(test::metric(tools::HttpClient("127.0.0.1", archiver_port).get("/metrics").body, "betcore_backup_gaps_total"), 0);

  ASSERT_TRUE(run_betcore({"backup", "verify", "--archive", (dir / "archive").string(), "--key", (dir / "key").string()},
                          dir / "verify.log", out)
                  .success())
      << out;
  ASSERT_TRUE(run_betcore({"restore", "--archive", (dir / "archive").string(), "--key", (dir / "key").string(),
                           "--data-dir", (dir / "restored").string()},
                          dir / "restore.log", out)
                  .success())
      << out;
  json report = last_json(out);
  EXPECT_EQ(report.value("position", 0ull), head);
  EXPECT_TRUE(report.value("digest_checked", false)) << out;

  // The whole cluster's book, restored into one node: exactly the
  // acknowledged requests, once each.
  uint16_t port = 0;
  test::Process restored = test::start_server(
      [&](uint16_t p) {
        test::SpawnOptions o;
        o.program = test::betcore_binary().string();
        o.args = {"node", "--data", (dir / "restored").string(), "--listen", "127.0.0.1:" + std::to_string(p),
                  "--tokens", c.tokens().file.string(), "--plain-http"};
        o.log_path = (dir / "restored-node.log").string();
        return o;
      },
      "/health/ready", port, "betcore node on the restored data");
  ASSERT_TRUE(restored.started());
  crash::expect_state_matches(port, c.tokens(), ops);
}

using SteadyClock = std::chrono::steady_clock;

test::SpawnOptions archiver_options(const fs::path& dir, const std::string& log_url, const std::vector<uint16_t>& nodes,
                                    const fs::path& tokens, uint16_t port, const std::string& archive = "archive") {
  test::SpawnOptions o;
  o.program = test::betcore_binary().string();
  o.args = {"backup", "run", "--etcd", log_url, "--tokens", tokens.string(), "--archive", (dir / archive).string(),
            "--key", (dir / "key").string(), "--segment-ms", "500", "--snapshot-every-s", "2",
            "--metrics-listen", "127.0.0.1:" + std::to_string(port)};
  for (uint16_t n : nodes) o.args.insert(o.args.end(), {"--node", "http://127.0.0.1:" + std::to_string(n)});
  o.log_path = (dir / (archive + "-archiver.log")).string();
  return o;
}

std::vector<uint16_t> node_ports(LocalCluster& c) {
  std::vector<uint16_t> out;
  for (int i = 0; i < c.nodes(); ++i) out.push_back(c.node(i).port());
  return out;
}

// The client's record as the restored cluster must hold it: acknowledged at
// or below the restored position: there; acknowledged at a position after
// it: gone (lost within the RPO, checked by the caller), unless an earlier
// copy of the same request is in the restored state (a retry's answer names
// the position of the copy that answered); in flight at the loss (no
// definite answer): whichever the restored state says. The last two are
// read back.
std::vector<crash::Op> as_restored(std::vector<crash::Op> ops, uint64_t position, uint16_t port,
                                   const test::TestTokens& tokens, std::vector<const crash::Op*>& lost,
                                   const std::vector<crash::Op>& original) {
  crash::JsonClient client(port, 15'000);
  for (size_t i = 0; i < ops.size(); ++i) {
    crash::Op& op = ops[i];
    if (op.acked() && op.index <= position) continue;
    if (!op.acked() && (op.status == 409 || op.status == 422 || op.status == 400)) continue;  // refused: absent
    crash::Reply r = op.kind == crash::Kind::bet
                         ? client.get("/v1/bets/" + op.id + "?account_id=" + op.account, tokens.admin)
                         : client.get("/v1/deposits/" + op.id, tokens.admin);
    if (r.status == 200) {
      op.status = 201;
      op.index = r.json.value("index", uint64_t{0});
      op.odds = r.json.value("odds", std::string());
      EXPECT_LE(op.index, position) << op.id << ": " << r.describe();
      continue;
    }
    EXPECT_EQ(r.status, 404) << op.id << ": " << r.describe();
    if (op.acked()) lost.push_back(&original[i]);
    op.status = 0;  // absent
  }
  return ops;
}

// Long: one story, a lost site and a new cluster restored from its archive,
// then the checks, then the archive going on with the new cluster.
TEST(ClusterBackup, EveryNodeAndEtcdMemberLostUnderLoadANewClusterRestoredFromTheArchiveHoldsEveryWriteBeforeTheRpo) {
  test::TempDir dir("betcore-cluster-restore");
  std::string out, why;
  ASSERT_TRUE(run_betcore({"backup", "keygen", "--out", (dir / "key").string()}, dir / "keygen.log", out).success())
      << out;
  ClusterOptions options;
  options.node_args = {"--checkpoint-every-commands", "300"};
  fs::create_directories(dir / "old");
  fs::create_directories(dir / "new");
  auto old_site = std::make_unique<LocalCluster>(dir / "old", options);
  ASSERT_TRUE(old_site->start(why)) << why;
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(old_site->api_port(), old_site->tokens()));
  uint16_t archiver_port = 0;
  test::Process archiver = test::start_server(
      [&](uint16_t p) {
        return archiver_options(dir.path(), old_site->log_url(), node_ports(*old_site), old_site->tokens().credentials, p);
      },
      "/metrics", archiver_port, "betcore backup run --etcd");
  ASSERT_TRUE(archiver.started());

  crash::Load load(std::random_device{}(), old_site->api_port(), old_site->tokens());
  load.start();
  std::this_thread::sleep_for(6s);
  // The whole site at once, mid-load: nodes, etcd, HAProxy, the archiver.
  const auto lost_at = SteadyClock::now();
  old_site->kill_everything();
  archiver.kill(SIGKILL);
  archiver.wait(5'000);
  load.abort();
  const std::vector<crash::Op> ops = load.ops();
  old_site.reset();
  fs::remove_all(dir / "old");

  // A new cluster: fresh etcd, loaded by the restore; node-1 gets the
  // restored data directory, node-2 and node-3 start empty and load its
  // snapshot.
  json report;
  ClusterOptions fresh = options;
  fresh.before_nodes = [&](LocalCluster& c, std::string& error) {
    std::string restore_out;
    test::ExitStatus st = run_betcore({"restore", "--archive", (dir / "archive").string(), "--key",
                                       (dir / "key").string(), "--data-dir", c.node_data(0).string(), "--etcd",
                                       c.log_url()},
                                      dir / "restore.log", restore_out);
    report = last_json(restore_out);
    if (!st.success()) error = "betcore restore --etcd failed: " + restore_out;
    return st.success();
  };
  LocalCluster site(dir / "new", fresh);
  ASSERT_TRUE(site.start(why)) << why;
  const uint64_t position = report.value("position", 0ull);
  ASSERT_GT(position, 0u) << report.dump();
  EXPECT_TRUE(report.value("digest_checked", false)) << report.dump();
  ASSERT_TRUE(report.contains("etcd")) << report.dump();
  ASSERT_TRUE(site.wait_converged(60'000, why)) << why;
  // Every node holds the restored state: the restored position and digest.
  for (int i = 0; i < site.nodes(); ++i) {
    tools::Response r = tools::HttpClient("127.0.0.1", site.node(i).port()).get("/v1/cluster", site.tokens().admin);
    ASSERT_EQ(r.status, 200) << r.body;
    json st = json::parse(r.body);
    EXPECT_EQ(st.value("applied_index", 0ull), position) << site.node_id(i) << ": " << r.body;
    EXPECT_EQ(st.value("checkpoint", 0ull), position) << site.node_id(i) << ": " << r.body;
    EXPECT_EQ(st.value("state_digest", ""), report.value("digest", "?")) << site.node_id(i) << ": " << r.body;
  }

  // The client's own record: what was acknowledged up to the restored
  // position is there exactly; what was acknowledged after it was within
  // the RPO of the loss.
  std::vector<const crash::Op*> lost;
  std::vector<crash::Op> expected = as_restored(ops, position, site.api_port(), site.tokens(), lost, ops);
  crash::expect_state_matches(site.api_port(), site.tokens(), expected);
  int64_t worst_ms = 0;
  for (const crash::Op* op : lost) {
    const int64_t before_loss = std::chrono::duration_cast<std::chrono::milliseconds>(lost_at - op->answered_at).count();
    worst_ms = std::max(worst_ms, before_loss);
    EXPECT_LT(before_loss, 3'000) << op->id << " (index " << op->index << ") was acknowledged " << before_loss
                                  << " ms before the loss and is not in the archive";
  }
  size_t acked = 0;
  for (const crash::Op& op : ops) acked += op.acked() ? 1 : 0;
  EXPECT_GT(acked, 100u);
  std::cerr << "lost site: " << acked - lost.size() << " acknowledged writes restored at position " << position << ", "
            << lost.size() << " acknowledged within " << worst_ms << " ms of the loss not archived\n";

  // The new cluster takes writes at positions after the restored one, and
  // the same archive goes on with it.
  crash::JsonClient client(site.api_port(), 15'000);
  const uint64_t new_index = deposit(client, site.tokens(), "after-restore", crash::account_ids()[0], 500);
  ASSERT_GT(new_index, position);
  archiver = test::start_server(
      [&](uint16_t p) { return archiver_options(dir.path(), site.log_url(), node_ports(site), site.tokens().credentials, p); },
      "/metrics", archiver_port, "betcore backup run --etcd (the restored cluster)");
  ASSERT_TRUE(archiver.started());
  ASSERT_TRUE(archived_to(archiver_port, new_index, archiver));
  EXPECT_NE(archiver.read_log().find("archiving goes on"), std::string::npos) << test::last_lines(archiver.read_log());
  archiver.stop(10'000);
  ASSERT_TRUE(run_betcore({"backup", "verify", "--archive", (dir / "archive").string(), "--key", (dir / "key").string()},
                          dir / "verify.log", out)
                  .success())
      << out;
  ASSERT_TRUE(run_betcore({"restore", "--archive", (dir / "archive").string(), "--key", (dir / "key").string(),
                           "--data-dir", (dir / "again").string()},
                          dir / "restore-again.log", out)
                  .success())
      << out;
  EXPECT_GE(last_json(out).value("position", 0ull), new_index) << out;

  // A new archive of the restored cluster starts from a node's snapshot and
  // follows it (what the runbook asks after a point-in-time restore). More
  // load first: the nodes then snapshot past the restored position.
  {
    crash::Load more(std::random_device{}(), site.api_port(), site.tokens(), "n");
    more.start();
    std::this_thread::sleep_for(3s);
    more.finish();
  }
  archiver = test::start_server(
      [&](uint16_t p) {
        return archiver_options(dir.path(), site.log_url(), node_ports(site), site.tokens().credentials, p, "archive2");
      },
      "/metrics", archiver_port, "betcore backup run --etcd (a new archive)");
  ASSERT_TRUE(archiver.started());
  const uint64_t newest = deposit(client, site.tokens(), "after-new-archive", crash::account_ids()[1], 700);
  ASSERT_GT(newest, new_index);
  ASSERT_TRUE(archived_to(archiver_port, newest, archiver));
  EXPECT_EQ(archiver.read_log().find("archiving stopped"), std::string::npos) << test::last_lines(archiver.read_log());
  archiver.stop(10'000);
  ASSERT_TRUE(run_betcore({"backup", "verify", "--archive", (dir / "archive2").string(), "--key", (dir / "key").string()},
                          dir / "verify2.log", out)
                  .success())
      << out;

  // A cluster that ran is never loaded again.
  EXPECT_FALSE(run_betcore({"restore", "--archive", (dir / "archive").string(), "--key", (dir / "key").string(),
                            "--data-dir", (dir / "third").string(), "--etcd", site.log_url()},
                           dir / "restore-refused.log", out)
                   .success());
  EXPECT_NE(out.find("already holds betcore keys"), std::string::npos) << out;
}

}  // namespace
}  // namespace betcore::cluster
