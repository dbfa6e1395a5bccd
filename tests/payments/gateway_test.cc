// `betcore payment-gateway` as a real process over real sockets
// (docs/payment-gateway.md): idempotent payouts that settle, 401 and 422,
// signed deposit webhooks redelivered until acknowledged, and the faults
// (outage, reset, timeout) the payments adapter must survive.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "api/http/http_server.h"
#include "payments/signature.h"
#include "support/support.h"
#include "tools/http_client.h"

namespace betcore::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kApiKey = "sk_test_gateway_e2e";
constexpr const char* kWebhookSecret = "whsec_gateway_e2e";

// The merchant's webhook endpoint: answers 500 to the first `fail_first`
// deliveries, then 200, and keeps what it got.
class Receiver {
 public:
  struct Delivery {
    std::string body;
    std::string signature;
    std::string target;
  };

  explicit Receiver(int fail_first) : fail_first_(fail_first) {
    http::Options o;
    o.capture_headers = {std::string(payments::kSignatureHeader)};
    server_ = std::make_unique<http::Server>(o, [this](http::Request&& r, http::Responder done) {
      std::lock_guard lock(mu_);
      got_.push_back({r.body, std::string(r.header(payments::kSignatureHeader)), r.target});
      bool fail = static_cast<int>(got_.size()) <= fail_first_;
      done.send(fail ? http::Response::error(500, "internal", "not now")
                     : http::Response::json(200, "{}"));
    });
  }
  bool start(std::string* error) {
    http::Status s = server_->start();
    *error = s.error;
    return s.ok();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->bound_port()) + "/webhooks/gateway";
  }
  std::vector<Delivery> deliveries() const {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  const int fail_first_;
  mutable std::mutex mu_;
  std::vector<Delivery> got_;
  std::unique_ptr<http::Server> server_;
};

class GatewayTest : public ::testing::Test {
 protected:
  // Starts the gateway on any free port and reads the port from its first
  // stdout line (no port to reserve, so no race with other tests).
  void start_gateway(const std::string& webhook_url) {
    std::ofstream(dir_ / "secrets")
        << "api_key " << kApiKey << "\nwebhook_secret " << kWebhookSecret << "\n";
    SpawnOptions o;
    o.program = betcore_binary().string();
    o.args = {
        "payment-gateway", "--listen", "127.0.0.1:0", "--secrets", (dir_ / "secrets").string(),
        "--settle-ms",     "200",      "--seed",      "7"};
    if (!webhook_url.empty()) {
      o.args.push_back("--webhook-url");
      o.args.push_back(webhook_url);
    }
    o.log_path = (dir_ / "gateway.log").string();
    gateway_ = Process::spawn(o);
    ASSERT_TRUE(gateway_.started()) << gateway_.spawn_error();
    static const std::regex kListening(R"(payment-gateway listening on http://127\.0\.0\.1:(\d+))");
    std::smatch m;
    bool up = eventually(30s, [&] {
      std::string log = gateway_.read_log();
      if (!std::regex_search(log, m, kListening)) return !gateway_.running();
      port_ = static_cast<uint16_t>(std::stoi(m[1].str()));
      return true;
    });
    ASSERT_TRUE(up && port_ != 0) << "the gateway did not say where it listens\n"
                                  << last_lines(gateway_.read_log());
  }

  void TearDown() override {
    if (!gateway_.started()) return;
    ExitStatus s = gateway_.stop(5000);
    EXPECT_TRUE(s.success()) << "SIGTERM must stop the gateway cleanly: " << s.describe() << "\n"
                             << last_lines(gateway_.read_log());
  }

  tools::HttpClient client(int timeout_ms = 5000) {
    tools::HttpClientOptions o;
    o.request_timeout_ms = timeout_ms;
    o.retry_on_stale_connection = false;  // a reset must reach the test
    return tools::HttpClient("127.0.0.1", port_, o);
  }
  tools::Response create_payout(const std::string& key, int64_t amount,
                                const std::string& bearer = kApiKey, int timeout_ms = 5000) {
    tools::Request r;
    r.method = "POST";
    r.target = "/v1/payouts";
    r.bearer_token = bearer;
    r.headers.emplace_back("Idempotency-Key", key);
    r.body =
        json{{"amount", amount}, {"currency", "EUR"}, {"destination", "alice"}, {"reference", key}}
            .dump();
    return client(timeout_ms).request(r);
  }
  tools::Response faults(const json& j) { return client().post("/control/faults", j.dump()); }
  json stats() {
    tools::Response r = client().get("/control/stats");
    EXPECT_EQ(r.status, 200) << r.error << r.body;
    return json::parse(r.body, nullptr, false);
  }
  std::string log() { return last_lines(gateway_.read_log()); }

