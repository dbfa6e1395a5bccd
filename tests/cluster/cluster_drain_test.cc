// The guard takes a slow node out of HAProxy's rotation through the agent
// check (deploy/haproxy/betcore.cfg.in, src/node/haproxy_agent.h) and brings
// it back when it recovers: one node of a real cluster is CPU-starved
// (SIGSTOP/SIGCONT, 10 ms of every 110), its guard sees its appends far
// slower than its peers', its agent answers "drain", HAProxy shows the server
// in DRAIN and sends it nothing new while the load goes on without a single
// indefinite answer; continued, it is READY again. And a node stopped with
// SIGTERM under load drains the same way: not one request fails.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "cluster/local_cluster.h"
#include "crash/bet_load.h"
#include "tools/http_client.h"

namespace betcore::cluster {
namespace {

// HAProxy's status of `server` in backend api ("UP", "DRAIN", "DOWN", ...),
// from the stats page's CSV.
std::string haproxy_status(uint16_t stats_port, const std::string& server) {
  tools::Response r = tools::HttpClient("127.0.0.1", stats_port).get("/;csv");
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("api," + server + ",", 0) != 0) continue;
    // # pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,...
    std::istringstream fields(line);
    std::string f;
    for (int i = 0; i <= 17 && std::getline(fields, f, ','); ++i) {
    }
    return f;
  }
  return "";
}

// Stops and continues a process: it runs 10 ms of every 110 (an append
// often straddles a stop, as on a host whose CPU is taken by others).
class Starve {
 public:
  explicit Starve(crash::NodeRunner& n) : n_(n), t_([this] {
    while (!stop_.load()) {
      n_.signal(SIGSTOP);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      n_.signal(SIGCONT);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }) {}
  ~Starve() { end(); }
  void end() {
    stop_.store(true);
    if (t_.joinable()) t_.join();
    n_.signal(SIGCONT);
  }

 private:
  crash::NodeRunner& n_;
  std::atomic<bool> stop_{false};
  std::thread t_;
};

TEST(ClusterDrain, AStarvedNodeIsDrainedThroughTheAgentCheckAndComesBackWithNoRequestCut) {
  test::TempDir dir("betcore-drain");
  ClusterOptions o;
  o.node_args = {"--guard-sample-ms", "250", "--guard-warmup-samples", "20", "--guard-raise-after-samples",
                 "4"};
  LocalCluster cluster(dir.path(), o);
  std::string why;
  ASSERT_TRUE(cluster.start(why)) << why;
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(cluster.api_port(), cluster.tokens()));
  const uint16_t stats = cluster.haproxy_stats_port();
  EXPECT_EQ(haproxy_status(stats, "node-2"), "UP");

  crash::Load load(11, cluster.api_port(), cluster.tokens(), "drain");
  load.start();
  std::this_thread::sleep_for(std::chrono::seconds(8));  // the guards learn the normal shape

  auto starve = std::make_unique<Starve>(cluster.node(1));
  std::string status;
  const bool drained = test::eventually(std::chrono::seconds(45), [&] {
    status = haproxy_status(stats, "node-2");
    return status.starts_with("DRAIN");
  });
  // Drained for a while; then it recovers, and after the guard's least hold
  // (30 s) it is back.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  starve->end();
  const bool back = test::eventually(std::chrono::seconds(60), [&] {
    status = haproxy_status(stats, "node-2");
    return status == "UP";
  });
  load.finish();
  ASSERT_TRUE(drained) << "HAProxy never showed node-2 in DRAIN (last: " << status << ")\n"
                       << test::last_lines(cluster.node(1).last_log());
  EXPECT_TRUE(back) << "node-2 did not come back (last: " << status << ")\n"
                    << test::last_lines(cluster.node(1).last_log());

  // No request was cut: every one had a definite answer on its first try or
  // after its own retries, and the node itself said it left and came back.
  const std::vector<crash::Op> ops = load.ops();
  EXPECT_GT(crash::expect_definite_answers(ops, "drain"), 100u);
  const std::string log = cluster.node(1).last_log();
  EXPECT_NE(log.find("out of the load balancer until it recovers"), std::string::npos) << test::last_lines(log);
  EXPECT_NE(log.find("back in rotation"), std::string::npos) << test::last_lines(log);
  // Its own stalls are not the etcd members' fault: it neither left one nor
  // moved the leadership. Each member's Status is the median of probes in
  // rounds that each start at the next member (the stop cycle would put the
  // stall on the same member every round), Status times are not trusted in
  // a look during which this node overslept its probe gaps, and only a
  // member slow in two looks in a row is acted on.
  EXPECT_EQ(log.find("moved the etcd leadership"), std::string::npos) << test::last_lines(log);
  EXPECT_EQ(log.find("stopped using etcd member"), std::string::npos) << test::last_lines(log);
  crash::Reply r = crash::JsonClient(cluster.node(1).port()).get("/v1/incidents", cluster.tokens().admin);
  bool acted = false;
  for (const auto& i : r.json["incidents"]) acted = acted || i.value("action", "") == "out of rotation";
  EXPECT_TRUE(acted) << r.json.dump(2);
  ASSERT_TRUE(cluster.wait_converged(30'000, why)) << why;
  crash::expect_state_matches(cluster.api_port(), cluster.tokens(), ops);
}

// `systemctl stop` on one node of three under load (docs/operations.md,
// "From start to stop"): SIGTERM makes its agent answer "drain" while it
// still serves for --shutdown-delay-ms, HAProxy sends it nothing new, the
// requests it holds finish, then it closes and exits 0. No client sees a
// failed request, not even one it had to retry.
TEST(ClusterDrain, ANodeStoppedUnderLoadBehindHaproxyFailsNoRequest) {
  test::TempDir dir("betcore-stop");
  LocalCluster cluster(dir.path(), ClusterOptions{});
  std::string why;
  ASSERT_TRUE(cluster.start(why)) << why;
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(cluster.api_port(), cluster.tokens()));
  const uint16_t stats = cluster.haproxy_stats_port();
  crash::Load load(12, cluster.api_port(), cluster.tokens(), "stop");
  load.start();
  std::this_thread::sleep_for(std::chrono::seconds(3));

  std::atomic<bool> stopped{false};
  test::ExitStatus stop_status;
  std::thread stopper([&] {
    stop_status = cluster.node(1).stop(30'000);
    stopped.store(true);
  });
  std::string status;
  const bool drained = test::eventually(std::chrono::seconds(5), [&] {
    status = haproxy_status(stats, "node-2");
    return status.starts_with("DRAIN") || stopped.load();
  }) && status.starts_with("DRAIN");
  stopper.join();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the load goes on over two nodes
  load.finish();

  EXPECT_TRUE(drained) << "HAProxy never showed node-2 in DRAIN (last: " << status << ")";
  EXPECT_TRUE(stop_status.success()) << stop_status.describe() << "\n" << test::last_lines(cluster.node(1).last_log());
  const std::string log = cluster.node(1).last_log();
  EXPECT_NE(log.find("(the HAProxy agent check says drain; /health/ready stays 200 'draining')"), std::string::npos)
      << test::last_lines(log);
  const std::vector<crash::Op> ops = load.ops();
  EXPECT_GT(crash::expect_definite_answers(ops, "stop"), 100u);
  for (const crash::Op& op : ops) {
    EXPECT_EQ(op.indefinite, 0) << op.id << " failed first: " << ::testing::PrintToString(op.indefinite_answers);
  }
  crash::expect_state_matches(cluster.api_port(), cluster.tokens(), ops);
}

}  // namespace
}  // namespace betcore::cluster
