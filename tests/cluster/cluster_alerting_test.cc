// The shipped alert rules (deploy/prometheus/betcore.rules.yml) in a real
// Prometheus (Debian's prometheus) scraping a real local cluster (its nodes
// and etcd members), routing to a real Alertmanager (Debian's
// prometheus-alertmanager) that delivers to a webhook: the path an operator's
// pager takes. A node is killed; the webhook must receive BetcoreNodeDown
// firing for that node, then resolved once it is back.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cluster/local_cluster.h"
#include "support/fake_http_server.h"
#include "tools/http_client.h"

namespace betcore::cluster {
namespace {

using json = nlohmann::json;

// What Alertmanager posted to the webhook, in order.
class Webhook {
 public:
  Webhook()
      : server_([this](const test::FakeRequest& r) {
          std::lock_guard lock(mu_);
          posts_.push_back(json::parse(r.body, nullptr, false));
          return test::FakeResponse(200, "{}");
        }) {}

  std::string url() const { return server_.url() + "/alerts"; }

  // The status ("firing" / "resolved") of the last alert named `name` for
  // `instance` posted so far; "" if none.
  std::string last_status(const std::string& name, const std::string& instance) {
    std::lock_guard lock(mu_);
    std::string status;
    for (const json& post : posts_) {
      if (!post.is_object() || !post.contains("alerts")) continue;
      for (const json& a : post["alerts"]) {
        if (a["labels"].value("alertname", "") == name &&
            a["labels"].value("instance", "") == instance) {
          status = a.value("status", "");
        }
      }
    }
    return status;
  }
  // The first posted alert named `name` (null if none).
  json first(const std::string& name) {
    std::lock_guard lock(mu_);
    for (const json& post : posts_) {
      if (!post.is_object() || !post.contains("alerts")) continue;
      for (const json& a : post["alerts"]) {
        if (a["labels"].value("alertname", "") == name) return a;
      }
    }
    return nullptr;
  }
  std::string dump() {
    std::lock_guard lock(mu_);
    std::string out;
    for (const json& p : posts_) out += p.dump() + "\n";
    return out.empty() ? "(nothing posted)" : out;
  }

 private:
  std::mutex mu_;
  std::vector<json> posts_;
  test::FakeHttpServer server_;
};

// GET a Prometheus API path; the JSON body (null on failure).
json prometheus_get(uint16_t port, const std::string& target) {
  tools::Response r = tools::HttpClient("127.0.0.1", port).get(target);
  if (r.status != 200) return nullptr;
  return json::parse(r.body, nullptr, false);
}

// The number of series an instant query returns (-1 on failure).
int series_count(uint16_t port, const std::string& query) {
  std::string encoded;
  for (char ch : query) {
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == ':') {
      encoded += ch;
    } else {
      encoded += fmt::format("%{:02X}", static_cast<unsigned char>(ch));
    }
  }
  json j = prometheus_get(port, "/api/v1/query?query=" + encoded);
  if (!j.is_object() || j.value("status", "") != "success") return -1;
  return static_cast<int>(j["data"]["result"].size());
}

TEST(ClusterAlerting, NodeDownReachesTheWebhookThroughPrometheusAndAlertmanager) {
  test::TempDir dir("betcore-alerting");
  fs::create_directories(dir.path() / "cluster");
  LocalCluster cluster(dir.path() / "cluster", ClusterOptions{});
  std::string why;
  ASSERT_TRUE(cluster.start(why)) << why;
  Webhook webhook;

  // Alertmanager: every alert to the webhook at once, resolved ones too.
  const fs::path am_dir = dir.path() / "alertmanager";
  fs::create_directories(am_dir);
  std::ofstream(am_dir / "alertmanager.yml") << fmt::format(R"(route:
  receiver: webhook
  group_by: [alertname, instance]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: {}
        send_resolved: true
)",
                                                            webhook.url());
  uint16_t am_port = 0;
  test::Process alertmanager = test::start_server(
      [&](uint16_t port) {
        test::SpawnOptions o;
        o.program = "/usr/bin/prometheus-alertmanager";
        o.args = {"--config.file=" + (am_dir / "alertmanager.yml").string(),
                  "--storage.path=" + (am_dir / "data").string(),
                  fmt::format("--web.listen-address=127.0.0.1:{}", port),
                  "--cluster.listen-address="};  // one Alertmanager: no gossip
        o.log_path = (am_dir / "alertmanager.log").string();
        return o;
      },
      "/-/ready", am_port, "alertmanager");
  ASSERT_TRUE(alertmanager.started());

