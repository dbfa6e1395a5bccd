// TLS on every link of a real cluster (docs/security.md): etcd members with
// peer and client certificates (--client-cert-auth), nodes on etcds:// that
// serve HTTPS, HAProxy terminating TLS and speaking TLS to the nodes. curl
// with the CA reaches every endpoint; without it, or over plain HTTP, it is
// refused; etcd refuses a client without a certificate; the nodes'
// certificates rotate (SIGHUP) under load without a failed request.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cluster/local_cluster.h"
#include "crash/bet_load.h"
#include "log/etcd/etcd_client.h"
#include "tls/tls.h"
#include "tools/http_client.h"

namespace betcore::cluster {
namespace {

struct Curl {
  int exit_code = -1;
  int http_code = 0;
  std::string body;
};

// curl as an operator runs it; `flags` before the URL (e.g. "--cacert ca.pem").
Curl curl(const fs::path& dir, const std::string& flags, const std::string& url) {
  const fs::path out = dir / "curl.out";
  const std::string cmd = fmt::format(
      "curl -sS --max-time 5 -o '{}' -w '%{{http_code}}' {} '{}' > '{}.code' 2> '{}.err'",
      out.string(), flags, url, out.string(), out.string());
  Curl c;
  const int rc = std::system(cmd.c_str());
  c.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  c.http_code = std::atoi(read_file(out.string() + ".code").c_str());
  c.body = read_file(out) + read_file(out.string() + ".err");
  return c;
}

class ClusterTls : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterOptions o;
    o.tls = true;
    cluster_ = std::make_unique<LocalCluster>(dir_.path(), o);
    std::string why;
    ASSERT_TRUE(cluster_->start(why)) << why;
    ca_ = (cluster_->tls_dir() / "ca.pem").string();
  }
  LocalCluster& c() { return *cluster_; }
  std::string lb() { return fmt::format("https://127.0.0.1:{}", c().haproxy_port()); }
  std::string auth(const std::string& token) {
    return fmt::format("--cacert '{}' -H 'Authorization: Bearer {}'", ca_, token);
  }

  test::TempDir dir_{"betcore-cluster-tls"};
  std::unique_ptr<LocalCluster> cluster_;
  std::string ca_;
};

