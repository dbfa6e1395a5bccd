// Payments end to end, with real processes: a betcore node, `betcore
// payment-gateway` misbehaving on purpose and `betcore payments`, killed
// with -9. Every withdrawal must be paid exactly once at the gateway and end
// in betcore as the gateway says; the breaker must open in an outage and
// send nothing while open beyond its half-open trials; deposit webhooks,
// duplicated, reordered and stormed, credit each deposit once; forged or
// stale webhooks are refused and counted; reconciliation repairs what is safe.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "payments/signature.h"
#include "support/support.h"
#include "tools/http_client.h"

namespace betcore::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kApiKey = "sk_test_payments_e2e";
constexpr const char* kWebhookSecret = "whsec_payments_e2e";
constexpr int kWorkers = 16;
constexpr int kWindow = 20;
constexpr int kHalfOpenCalls = 3;

int64_t unix_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class PaymentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      std::ofstream s(secrets_);
      s << "api_key " << kApiKey << "\nwebhook_secret " << kWebhookSecret << "\n";
    }
    node_ = start_server(
        [&](uint16_t port) {
          SpawnOptions o;
          o.program = betcore_binary().string();
          o.args = {"node", "--data", (dir_ / "data").string(), "--listen",
                    "127.0.0.1:" + std::to_string(port), "--tokens", tokens_.file.string(),
                    "--plain-http"};
          o.log_path = (dir_ / "node.log").string();
          return o;
        },
        "/health/ready", node_port_, "betcore node");
    ASSERT_TRUE(node_.started());
    // The gateway must know the adapter's webhook address before the adapter
    // runs: both are started again on new ports if a port was taken.
    for (int attempt = 1; attempt <= kBindAttemptsMax; ++attempt) {
      adapter_port_ = reserve_port();
      gateway_ = start_server(
          [&](uint16_t port) {
            SpawnOptions o;
            o.program = betcore_binary().string();
            o.args = {"payment-gateway", "--listen", "127.0.0.1:" + std::to_string(port), "--secrets",
                      secrets_.string(), "--webhook-url",
                      "http://127.0.0.1:" + std::to_string(adapter_port_) + "/webhooks/gateway",
                      "--settle-ms", "50", "--fail-share", "0.05", "--seed", "7"};
            o.log_path = (dir_ / "gateway.log").string();
            return o;
          },
          "/control/stats", gateway_port_, "betcore payment-gateway");
      ASSERT_TRUE(gateway_.started());
      std::string why;
      if (start_adapter(&why)) break;
      gateway_.stop(2000);
      ASSERT_TRUE(log_says_address_in_use(why) && attempt < kBindAttemptsMax) << why;
    }
  }

  std::vector<std::string> adapter_args() const {
    return {"payments", "--betcore", "http://127.0.0.1:" + std::to_string(node_port_), "--tokens",
            tokens_.credentials.string(), "--gateway", "http://127.0.0.1:" + std::to_string(gateway_port_),
            "--secrets", secrets_.string(), "--listen", "127.0.0.1:" + std::to_string(adapter_port_),
            "--state-file", (dir_ / "payments.state").string(), "--workers", std::to_string(kWorkers),
            "--gateway-timeout-ms", "1000", "--breaker-window", std::to_string(kWindow),
            "--breaker-min-calls", "10", "--breaker-wait-ms", "2000", "--breaker-half-open-calls",
            std::to_string(kHalfOpenCalls), "--backoff-base-ms", "50", "--backoff-cap-ms", "500",
            "--reconcile-interval-s", "0"};
  }

  // Starts the adapter on its fixed port; false with the reason and its log.
  bool start_adapter(std::string* why) {
    SpawnOptions o;
    o.program = betcore_binary().string();
    o.args = adapter_args();
    o.log_path = (dir_ / "adapter.log").string();
    adapter_ = Process::spawn(o);
    std::string failure;
    if (wait_http_ready("127.0.0.1", adapter_port_, "/health/ready", 30000, &adapter_, &failure)) {
      return true;
    }
    adapter_.stop(2000);
    *why = "betcore payments is not ready: " + failure + "\n" + last_lines(adapter_.read_log());
    return false;
  }

  void kill_and_restart_adapter() {
    ASSERT_TRUE(adapter_.kill(SIGKILL));
    ASSERT_TRUE(adapter_.wait(5000).has_value());
    std::string why;
    ASSERT_TRUE(start_adapter(&why)) << why;
  }

  tools::HttpClient node() const { return tools::HttpClient("127.0.0.1", node_port_); }
  tools::Response gateway_get(const std::string& target) const {
    tools::Request r;
    r.target = target;
    r.bearer_token = kApiKey;
    return tools::HttpClient("127.0.0.1", gateway_port_).request(r);
  }
  tools::Response faults(const json& f) const {
    return tools::HttpClient("127.0.0.1", gateway_port_).post("/control/faults", f.dump());
  }
  json gateway_stats() const {
    tools::Response r = tools::HttpClient("127.0.0.1", gateway_port_).get("/control/stats");
    return json::parse(r.body, nullptr, false);
  }
  std::string adapter_metrics() const {
    return tools::HttpClient("127.0.0.1", adapter_port_).get("/metrics").body;
  }
  json ledger() const {
    return json::parse(node().get("/v1/ledger/balance", tokens_.admin).body, nullptr, false);
  }
  json eur() const {
    json l = ledger();
    if (l.is_object() && l.contains("currencies")) {
      for (const json& c : l["currencies"]) {
        if (c["currency"] == "EUR") return c;
      }
    }
    return json::object();
  }
  int64_t balance(const std::string& account) const {
    json a = json::parse(node().get("/v1/accounts/" + account, tokens_.admin).body, nullptr, false);
    return a.is_object() && a.contains("balance") ? a["balance"].get<int64_t>() : -1;
  }
  void create_accounts(const std::string& prefix, int n, int64_t seed_amount) {
    tools::HttpClient c = node();
    for (int i = 0; i < n; ++i) {
      const std::string id = prefix + std::to_string(i);
      ASSERT_EQ(c.post("/v1/accounts", json{{"account_id", id}, {"currency", "EUR"}}.dump(), tokens_.admin).status, 201);
      if (seed_amount > 0) {
        ASSERT_EQ(c.post("/v1/deposits",
                         json{{"payment_ref", "seed-" + id}, {"account_id", id}, {"amount", seed_amount}}.dump(),
                         tokens_.payments)
                      .status,
                  201);
      }
    }
  }
  // Every payout at the gateway, by withdrawal id; a second payout for one
  // withdrawal is a failure of the test.
  std::map<std::string, json> gateway_payouts() {
    std::map<std::string, json> out;
    std::string after;
    for (;;) {
      tools::Response r = gateway_get("/v1/payouts?limit=1000" + (after.empty() ? "" : "&after=" + after));
      EXPECT_EQ(r.status, 200) << r.error << r.body;
      json j = json::parse(r.body, nullptr, false);
      if (r.status != 200 || !j.is_object()) return out;
      for (const json& p : j["payouts"]) {
        auto [it, fresh] = out.emplace(p["reference"].get<std::string>(), p);
        EXPECT_TRUE(fresh) << "withdrawal " << p["reference"] << " paid twice: " << it->second << " and " << p;
      }
      if (!j["next"].is_string()) return out;
      after = j["next"].get<std::string>();
    }
  }
  // `betcore payments --reconcile-once`: its exit code and report.
  int reconcile_once(bool repair, json* report) {
    std::vector<std::string> args = adapter_args();
    args.insert(args.end(), {"--reconcile-once", "--reconcile-grace-ms", "0"});
    if (repair) args.push_back("--repair");
    SpawnOptions o;
    o.program = betcore_binary().string();
    o.args = args;
    o.log_path = (dir_ / "reconcile.log").string();
    std::remove(o.log_path.c_str());
    Process p = Process::spawn(o);
    std::optional<ExitStatus> status = p.wait(60000);
    const std::string out = p.read_log();
    // The report is the JSON object on stdout, from a line "{" on; log
    // lines may come before it.
    size_t brace = out.compare(0, 2, "{\n") == 0 ? 0 : out.find("\n{\n");
    if (brace != 0 && brace != std::string::npos) ++brace;
    *report = json::parse(brace == std::string::npos ? out : out.substr(brace), nullptr, false);
    if (!status || status->signaled) return -1;
    return status->code;
  }
  std::string logs() {
    return "--- adapter\n" + last_lines(adapter_.read_log(), 30) + "--- gateway\n" +
           last_lines(gateway_.read_log(), 15) + "--- node\n" + last_lines(node_.read_log(), 10);
  }

  TempDir dir_{"betcore-payments"};
  TestTokens tokens_ = write_tokens_file(dir_.path(), {"alice"});
  std::filesystem::path secrets_ = dir_.path() / "gateway.secrets";
  uint16_t node_port_ = 0, gateway_port_ = 0, adapter_port_ = 0;
  Process node_, gateway_, adapter_;
};