  // Prometheus: the shipped rules, every node and etcd member scraped each second.
  const fs::path prom_dir = dir.path() / "prometheus";
  fs::create_directories(prom_dir);
  std::vector<std::string> nodes, members;
  for (int i = 0; i < cluster.nodes(); ++i) {
    nodes.push_back(fmt::format("'127.0.0.1:{}'", cluster.node(i).port()));
  }
  for (std::string rest = cluster.etcd_endpoints(); !rest.empty();) {
    const size_t comma = rest.find(',');
    members.push_back("'" + rest.substr(0, comma) + "'");
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  std::ofstream(prom_dir / "prometheus.yml") << fmt::format(
      R"(global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {}/deploy/prometheus/betcore.rules.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:{}']
scrape_configs:
  - job_name: betcore
    static_configs:
      - targets: [{}]
  - job_name: etcd
    static_configs:
      - targets: [{}]
)",
      BETCORE_SOURCE_DIR, am_port, fmt::join(nodes, ", "), fmt::join(members, ", "));
  uint16_t prom_port = 0;
  test::Process prometheus = test::start_server(
      [&](uint16_t port) {
        test::SpawnOptions o;
        o.program = "/usr/bin/prometheus";
        o.args = {"--config.file=" + (prom_dir / "prometheus.yml").string(),
                  "--storage.tsdb.path=" + (prom_dir / "data").string(),
                  fmt::format("--web.listen-address=127.0.0.1:{}", port)};
        o.log_path = (prom_dir / "prometheus.log").string();
        return o;
      },
      "/-/ready", prom_port, "prometheus");
  ASSERT_TRUE(prometheus.started());

  // Every target up, and the series the rules read are really there, under
  // the names the rules use (etcd's own included).
  for (const std::string& q :
       {std::string("up{job=\"betcore\"} == 1"), std::string("up{job=\"etcd\"} == 1"),
        std::string("etcd_server_has_leader == 1"), std::string("etcd_mvcc_db_total_size_in_bytes"),
        std::string("etcd_server_quota_backend_bytes"),
        std::string("etcd_disk_wal_fsync_duration_seconds_count"),
        std::string("betcore_etcd_raft_term > 0"),
        std::string("betcore_etcd_round_trip_seconds_count"),
        std::string("betcore_data_filesystem_avail_bytes"), std::string("betcore_log_head_index"),
        std::string("betcore_bets_total{outcome=\"accepted\"}")}) {
    const int want = q.starts_with("up{job=\"betcore\"}") || q.starts_with("betcore_")
                         ? cluster.nodes()
                         : cluster.etcd_members();
    int got = -1;
    EXPECT_TRUE(test::eventually(std::chrono::seconds(30),
                                 [&] {
                                   got = series_count(prom_port, q);
                                   return got == want;
                                 }))
        << q << ": " << got << " series, want " << want << "\n"
        << test::last_lines(read_file(prom_dir / "prometheus.log"));
  }
  // Every rule loaded and healthy (a misspelt metric would leave a rule
  // healthy but silent: the queries above guard that).
  json rules = prometheus_get(prom_port, "/api/v1/rules");
  ASSERT_TRUE(rules.is_object()) << "GET /api/v1/rules failed";
  int loaded = 0;
  for (const json& g : rules["data"]["groups"]) {
    for (const json& r : g["rules"]) {
      ++loaded;
      EXPECT_EQ(r.value("health", ""), "ok") << r.dump();
    }
  }
  EXPECT_GE(loaded, 30);

  // Kill node 2: up == 0 for 30 s fires BetcoreNodeDown for it.
  const std::string victim = fmt::format("127.0.0.1:{}", cluster.node(1).port());
  const auto killed_at = std::chrono::steady_clock::now();
  cluster.node(1).kill9();
  ASSERT_TRUE(
      test::eventually(std::chrono::seconds(90),
                       [&] { return webhook.last_status("BetcoreNodeDown", victim) == "firing"; }))
      << webhook.dump() << "\n"
      << test::last_lines(read_file(am_dir / "alertmanager.log"));
  const auto fired_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  std::printf("BetcoreNodeDown reached the webhook %.1f s after the kill\n", fired_s);
  json alert = webhook.first("BetcoreNodeDown");
  EXPECT_EQ(alert["labels"].value("severity", ""), "critical") << alert.dump();
  EXPECT_EQ(alert["labels"].value("job", ""), "betcore") << alert.dump();
  EXPECT_EQ(alert["annotations"].value("runbook", ""), "docs/runbooks/node-lost.md")
      << alert.dump();
  EXPECT_NE(alert["annotations"].value("summary", "").find(victim), std::string::npos)
      << alert.dump();
  EXPECT_EQ(
      webhook.last_status("BetcoreNodeDown", fmt::format("127.0.0.1:{}", cluster.node(0).port())),
      "")
      << "only the killed node is down";

  // Back up: the alert resolves, and the webhook hears that too.
  ASSERT_TRUE(cluster.start_node(1, why)) << why;
  ASSERT_EQ(fmt::format("127.0.0.1:{}", cluster.node(1).port()), victim) << "restarted on its port";
  EXPECT_TRUE(test::eventually(std::chrono::seconds(60), [&] {
    return webhook.last_status("BetcoreNodeDown", victim) == "resolved";
  })) << webhook.dump();
}

}  // namespace
}  // namespace betcore::cluster