TEST_F(ClusterTls, CurlWithTheCaReachesEveryEndpointThroughHaproxyAndWithoutItIsRefused) {
  const auto& t = c().tokens();
  const std::string json = " -H 'Content-Type: application/json' -d ";
  struct Step {
    std::string flags, path;
    int expect;
  };
  // A sportsbook's whole day, every route, over TLS through HAProxy.
  const std::vector<Step> steps = {
      {auth(t.admin) + json + R"('{"account_id":"acct-00","currency":"EUR"}')", "/v1/accounts", 201},
      {auth(t.payments) + json + R"('{"payment_ref":"d-1","account_id":"acct-00","amount":10000}')", "/v1/deposits", 201},
      {auth(t.trader) + json + R"('{"event_id":"ev-1","name":"A v B","starts_at":"2030-01-01T20:00:00Z"}')", "/v1/events", 201},
      {auth(t.trader) + json + R"('{"market_id":"mk-1","event_id":"ev-1","name":"Win","selections":[{"selection_id":"a","name":"A","odds":"2.00"},{"selection_id":"b","name":"B","odds":"1.90"}]}')", "/v1/markets", 201},
      {auth(t.trader) + json + R"('{"prices":[{"selection_id":"a","odds":"2.10"}]}')", "/v1/markets/mk-1/prices", 200},
      {auth(t.punter("acct-00")) + json + R"('{"bet_id":"b-1","account_id":"acct-00","stake":500,"legs":[{"market_id":"mk-1","selection_id":"a","odds":"2.10"}]}')", "/v1/bets", 201},
      {auth(t.punter("acct-00")), "/v1/bets/b-1?account_id=acct-00", 200},
      {auth(t.admin), "/v1/accounts/acct-00/bets", 200},
      {auth(t.trader) + json + R"('{}')", "/v1/markets/mk-1/suspend", 200},
      {auth(t.trader) + json + R"('{}')", "/v1/markets/mk-1/resume", 200},
      {auth(t.trader) + json + R"('{}')", "/v1/markets/mk-1/close", 200},
      {auth(t.trader) + json + R"('{"results":[{"selection_id":"a","result":"win"},{"selection_id":"b","result":"lose"}]}')", "/v1/markets/mk-1/settle", 200},
      {auth(t.punter("acct-00")) + json + R"('{"withdrawal_id":"w-1","account_id":"acct-00","amount":1000}')", "/v1/withdrawals", 201},
      {auth(t.payments) + json + R"('{"gateway_ref":"g-1"}')", "/v1/withdrawals/w-1/complete", 200},
      {auth(t.admin), "/v1/withdrawals/w-1", 200},
      {auth(t.admin), "/v1/withdrawals", 200},
      {auth(t.payments), "/v1/deposits/d-1", 200},
      {auth(t.admin), "/v1/deposits", 200},
      {auth(t.feed), "/v1/markets/mk-1", 200},
      {auth(t.admin), "/v1/accounts/acct-00", 200},
      {auth(t.admin), "/v1/ledger/balance", 200},
      {auth(t.feed), "/v1/producers", 200},
      {auth(t.admin), "/v1/cluster", 200},
      {auth(t.admin), "/v1/alerts", 200},
      {auth(t.admin), "/v1/incidents", 200},
      // No checkpoint yet (one every million commands), and a cluster's
      // log is read from etcd: the nodes' documented answers, over TLS.
      {auth(t.admin), "/v1/snapshot", 503},
      {auth(t.backup), "/v1/log?from=1&max_bytes=65536", 409},
      {fmt::format("--cacert '{}'", ca_), "/health/live", 200},
      {fmt::format("--cacert '{}'", ca_), "/health/ready", 200},
      // Not through the public side (deploy/haproxy): on each node.
      {fmt::format("--cacert '{}'", ca_), "/metrics", 404},
      {fmt::format("--cacert '{}'", ca_), "/", 404},
  };
  for (const Step& s : steps) {
    const Curl r = curl(dir_.path(), s.flags, lb() + s.path);
    EXPECT_EQ(r.exit_code, 0) << s.path << ": " << r.body;
    EXPECT_EQ(r.http_code, s.expect) << s.path << ": " << r.body;
  }
  // The committed-event stream over TLS: it holds the bet (curl stops it).
  std::filesystem::remove(dir_.path() / "curl.out");
  const Curl stream = curl(dir_.path(), auth(t.admin) + " -N --max-time 2", lb() + "/v1/stream?from=1");
  EXPECT_NE(stream.body.find("b-1"), std::string::npos) << stream.body.substr(0, 500);

  // Without the CA, over plain HTTP, or straight to a node without the CA: refused.
  const Curl no_ca = curl(dir_.path(), "", lb() + "/health/live");
  EXPECT_EQ(no_ca.exit_code, 60) << no_ca.body;  // CURLE_PEER_FAILED_VERIFICATION
  const Curl plain = curl(dir_.path(), "", fmt::format("http://127.0.0.1:{}/health/live", c().haproxy_port()));
  EXPECT_NE(plain.http_code, 200) << plain.body;
  const Curl node_plain = curl(dir_.path(), "", fmt::format("http://127.0.0.1:{}/health/live", c().node(0).port()));
  EXPECT_EQ(node_plain.http_code, 400) << node_plain.body;
  EXPECT_NE(node_plain.body.find("https://"), std::string::npos) << node_plain.body;
  const Curl node_tls = curl(dir_.path(), fmt::format("--cacert '{}'", ca_),
                             fmt::format("https://127.0.0.1:{}/health/live", c().node(0).port()));
  EXPECT_EQ(node_tls.http_code, 200) << node_tls.body;
}