TEST_F(PaymentsTest, ThousandWithdrawalsPaidExactlyOnceThroughErrorsTimeoutsAnOutageAndTwoKills) {
  constexpr int kAccounts = 50, kWithdrawals = 1000;
  create_accounts("p", kAccounts, 10'000'000);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(faults({{"error_share", 0.2}, {"timeout_share", 0.05}, {"timeout_hold_ms", 2000},
                    {"reset_share", 0.05}})
                .status,
            200);
  std::map<std::string, int64_t> amounts;
  for (int i = 0; i < kWithdrawals; ++i) amounts["w-" + std::to_string(i)] = 100 + (i * 37) % 900;
  std::thread requester([&] {
    tools::HttpClient c = node();
    for (int i = 0; i < kWithdrawals; ++i) {
      const std::string id = "w-" + std::to_string(i);
      tools::Response r = c.post("/v1/withdrawals",
                                 json{{"withdrawal_id", id}, {"account_id", "p" + std::to_string(i % kAccounts)},
                                      {"amount", amounts[id]}}.dump(),
                                 tokens_.admin);
      EXPECT_EQ(r.status, 201) << id << ": " << r.error << r.body;
      if (i % 100 == 99) std::this_thread::sleep_for(300ms);  // spread over a few seconds
    }
  });
  std::this_thread::sleep_for(2s);
  kill_and_restart_adapter();  // kill -9 number one, mid-payouts
  ASSERT_FALSE(HasFatalFailure());
  std::this_thread::sleep_for(2s);

  // A full outage for 10 s: the breakers must open, and send only trials.
  const json before = gateway_stats();
  ASSERT_EQ(faults({{"outage_ms", 10000}}).status, 200);
  std::this_thread::sleep_for(10500ms);
  std::this_thread::sleep_for(2500ms);  // a half-open round after it ends
  const std::string m = adapter_metrics();
  const json after = gateway_stats();
  double opened = 0, half_opened = 0;
  for (const char* e : {"create_payout", "get_payout"}) {
    const std::string ep = std::string("endpoint=\"") + e + "\"";
    const double o = metric(m, "betcore_payments_breaker_transitions_total", {ep, "to=\"open\""});
    const double h = metric(m, "betcore_payments_breaker_transitions_total", {ep, "to=\"half_open\""});
    const double trials = metric(m, "betcore_payments_breaker_calls_permitted_total", {ep, "state=\"half_open\""});
    ASSERT_GE(o, 0) << m;
    EXPECT_LE(trials, kHalfOpenCalls * h) << e << ": calls let through in half-open beyond the trials";
    opened += o;
    half_opened += h;
  }
  EXPECT_GE(opened, 1) << "no breaker opened during a 10 s outage\n" << m;
  std::cout << "outage: breakers opened " << opened << " times, half-opened " << half_opened
            << " times; requests that reached the gateway during it: "
            << after.value("requests_in_outage", 0.0) - before.value("requests_in_outage", 0.0) << std::endl;
  EXPECT_GT(std::max(metric(m, "betcore_payments_gateway_calls_total",
                            {"endpoint=\"create_payout\"", "result=\"not_permitted\""}),
                     metric(m, "betcore_payments_gateway_calls_total",
                            {"endpoint=\"get_payout\"", "result=\"not_permitted\""})),
            0)
      << "the open breaker refused nothing";
  // What reached the gateway while it was down: before a breaker opened, at
  // most a window of calls and those in flight, per endpoint; then trials.
  const double in_outage = after.value("requests_in_outage", 0.0) - before.value("requests_in_outage", 0.0);
  EXPECT_GT(in_outage, 0);
  EXPECT_LE(in_outage, 2 * (kWindow + kWorkers) + kHalfOpenCalls * half_opened)
      << "calls kept coming during the outage";

  kill_and_restart_adapter();  // kill -9 number two, while it catches up
  ASSERT_FALSE(HasFatalFailure());
  requester.join();

  // Everything requested ends: nothing pending in betcore.
  ASSERT_TRUE(eventually(180s, [&] {
    json e = eur();
    return e.contains("pending_withdrawals") && e["pending_withdrawals"] == 0;
  })) << "withdrawals still pending: " << eur() << "\n" << logs();

  // The test reads the gateway's ledger without its faults.
  ASSERT_EQ(faults({{"error_share", 0}, {"timeout_share", 0}, {"reset_share", 0}}).status, 200);
  std::map<std::string, json> payouts = gateway_payouts();
  EXPECT_EQ(payouts.size(), amounts.size()) << "every withdrawal has exactly one payout";
  int64_t paid_total = 0;
  int completed = 0, failed = 0;
  tools::HttpClient c = node();
  for (const auto& [id, amount] : amounts) {
    auto p = payouts.find(id);
    ASSERT_NE(p, payouts.end()) << id << " was never sent to the gateway";
    const json& payout = p->second;
    json w = json::parse(c.get("/v1/withdrawals/" + id, tokens_.payments).body, nullptr, false);
    ASSERT_TRUE(w.is_object()) << id;
    EXPECT_EQ(payout["amount"], amount) << id;
    if (payout["status"] == "paid") {
      EXPECT_EQ(w["status"], "completed") << id << " " << w << " " << payout;
      EXPECT_EQ(w["gateway_ref"], payout["payout_id"]) << id;
      paid_total += amount;
      ++completed;
    } else {
      EXPECT_EQ(payout["status"], "failed") << id << " " << payout;
      EXPECT_EQ(w["status"], "failed") << id << " " << w << " " << payout;
      ++failed;
    }
  }
  EXPECT_GT(completed, 800);
  EXPECT_GT(failed, 0) << "--fail-share 0.05 failed none";
  json e = eur();
  EXPECT_EQ(e["withdrawals_completed"], paid_total) << "betcore's paid total differs from the gateway's";
  json l = ledger();
  EXPECT_EQ(l["balanced"], true) << l;
  EXPECT_EQ(l["total"], 0) << l;
  // Timeouts, resets, 500s after the fact and two kills: the gateway saw
  // repeats, and answered them with the payout it had.
  const json stats = gateway_stats();
  EXPECT_GT(stats.value("idempotent_replays", 0), 0);
  std::cout << "payouts: " << completed << " paid, " << failed << " failed; gateway " << stats.dump() << std::endl;

  json report;
  EXPECT_EQ(reconcile_once(false, &report), 0) << report.dump(2);
  EXPECT_EQ(report["checked"]["gateway_payouts"], kWithdrawals) << report.dump(2);
  // What Prometheus scrapes from the adapter and the node lints clean.
  EXPECT_EQ(promtool_check_metrics(adapter_port_), "");
  EXPECT_EQ(promtool_check_metrics(node_port_), "");
}