  TempDir dir_{"betcore-gateway"};
  Process gateway_;
  uint16_t port_ = 0;
};

TEST_F(GatewayTest, PayoutsAreIdempotentAndSettle) {
  start_gateway("");
  ASSERT_FALSE(HasFatalFailure());
  tools::Response first = create_payout("w-17", 2500);
  ASSERT_EQ(first.status, 201) << first.error << first.body;
  json p = json::parse(first.body);
  EXPECT_EQ(p["status"], "processing");
  EXPECT_EQ(p["idempotency_key"], "w-17");
  tools::Response again = create_payout("w-17", 2500);
  ASSERT_EQ(again.status, 201) << again.error << again.body;
  EXPECT_EQ(json::parse(again.body)["payout_id"], p["payout_id"]);

  tools::Response reused = create_payout("w-17", 2600);
  EXPECT_EQ(reused.status, 422) << reused.body;
  EXPECT_NE(reused.body.find("idempotency_key_reused"), std::string::npos) << reused.body;
  EXPECT_EQ(create_payout("w-18", 100, "sk_wrong").status, 401);
  EXPECT_EQ(create_payout("w-18", 100, "").status, 401);
  EXPECT_EQ(create_payout("w 18", 100).status, 400);
  EXPECT_EQ(create_payout("w-18", 0).status, 400);

  std::string id = p["payout_id"];
  ASSERT_TRUE(eventually(10s, [&] {
    tools::Response r = client().get("/v1/payouts/" + id, kApiKey);
    return r.status == 200 && json::parse(r.body)["status"] == "paid";
  })) << log();
  tools::Response list = client().get("/v1/payouts?limit=10", kApiKey);
  ASSERT_EQ(list.status, 200) << list.body;
  json l = json::parse(list.body);
  ASSERT_EQ(l["payouts"].size(), 1u);
  EXPECT_EQ(l["payouts"][0]["status"], "paid");
  EXPECT_TRUE(l["next"].is_null());
  EXPECT_EQ(client().get("/v1/payouts/po_999999", kApiKey).status, 404);

  json s = stats();
  EXPECT_EQ(s["payouts_created"], 1);
  EXPECT_EQ(s["payouts_paid"], 1);
  EXPECT_EQ(s["idempotent_replays"], 1);
}

TEST_F(GatewayTest, DepositWebhookIsSignedAndRedeliveredUntilAcknowledged) {
  Receiver receiver(/*fail_first=*/1);
  std::string error;
  ASSERT_TRUE(receiver.start(&error)) << error;
  start_gateway(receiver.url());
  ASSERT_FALSE(HasFatalFailure());
  tools::Response d =
      client().post("/control/deposits", R"({"account_id":"bob","amount":1000,"currency":"EUR"})");
  ASSERT_EQ(d.status, 201) << d.error << d.body;
  json created = json::parse(d.body);

  ASSERT_TRUE(eventually(15s, [&] { return stats()["webhooks_acknowledged"] == 1; }))
      << stats().dump() << "\n"
      << log();
  std::vector<Receiver::Delivery> got = receiver.deliveries();
  ASSERT_GE(got.size(), 2u) << "the first delivery was answered 500: it must come again";
  for (const Receiver::Delivery& g : got) {
    EXPECT_EQ(g.target, "/webhooks/gateway");
    EXPECT_EQ(payments::verify_webhook(kWebhookSecret, g.signature, g.body, std::time(nullptr)),
              payments::Verdict::ok)
        << g.signature;
    EXPECT_NE(payments::verify_webhook("whsec_other", g.signature, g.body, std::time(nullptr)),
              payments::Verdict::ok);
    json e = json::parse(g.body);
    EXPECT_EQ(e["id"], created["event_id"]);
    EXPECT_EQ(e["type"], "deposit.succeeded");
    EXPECT_EQ(e["data"]["payment_id"], created["payment_id"]);
    EXPECT_EQ(e["data"]["account_id"], "bob");
    EXPECT_EQ(e["data"]["amount"], 1000);
  }
  json s = stats();
  EXPECT_EQ(s["deposits"], 1);
  EXPECT_EQ(s["webhooks_pending"], 0);
  EXPECT_GE(s["webhook_attempts"], 2);
  tools::Response deposits = client().get("/v1/deposits", kApiKey);
  ASSERT_EQ(deposits.status, 200);
  EXPECT_EQ(json::parse(deposits.body)["deposits"][0]["payment_id"], created["payment_id"]);
}