TEST_F(ClusterTls, EtcdRefusesAClientWithoutACertificateOfItsCa) {
  const std::string d = c().tls_dir().string();
  std::vector<std::string> eps;
  for (size_t at = 0, next; at != std::string::npos; at = next == std::string::npos ? next : next + 1) {
    next = c().etcd_endpoints().find(',', at);
    eps.push_back(c().etcd_endpoints().substr(at, next == std::string::npos ? next : next - at));
  }
  const auto reaches = [&](std::optional<tls::ClientFiles> files) {
    log::etcd::Client client(log::etcd::ClientOptions{eps, 1'000, std::move(files)});
    return client.range("health", "", {}, 1'000).ok();
  };
  EXPECT_TRUE(reaches(tls::ClientFiles{d + "/ca.pem", d + "/node.pem", d + "/node.key"}));
  EXPECT_FALSE(reaches(tls::ClientFiles{d + "/ca.pem", "", ""})) << "etcd served a client without a certificate";
  EXPECT_FALSE(reaches(std::nullopt)) << "etcd served plain gRPC";
  // A certificate from another CA is refused too.
  const std::string other = (dir_.path() / "other").string();
  ASSERT_EQ(tls::ensure_ca(other, "not ours"), "");
  ASSERT_EQ(tls::issue_cert(other, other, "intruder", {"", {"127.0.0.1"}, 0, 0, 30}), "");
  EXPECT_FALSE(reaches(tls::ClientFiles{d + "/ca.pem", other + "/intruder.pem", other + "/intruder.key"}));

  // And a betcore node with that certificate never gets in: it gives up.
  test::SpawnOptions so;
  so.program = test::betcore_binary().string();
  so.args = {"node", "--data", (dir_.path() / "intruder-data").string(), "--listen", "127.0.0.1:0",
             "--tokens", c().tokens().file.string(), "--credentials", c().tokens().credentials.string(),
             "--log", c().log_url(), "--node-id", "intruder",
             "--tls-cert", other + "/intruder.pem", "--tls-key", other + "/intruder.key",
             "--tls-ca", d + "/ca.pem", "--log-connect-timeout-ms", "2000"};
  so.log_path = (dir_.path() / "intruder.log").string();
  test::Process p = test::Process::spawn(so);
  const auto exited = p.wait(30'000);
  ASSERT_TRUE(exited.has_value()) << "the node with a foreign certificate kept running";
  EXPECT_NE(exited->code, 0);
  EXPECT_NE(p.read_log().find("cannot read the log head"), std::string::npos) << p.read_log();
}

// The members' certificates must name the host a client dialled: an etcd
// whose certificate (of our CA) names only "localhost" is reached as
// localhost:PORT and refused as 127.0.0.1:PORT, the same listener.
TEST_F(ClusterTls, EtcdMustNameTheHostTheClientDialled) {
  const std::string d = c().tls_dir().string();
  const fs::path lone = dir_.path() / "lone";
  fs::create_directories(lone);
  ASSERT_EQ(tls::issue_cert(d, lone.string(), "etcd", {"", {"localhost"}, 0, 0, 30}), "");
  const uint16_t client_port = test::reserve_port();
  const uint16_t peer_port = test::reserve_port();
  const std::string client_url = fmt::format("https://127.0.0.1:{}", client_port);
  const std::string peer_url = fmt::format("http://127.0.0.1:{}", peer_port);
  test::SpawnOptions so;
  so.program = "/usr/bin/etcd";
  so.args = {"--name", "lone", "--data-dir", (lone / "data").string(),
             "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
             "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
             "--initial-cluster", "lone=" + peer_url, "--logger", "zap", "--log-outputs", "stderr",
             "--cert-file", (lone / "etcd.pem").string(), "--key-file", (lone / "etcd.key").string(),
             "--client-cert-auth", "--trusted-ca-file", d + "/ca.pem"};
  so.log_path = (lone / "etcd.log").string();
  test::Process etcd = test::Process::spawn(so);
  ASSERT_TRUE(etcd.started()) << etcd.spawn_error();
  const tls::ClientFiles ours{d + "/ca.pem", d + "/node.pem", d + "/node.key"};
  const auto reaches = [&](const std::string& endpoint) {
    log::etcd::Client client(log::etcd::ClientOptions{{endpoint}, 1'000, ours});
    return client.range("health", "", {}, 1'000).ok();
  };
  bool named = false;
  for (int i = 0; i < 100 && !named; ++i) {
    named = reaches(fmt::format("localhost:{}", client_port));
    if (!named) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(named) << "etcd did not serve its own name\n" << test::last_lines(etcd.read_log());
  EXPECT_FALSE(reaches(fmt::format("127.0.0.1:{}", client_port)))
      << "a certificate for localhost was taken for 127.0.0.1";
  etcd.stop();
}

// A node's client certificate toward etcd is renewed without a restart:
// the node starts with a foreign certificate in its files (etcd refuses it,
// the node keeps waiting), the right certificate and key are renamed into
// those files, and the same process gets in and becomes ready.
TEST_F(ClusterTls, ANodeTakesARenewedClientCertificateWithoutARestart) {
  const std::string d = c().tls_dir().string();
  const fs::path other = dir_.path() / "other";
  ASSERT_EQ(tls::ensure_ca(other.string(), "not ours"), "");
  ASSERT_EQ(tls::issue_cert(other.string(), other.string(), "intruder", {"", {"127.0.0.1"}, 0, 0, 30}), "");
  const fs::path files = dir_.path() / "renewing";
  fs::create_directories(files);
  fs::copy_file(other / "intruder.pem", files / "node.pem");
  fs::copy_file(other / "intruder.key", files / "node.key");

  test::SpawnOptions so;
  so.program = test::betcore_binary().string();
  so.args = {"node", "--data", (dir_.path() / "renewing-data").string(), "--listen", "127.0.0.1:0",
             "--tokens", c().tokens().file.string(), "--credentials", c().tokens().credentials.string(),
             "--log", c().log_url(), "--node-id", "renewing",
             "--tls-cert", (files / "node.pem").string(), "--tls-key", (files / "node.key").string(),
             "--tls-ca", d + "/ca.pem", "--log-connect-timeout-ms", "90000"};
  so.log_path = (dir_.path() / "renewing.log").string();
  test::Process p = test::Process::spawn(so);
  ASSERT_TRUE(p.started()) << p.spawn_error();
  // Refused for a while: it waits for etcd.
  const auto waited = [&](const std::string& line, int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (p.read_log().find(line) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  ASSERT_TRUE(waited("waiting for etcd", 30)) << p.read_log();
  std::this_thread::sleep_for(std::chrono::seconds(log::etcd::kCertRefreshS + 1));
  ASSERT_EQ(p.read_log().find("ready on"), std::string::npos) << "etcd let a foreign certificate in";

  // The renewal, as an operator's tooling does it: new files, then renames.
  fs::copy_file(fs::path(d) / "node.key", files / "node.key.new");
  fs::copy_file(fs::path(d) / "node.pem", files / "node.pem.new");
  fs::rename(files / "node.key.new", files / "node.key");
  fs::rename(files / "node.pem.new", files / "node.pem");
  EXPECT_TRUE(waited("ready on", 60)) << "the node did not use its renewed certificate\n"
                                       << test::last_lines(p.read_log());
  EXPECT_TRUE(p.running()) << p.read_log();
  p.stop();
}

TEST_F(ClusterTls, CertificatesAndTokensRotateUnderLoadWithoutAFailedRequest) {
  ASSERT_NO_FATAL_FAILURE(crash::set_up_book(c().api_port(), c().tokens()));
  crash::Load load(21, c().api_port(), c().tokens(), "rot");
  load.start();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // New keys and certificates in place (atomic renames), then SIGHUP: each
  // node serves new connections with them; HAProxy's open connections and
  // requests in flight carry on.
  const std::string d = c().tls_dir().string();
  tls::CertSpec spec;
  spec.hosts = {"127.0.0.1", "localhost"};
  spec.valid_days = 30;
  ASSERT_EQ(tls::issue_cert(d, d, "node", spec), "");
  // And a new admin token, the way an operator adds one.
  const fs::path token_out = dir_.path() / "new-token.txt";
  const std::string add = fmt::format("'{}' token add admin --tokens '{}' > '{}' 2>/dev/null",
                                      test::betcore_binary().string(), c().tokens().file.string(),
                                      token_out.string());
  ASSERT_EQ(std::system(add.c_str()), 0);
  std::string new_token = read_file(token_out);
  while (!new_token.empty() && new_token.back() == '\n') new_token.pop_back();
  ASSERT_EQ(new_token.substr(0, 4), "bct_") << new_token;
  for (int i = 0; i < c().nodes(); ++i) c().node(i).signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  load.finish();
  const std::vector<crash::Op> ops = load.ops();
  EXPECT_GT(crash::expect_definite_answers(ops, "rotation"), 50u);
  for (const crash::Op& op : ops) {
    EXPECT_EQ(op.indefinite, 0) << op.id << " needed a retry during the rotation";
  }
  for (int i = 0; i < c().nodes(); ++i) {
    const std::string log = c().node(i).last_log();
    EXPECT_NE(log.find("SIGHUP: reloaded the TLS certificate"), std::string::npos) << test::last_lines(log);
    EXPECT_EQ(crash::JsonClient(c().node(i).port()).get("/v1/ledger/balance", new_token).status, 200)
        << "node " << i << " did not take the new token";
    // The expiry the alert watches is the new certificate's: 30 days out.
    tools::HttpClientOptions ho;
    ho.tls = test::tls_client();
    const std::string metrics = tools::HttpClient("127.0.0.1", c().node(i).port(), ho).get("/metrics").body;
    const double expiry = test::metric(metrics, "betcore_tls_certificate_expiry_timestamp_seconds", {});
    const double days = (expiry - static_cast<double>(std::time(nullptr))) / 86400;
    EXPECT_GT(days, 29);
    EXPECT_LT(days, 31);
  }
  crash::expect_state_matches(c().api_port(), c().tokens(), ops);
}

}  // namespace
}  // namespace betcore::cluster