TEST_F(PaymentsTest, DuplicatedReorderedStormedWebhooksCreditEachDepositOnceAndForgeriesAreRefused) {
  constexpr int kAccounts = 20, kDeposits = 200;
  create_accounts("d", kAccounts, 0);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(faults({{"duplicate_share", 0.5}, {"webhook_delay_ms_max", 300}}).status, 200);
  std::map<std::string, int64_t> expected;
  tools::HttpClient g("127.0.0.1", gateway_port_);
  for (int i = 0; i < kDeposits; ++i) {
    const std::string account = "d" + std::to_string(i % kAccounts);
    const int64_t amount = 1000 + i;
    tools::Response r = g.post("/control/deposits",
                               json{{"account_id", account}, {"amount", amount}, {"currency", "EUR"}}.dump());
    ASSERT_EQ(r.status, 201) << r.error << r.body;
    expected[account] += amount;
    if (i == kDeposits / 2) {
      kill_and_restart_adapter();  // deliveries in flight fail and come again
      ASSERT_FALSE(HasFatalFailure());
    }
  }
  ASSERT_EQ(faults({{"webhook_storm", 3}}).status, 200);
  ASSERT_TRUE(eventually(120s, [&] { return gateway_stats().value("webhooks_pending", -1) == 0; }))
      << gateway_stats() << "\n" << logs();
  for (const auto& [account, sum] : expected) EXPECT_EQ(balance(account), sum) << account;
  const json stats = gateway_stats();
  std::cout << "webhooks: gateway " << stats.dump() << std::endl;
  // Duplicates, the storm and the kill made the gateway deliver more than once.
  EXPECT_GT(stats.value("webhook_attempts", 0), kDeposits + kDeposits / 4) << stats;
  int64_t total = 0;
  for (const auto& [account, sum] : expected) total += sum;
  EXPECT_EQ(eur()["deposits"], total);

  // Forged, stale and future-dated webhooks are refused, counted, and credit nothing.
  auto deliver = [&](const std::string& payment_id, const std::string& secret, int64_t t) {
    const std::string body =
        json{{"id", "evt_" + payment_id}, {"type", "deposit.succeeded"}, {"created_ms", t * 1000},
             {"data", {{"payment_id", payment_id}, {"account_id", "d1"}, {"amount", 5000}, {"currency", "EUR"}}}}
            .dump();
    tools::Request r;
    r.method = "POST";
    r.target = "/webhooks/gateway";
    r.body = body;
    r.headers.emplace_back("Gateway-Signature", payments::sign_webhook(secret, t, body));
    return tools::HttpClient("127.0.0.1", adapter_port_).request(r).status;
  };
  const int64_t d1 = balance("d1");
  EXPECT_EQ(deliver("forged-1", "not-the-secret", unix_s()), 401);
  EXPECT_EQ(deliver("stale-1", kWebhookSecret, unix_s() - 301), 400);
  EXPECT_EQ(deliver("future-1", kWebhookSecret, unix_s() + 400), 400);
  tools::Request unsigned_request;
  unsigned_request.method = "POST";
  unsigned_request.target = "/webhooks/gateway";
  unsigned_request.body = R"({"id":"evt_x","type":"deposit.succeeded"})";
  EXPECT_EQ(tools::HttpClient("127.0.0.1", adapter_port_).request(unsigned_request).status, 400);
  EXPECT_EQ(balance("d1"), d1) << "a refused webhook credited money";
  // The same delivery, signed right and fresh, is taken: the refusals above
  // were for the signature and the time alone.
  EXPECT_EQ(deliver("manual-1", kWebhookSecret, unix_s()), 200);
  EXPECT_EQ(balance("d1"), d1 + 5000);
  const std::string m = adapter_metrics();
  EXPECT_EQ(metric(m, "betcore_payments_webhooks_total", {"outcome=\"bad_signature\""}), 1) << m;
  EXPECT_EQ(metric(m, "betcore_payments_webhooks_total", {"outcome=\"too_old\""}), 1) << m;
  EXPECT_EQ(metric(m, "betcore_payments_webhooks_total", {"outcome=\"too_new\""}), 1) << m;
  EXPECT_EQ(metric(m, "betcore_payments_webhooks_total", {"outcome=\"malformed\""}), 1) << m;

  json report;
  EXPECT_EQ(reconcile_once(false, &report), 0) << report.dump(2);
  EXPECT_EQ(report["checked"]["gateway_deposits"], kDeposits) << report.dump(2);
  json l = ledger();
  EXPECT_EQ(l["balanced"], true) << l;
}

