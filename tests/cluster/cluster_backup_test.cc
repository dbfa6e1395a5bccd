// The archive of a cluster, with real processes: `betcore backup run --etcd`
// follows three nodes' etcd log under a bet load, is killed with -9 while the
// nodes keep snapshotting and compacting (its hold in etcd must keep the log
// it has not archived), and what it archived restores into a node that holds
// exactly the acknowledged requests.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
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

json last_json(const std::string& output) {
  json out;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("{\"")) out = json::parse(line, nullptr, false);
  }
  return out;
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
          o.args = {"backup", "run", "--etcd", c.log_url(), "--tokens", c.tokens().file.string(), "--archive",
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
  double archived = -1;
  ASSERT_TRUE(test::eventually(60s, [&] {
    archived = test::metric(tools::HttpClient("127.0.0.1", archiver_port).get("/metrics").body,
                      "betcore_backup_archived_position");
    return archived >= static_cast<double>(head);
  })) << "archived " << archived << " of " << head << "\n" << test::last_lines(archiver.read_log());
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
                  "--tokens", c.tokens().file.string()};
        o.log_path = (dir / "restored-node.log").string();
        return o;
      },
      "/health/ready", port, "betcore node on the restored data");
  ASSERT_TRUE(restored.started());
  crash::expect_state_matches(port, c.tokens(), ops);
}

}  // namespace
}  // namespace betcore::cluster
