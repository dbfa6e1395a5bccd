// Bounds of design/API.md that need a node started with special flags:
// 413 too_large (--body-bytes-max) and 429 overloaded (--queue-commands-max).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "api_node.h"
#include "api_world.h"

namespace betcore::apitest {
namespace {

// A JSON body of exactly `bytes` bytes: `body` padded with spaces inside.
std::string padded(const json& body, size_t bytes) {
  std::string text = body.dump();
  EXPECT_LE(text.size(), bytes);
  text.insert(1, bytes - text.size(), ' ');  // after the opening brace
  return text;
}

TEST(ApiLimits, BodyOverTheLimitIs413AndChangesNothing) {
  ApiNode n({{}, {"--body-bytes-max", "1024"}});
  ASSERT_TRUE(n.start()) << n.why();
  const Visible v{{"at-limit", "over-limit"}, {}, {}, {}};

  // 1024 bytes: served.
  Reply at = n.post_raw("/v1/accounts", padded(account_body("at-limit"), 1024), n.admin());
  EXPECT_STATUS(at, 201);

  // 1025 bytes, and far more: 413 too_large, nothing created.
  json before = snapshot(n, v);
  for (size_t bytes : {size_t{1025}, size_t{4096}, size_t{200'000}}) {
    Reply over = n.post_raw("/v1/accounts", padded(account_body("over-limit"), bytes), n.admin());
    EXPECT_ERROR(over, 413, "too_large") << bytes << " bytes";
  }
  // Also on a route that is not a write, and without a token: the size is checked first.
  EXPECT_ERROR(n.call("POST", "/v1/deposits", std::string(2'000, '{'), ""), 413, "too_large");
  EXPECT_EQ(snapshot(n, v), before);
  EXPECT_ERROR(n.get("/v1/accounts/over-limit", n.admin()), 404, "not_found");

  // The node still serves, on new connections.
  EXPECT_STATUS(n.get("/health/ready", ""), 200);
  EXPECT_STATUS(n.post("/v1/deposits", deposit_body("lim-dep", "at-limit", 10), n.payments()), 201);
  EXPECT_TRUE(n.running());
}

struct Outcome {
  std::string bet_id;
  Reply reply;
};

TEST(ApiLimits, FullSubmitQueueIs429WithRetryAfterAndChangesNothing) {
  ApiNode n({{}, {"--queue-commands-max", "1"}});
  ASSERT_TRUE(n.start()) << n.why();
  create_account(n, "load");
  deposit(n, "load-dep", "load", 1'000'000);
  create_event(n, "load-ev");
  create_market(n, "load-m", "load-ev", {{"a", "2"}});
  ASSERT_FALSE(::testing::Test::HasFailure());

  constexpr int kThreads = 32;
  constexpr int kBetsPerThread = 15;
  std::mutex mu;
  std::vector<Outcome> outcomes;
  std::atomic<int> go{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      tools::HttpClientOptions o;
      o.retry_on_stale_connection = false;  // one send per request: the count must be exact
      tools::HttpClient c = n.client(o);
      std::vector<Outcome> mine;
      go.fetch_add(1);
      while (go.load() < kThreads) std::this_thread::yield();
      for (int i = 0; i < kBetsPerThread; ++i) {
        std::string id = "load-" + std::to_string(t) + "-" + std::to_string(i);
        Reply r =
            to_reply(c.request("POST", "/v1/bets",
                               bet_body(id, "load", 1, {{"load-m", "a", "2"}}).dump(), n.trader()));
        mine.push_back({id, std::move(r)});
      }
      std::lock_guard lock(mu);
      for (auto& m : mine) outcomes.push_back(std::move(m));
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(outcomes.size(), size_t{kThreads * kBetsPerThread});

  int placed = 0, overloaded = 0;
  for (const Outcome& o : outcomes) {
    if (o.reply.status == 201) {
      ++placed;
      Reply got = n.get("/v1/bets/" + o.bet_id, n.admin());
      EXPECT_STATUS(got, 200) << o.bet_id << " was answered 201";
      EXPECT_EQ(got["stake"], 1) << o.bet_id;
      EXPECT_EQ(got["index"], o.reply["index"]) << o.bet_id;
    } else if (o.reply.status == 429) {
      ++overloaded;
      EXPECT_ERROR(o.reply, 429, "overloaded") << o.bet_id;
      EXPECT_FALSE(o.reply.header("retry-after").empty()) << o.bet_id << " has no Retry-After";
      EXPECT_GE(std::atoi(o.reply.header("retry-after").c_str()), 1)
          << o.reply.header("retry-after");
      // Refused: never placed.
      EXPECT_ERROR(n.get("/v1/bets/" + o.bet_id, n.admin()), 404, "not_found")
          << o.bet_id << " was answered 429";
    } else {
      ADD_FAILURE() << o.bet_id << ": expected 201 or 429, got " << o.reply.describe();
    }
  }
  EXPECT_GE(overloaded, 1) << "no 429 from " << outcomes.size()
                           << " bets on 32 connections with a queue of 1";
  EXPECT_GE(placed, 1);
  json a = account(n, "load");
  EXPECT_EQ(a["balance"], 1'000'000 - placed);
  EXPECT_EQ(a["in_play"], placed);
  Reply page = n.get("/v1/accounts/load/bets?limit=1000", n.admin());
  EXPECT_EQ(page["bets"].size(), static_cast<size_t>(placed));
  EXPECT_EQ(market(n, "load-m")["selections"][0]["liability"], placed);  // 2 x 1 - 1 each
  Reply ledger = n.get("/v1/ledger/balance", n.admin());
  EXPECT_EQ(ledger["total"], 0);
  EXPECT_EQ(ledger["balanced"], true);

  // The overload counter saw them too.
  Reply metrics = n.get("/metrics", "");
  EXPECT_EQ(metric(metrics.body, R"(betcore_api_requests_total{code="429",route="place_bet"})"),
            overloaded);
  EXPECT_STATUS(n.get("/health/ready", ""), 200);
  std::cout << "[ info ] " << placed << " placed, " << overloaded << " overloaded\n";
}

}  // namespace
}  // namespace betcore::apitest