TEST_F(PaymentsTest, ReconciliationRepairsAPayoutAndADepositTheAdapterMissed) {
  create_accounts("r", 1, 100'000);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(adapter_.stop(5000).code, 0);
  tools::HttpClient c = node();
  ASSERT_EQ(c.post("/v1/withdrawals", R"({"withdrawal_id":"w-r","account_id":"r0","amount":500})", tokens_.admin).status, 201);
  // Paid at the gateway while the adapter is down (as a crash between the
  // payout and its completion would leave it).
  tools::Request pay;
  pay.method = "POST";
  pay.target = "/v1/payouts";
  pay.bearer_token = kApiKey;
  pay.headers.emplace_back("Idempotency-Key", "w-r");
  pay.body = R"({"amount":500,"currency":"EUR","destination":"r0","reference":"w-r"})";
  tools::Response created = tools::HttpClient("127.0.0.1", gateway_port_).request(pay);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string payout_id = json::parse(created.body)["payout_id"];
  ASSERT_TRUE(eventually(10s, [&] {
    return json::parse(gateway_get("/v1/payouts/" + payout_id).body, nullptr, false).value("status", "") != "processing";
  }));
  const bool paid = json::parse(gateway_get("/v1/payouts/" + payout_id).body)["status"] == "paid";
  // A deposit whose webhook cannot be delivered (the adapter is down).
  ASSERT_EQ(tools::HttpClient("127.0.0.1", gateway_port_)
                .post("/control/deposits", R"({"account_id":"r0","amount":700,"currency":"EUR"})")
                .status,
            201);
  json report;
  EXPECT_EQ(reconcile_once(false, &report), 1) << "unrepaired differences must fail the pass\n" << report.dump(2);
  EXPECT_EQ(report["unrepaired"], 2) << report.dump(2);
  EXPECT_EQ(reconcile_once(true, &report), 0) << report.dump(2);
  std::set<std::string> kinds;
  for (const json& d : report["differences"]) {
    EXPECT_EQ(d["repaired"], true) << d;
    kinds.insert(d["kind"].get<std::string>());
  }
  EXPECT_EQ(kinds, (std::set<std::string>{paid ? "paid_not_completed" : "failed_not_failed", "deposit_not_credited"}))
      << report.dump(2);
  json w = json::parse(c.get("/v1/withdrawals/w-r", tokens_.admin).body);
  EXPECT_EQ(w["status"], paid ? "completed" : "failed") << w;
  const int64_t expected = 100'000 - (paid ? 500 : 0) + 700;
  EXPECT_EQ(balance("r0"), expected);
  // The adapter comes back: it reads w-r again (already finished) and gets
  // the deposit's webhook at last; neither moves money twice.
  std::string why;
  ASSERT_TRUE(start_adapter(&why)) << why;
  ASSERT_TRUE(eventually(60s, [&] { return gateway_stats().value("webhooks_pending", -1) == 0; })) << logs();
  ASSERT_TRUE(eventually(10s, [&] {
    return metric(adapter_metrics(), "betcore_payments_withdrawals_total", {"outcome=\"already_finished\""}) >= 1;
  })) << logs();
  EXPECT_EQ(balance("r0"), expected);
  EXPECT_EQ(reconcile_once(false, &report), 0) << report.dump(2);
  EXPECT_EQ(report["differences"].size(), 0u) << report.dump(2);
  // The running adapter reconciles on demand, for its own token only (its
  // port faces the PSP).
  tools::HttpClient a("127.0.0.1", adapter_port_);
  EXPECT_EQ(a.post("/reconcile?repair=true", "").status, 401);
  EXPECT_EQ(a.post("/reconcile?repair=true", "", tokens_.admin).status, 401);
  tools::Response live = a.post("/reconcile", "", tokens_.payments);
  ASSERT_EQ(live.status, 200) << live.body;
  json live_report = json::parse(live.body);
  EXPECT_EQ(live_report["unrepaired"], 0) << live.body;
  EXPECT_EQ(live_report["checked"]["gateway_payouts"], 1) << live.body;
}

}  // namespace
}  // namespace betcore::test