TEST_F(GatewayTest, WebhooksComeDuplicatedAndOutOfOrder) {
  Receiver receiver(/*fail_first=*/0);
  std::string error;
  ASSERT_TRUE(receiver.start(&error)) << error;
  start_gateway(receiver.url());
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(faults({{"webhook_delay_ms_max", 300}, {"duplicate_share", 1}}).status, 200);
  constexpr int kDeposits = 20;
  for (int i = 0; i < kDeposits; ++i) {
    json d = {{"account_id", "bob"}, {"amount", 100 + i}, {"currency", "EUR"}};
    ASSERT_EQ(client().post("/control/deposits", d.dump()).status, 201);
  }
  ASSERT_TRUE(eventually(15s, [&] {
    return receiver.deliveries().size() >= 2 * kDeposits && stats()["webhooks_pending"] == 0;
  })) << stats().dump();
  std::vector<std::string> first_seen;
  for (const Receiver::Delivery& g : receiver.deliveries()) {
    std::string id = json::parse(g.body)["id"];
    if (std::find(first_seen.begin(), first_seen.end(), id) == first_seen.end()) {
      first_seen.push_back(id);
    }
  }
  EXPECT_EQ(first_seen.size(), static_cast<size_t>(kDeposits));
  // Up to 300 ms of delay each over 4 senders: 20 events in order by chance
  // would be a wonder.
  EXPECT_FALSE(std::is_sorted(first_seen.begin(), first_seen.end()));
  EXPECT_EQ(stats()["webhook_extra_deliveries"], kDeposits);
}

TEST_F(GatewayTest, OutageIsAnswered503AndCounted) {
  start_gateway("");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(faults({{"outage_ms", 60000}}).status, 200);
  tools::Response r = create_payout("w-1", 100);
  EXPECT_EQ(r.status, 503) << r.error << r.body;
  EXPECT_EQ(client().get("/v1/payouts", kApiKey).status, 503);
  json s = stats();  // /control/* is never in an outage
  EXPECT_EQ(s["requests_in_outage"], 2);
  EXPECT_EQ(s["payouts_created"], 0);
  ASSERT_EQ(faults({{"outage_ms", 0}}).status, 200);
  EXPECT_EQ(create_payout("w-1", 100).status, 201);
  EXPECT_EQ(stats()["requests_in_outage"], 2);
}

TEST_F(GatewayTest, ResetsAndTimeoutsComeAfterTheWorkIsDone) {
  start_gateway("");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(faults({{"reset_share", 1}}).status, 200);
  tools::Response reset = create_payout("w-1", 100);
  EXPECT_EQ(reset.status, 0) << "a reset is a transport error, not an answer: " << reset.body;
  EXPECT_FALSE(reset.error.empty());

  ASSERT_EQ(faults({{"reset_share", 0}, {"timeout_share", 1}, {"timeout_hold_ms", 3000}}).status,
            200);
  tools::Response timeout = create_payout("w-2", 200, kApiKey, /*timeout_ms=*/300);
  EXPECT_EQ(timeout.status, 0) << timeout.body;

  ASSERT_EQ(faults({{"timeout_share", 0}}).status, 200);
  // Both were created before the failure: replays find them, no second payout.
  EXPECT_EQ(create_payout("w-1", 100).status, 201);
  EXPECT_EQ(create_payout("w-2", 200).status, 201);
  json s = stats();
  EXPECT_EQ(s["payouts_created"], 2);
  EXPECT_EQ(s["idempotent_replays"], 2);
  EXPECT_EQ(s["resets_injected"], 1);
  EXPECT_EQ(s["timeouts_injected"], 1);
}

}  // namespace
}  // namespace betcore::test
