// The live dashboard (GET /, src/api/dashboard.html) in headless Chromium
// (Debian's chromium) against a real cluster under load: the charts have
// data, the topology lists every node and etcd member, and a fault injected
// before the page opens (an etcd member killed) shows. Saves a screenshot
// (BETCORE_DASHBOARD_SCREENSHOT or the test's directory).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>

#include "cluster/local_cluster.h"
#include "crash/bet_load.h"

namespace betcore::cluster {
namespace {

// Runs Chromium headless on `url` with `mode` (--dump-dom or
// --screenshot=PATH); its stdout (the DOM) or "" on failure, with `log`.
std::string chromium(const std::string& url, const std::string& mode, const fs::path& dir,
                     std::string& log) {
  const fs::path out = dir / (mode == "--dump-dom" ? "dom.html" : "screenshot.log");
  test::SpawnOptions o;
  o.program = "/usr/bin/chromium";
  o.args = {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--user-data-dir=" + (dir / "profile").string(),
            // Virtual time: the page's 2 s polls run back to back, each
            // fetch waited for; about seven polls.
            "--virtual-time-budget=14000", "--window-size=1400,1000", mode, url};
  o.log_path = out.string();
  test::Process p = test::Process::spawn(o);
  if (!p.started()) {
    log = "chromium did not start";
    return "";
  }
  auto status = p.wait(90'000);
  log = read_file(out);
  if (!status || !status->exited || status->code != 0) return "";
  return log;
}

int attr_int(const std::string& dom, const std::string& element_id, const std::string& attr) {
  std::smatch m;
  const std::regex re("id=\"" + element_id + "\"[^>]*" + attr + "=\"(\\d+)\"");
  if (std::regex_search(dom, m, re)) return std::stoi(m[1]);
  const std::regex re2(attr + "=\"(\\d+)\"[^>]*id=\"" + element_id + "\"");
  return std::regex_search(dom, m, re2) ? std::stoi(m[1]) : -1;
}

TEST(ClusterDashboard, ChartsHaveDataTheTopologyIsWholeAndAKilledEtcdMemberShows) {
  ASSERT_TRUE(fs::exists("/usr/bin/chromium"))
      << "Debian's chromium is missing: scripts/install-deps.sh installs it";
  test::TempDir dir("betcore-dashboard");
  fs::create_directories(dir.path() / "cluster");
  LocalCluster cluster(dir.path() / "cluster", ClusterOptions{});
  std::string why;
  ASSERT_TRUE(cluster.start(why)) << why;
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(cluster.api_port(), cluster.tokens()));
  // On node 1, whose page the test opens: its own charts get the bets.
  crash::Load load(7, cluster.node(0).port(), cluster.tokens(), "dash");
  load.start();
  std::this_thread::sleep_for(std::chrono::seconds(2));

  // The fault: etcd member 3 killed (two of three keep the quorum).
  cluster.kill_etcd(2);

  // Node 1's own page (each node's dashboard shows that node's metrics).
  const std::string url =
      fmt::format("http://127.0.0.1:{}/#token={}", cluster.node(0).port(), cluster.tokens().admin);
  std::string log;
  const std::string dom = chromium(url, "--dump-dom", dir.path(), log);
  ASSERT_FALSE(dom.empty()) << test::last_lines(log);

  std::smatch polls;
  ASSERT_TRUE(std::regex_search(dom, polls, std::regex("data-polls=\"(\\d+)\"")))
      << dom.substr(0, 400);
  EXPECT_GE(std::stoi(polls[1]), 3) << "the page polled";
  EXPECT_GT(attr_int(dom, "chart-throughput", "data-points"), 0) << "throughput chart has data";
  EXPECT_GT(attr_int(dom, "chart-latency", "data-points"), 0) << "latency chart has data";
  EXPECT_GT(attr_int(dom, "chart-log", "data-points"), 0) << "log chart has data";
  for (int i = 0; i < cluster.nodes(); ++i) {
    EXPECT_NE(dom.find(fmt::format("<tr data-node=\"{}\" data-ready=\"true\"", cluster.node_id(i))),
              std::string::npos)
        << cluster.node_id(i) << " in the topology";
  }
  // Every etcd member listed; the killed one unhealthy.
  size_t members = 0;
  for (size_t at = dom.find("<tr data-member=\"etcd-"); at != std::string::npos;
       at = dom.find("<tr data-member=\"etcd-", at + 1)) {
    ++members;
  }
  EXPECT_EQ(members, 3u);
  EXPECT_NE(dom.find("class=\"bad\">unhealthy"), std::string::npos)
      << "the killed etcd member shows";
  // The status pill: every fetch of the last poll worked and the node is
  // ready ("ok", or "warn" if the guard opened an incident meanwhile).
  EXPECT_EQ(dom.find("id=\"status\" class=\"bad\""), std::string::npos)
      << "the page's last poll failed or the node is not ready";
  EXPECT_NE(dom.find("id=\"build\""), std::string::npos);

  const char* shot_env = std::getenv("BETCORE_DASHBOARD_SCREENSHOT");
  const fs::path shot = shot_env != nullptr ? fs::path(shot_env) : dir.path() / "dashboard.png";
  chromium(url, "--screenshot=" + shot.string(), dir.path(), log);
  EXPECT_TRUE(fs::exists(shot) && fs::file_size(shot) > 10'000) << test::last_lines(log);
  std::printf("dashboard screenshot: %s\n", shot.c_str());
  load.finish();
}

}  // namespace
}  // namespace betcore::cluster
