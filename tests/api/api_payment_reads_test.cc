// The reads a payments adapter reconciles and resyncs with (docs/api.md,
// Listing deposits and withdrawals): GET /v1/deposits/{payment_ref}, and the
// paged lists GET /v1/deposits and GET /v1/withdrawals, against a real node.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api_node.h"
#include "api_world.h"
#include "node_suite.h"

namespace betcore::apitest {
// Named, not anonymous: api_test compiles as unity batches (BETCORE_UNITY_TESTS).
namespace payment_reads {

// The world: deposits pr-dep-1..7 (alternately to pr-a and pr-b), then
// withdrawals pr-wd-1..6 of pr-a, in that order, with outcomes:
//   completed: 1, 5   failed: 3   pending: 2, 4, 6
constexpr int kDeposits = 7;
const std::vector<std::string> kCompleted = {"pr-wd-1", "pr-wd-5"};
const std::vector<std::string> kFailed = {"pr-wd-3"};
const std::vector<std::string> kPending = {"pr-wd-2", "pr-wd-4", "pr-wd-6"};

std::string deposit_ref(int i) { return "pr-dep-" + std::to_string(i); }
std::string withdrawal_id(int i) { return "pr-wd-" + std::to_string(i); }

std::vector<std::string> all_deposit_refs() {
  std::vector<std::string> out;
  for (int i = 1; i <= kDeposits; ++i) out.push_back(deposit_ref(i));
  return out;
}

std::vector<std::string> all_withdrawal_ids() {
  std::vector<std::string> out;
  for (int i = 1; i <= 6; ++i) out.push_back(withdrawal_id(i));
  return out;
}

// The ids of a page's rows, `field` of each object in `list`.
std::vector<std::string> ids_of(const json& list, const std::string& field) {
  std::vector<std::string> out;
  if (!list.is_array()) return out;
  for (const json& row : list) out.push_back(row.value(field, std::string("?")));
  return out;
}

// Follows `next` from `target` (which has a query already) to the end:
// every id seen, in order, and the number of pages. Each page holds at most
// `limit` rows, and its next (when not null) is its last row.
struct Walk {
  std::vector<std::string> ids;
  int pages = 0;
};
Walk walk(ApiNode& n, const std::string& target, const std::string& key,
          const std::string& id_field, size_t limit) {
  Walk out;
  std::string after;
  for (int page = 0; page < 50; ++page) {
    Reply r =
        n.get(target + "&limit=" + std::to_string(limit) + (after.empty() ? "" : "&after=" + after),
              n.payments());
    EXPECT_STATUS(r, 200);
    if (r.status != 200) break;
    ++out.pages;
    std::vector<std::string> ids = ids_of(r[key], id_field);
    EXPECT_LE(ids.size(), limit) << r.describe();
    out.ids.insert(out.ids.end(), ids.begin(), ids.end());
    const json& next = r["next"];
    if (next.is_null()) break;
    EXPECT_TRUE(next.is_string()) << r.describe();
    if (!next.is_string()) break;
    if (!ids.empty()) {
      EXPECT_EQ(next.get<std::string>(), ids.back()) << r.describe();
    }
    after = next.get<std::string>();
  }
  return out;
}

class ApiPaymentReads : public NodeSuite<ApiPaymentReads> {
 public:
  static NodeConfig config() { return {{"pr-a"}, {}}; }
  static void build_world(ApiNode& n) {
    ASSERT_STATUS(n.post("/v1/accounts", account_body("pr-a"), n.admin()), 201);
    ASSERT_STATUS(n.post("/v1/accounts", account_body("pr-b"), n.admin()), 201);
    for (int i = 1; i <= kDeposits; ++i) {
      Reply r = deposit(n, deposit_ref(i), i % 2 == 1 ? "pr-a" : "pr-b", 1000 * i);
      ASSERT_STATUS(r, 201);
      posted_deposits_.push_back(r.json_body);
    }
    for (int i = 1; i <= 6; ++i) {
      ASSERT_STATUS(
          n.post("/v1/withdrawals", withdrawal_body(withdrawal_id(i), "pr-a", 100 * i), n.admin()),
          201);
    }
    for (const std::string& id : kCompleted) {
      ASSERT_STATUS(n.post("/v1/withdrawals/" + id + "/complete", json{{"gateway_ref", "gw-" + id}},
                           n.payments()),
                    200);
    }
    for (const std::string& id : kFailed) {
      ASSERT_STATUS(
          n.post("/v1/withdrawals/" + id + "/fail", json{{"reason", "refused"}}, n.payments()),
          200);
    }
  }

 protected:
  // The answers POST /v1/deposits gave, in order.
  static inline std::vector<json> posted_deposits_;
};

TEST_F(ApiPaymentReads, DepositReadsAsItsPostAnswered) {
  ApiNode& n = node();
  for (int i = 1; i <= kDeposits; ++i) {
    for (const std::string& token : {n.payments(), n.admin()}) {
      Reply r = n.get("/v1/deposits/" + deposit_ref(i), token);
      ASSERT_STATUS(r, 200);
      EXPECT_EQ(r.json_body, posted_deposits_[i - 1]);
      EXPECT_FALSE(r.header("x-betcore-index").empty());
    }
  }
  // The balance is as right after the deposit, not as now.
  Reply first = n.get("/v1/deposits/pr-dep-1", n.payments());
  EXPECT_EQ(first["balance"], 1000);
  EXPECT_ERROR(n.get("/v1/deposits/pr-dep-999", n.payments()), 404, "not_found");
  EXPECT_ERROR(n.get("/v1/deposits/pr-dep-999?stale=true", n.admin()), 404, "not_found");
  // A payment_ref is its own namespace: a withdrawal's id is no deposit.
  EXPECT_ERROR(n.get("/v1/deposits/pr-wd-1", n.payments()), 404, "not_found");
  EXPECT_ERROR(n.get("/v1/deposits/bad*ref", n.payments()), 400, "invalid_request");
}

TEST_F(ApiPaymentReads, DepositsPageInTheOrderCredited) {
  ApiNode& n = node();
  Reply all = n.get("/v1/deposits", n.payments());
  ASSERT_STATUS(all, 200);
  EXPECT_EQ(ids_of(all["deposits"], "payment_ref"), all_deposit_refs());
  EXPECT_TRUE(all["next"].is_null()) << all.describe();
  EXPECT_FALSE(all.header("x-betcore-index").empty());
  for (size_t i = 0; i < posted_deposits_.size(); ++i) {
    EXPECT_EQ(all["deposits"][i], posted_deposits_[i]) << "row " << i;
  }

  for (size_t limit : {1, 2, 3, 6, 7, 1000}) {
    Walk w = walk(n, "/v1/deposits?stale=false", "deposits", "payment_ref", limit);
    EXPECT_EQ(w.ids, all_deposit_refs()) << "limit " << limit;
    // A page that ends exactly at the last row says so (next null).
    EXPECT_EQ(w.pages, static_cast<int>((kDeposits + limit - 1) / limit)) << "limit " << limit;
  }

  // After the last: an empty last page.
  Reply end = n.get("/v1/deposits?after=" + deposit_ref(kDeposits), n.payments());
  ASSERT_STATUS(end, 200);
  EXPECT_EQ(end["deposits"], json::array());
  EXPECT_TRUE(end["next"].is_null());

  // The usual read options: stale, and min_index with the last deposit's index.
  const uint64_t last_index = posted_deposits_.back()["index"].get<uint64_t>();
  for (const std::string& q :
       {std::string("?stale=true"), "?min_index=" + std::to_string(last_index),
        "?stale=true&min_index=" + std::to_string(last_index)}) {
    Reply r = n.get("/v1/deposits" + q, n.admin());
    ASSERT_STATUS(r, 200);
    EXPECT_EQ(ids_of(r["deposits"], "payment_ref"), all_deposit_refs()) << q;
  }
}

TEST_F(ApiPaymentReads, WithdrawalsPageInRequestOrderAndFilterByStatus) {
  ApiNode& n = node();
  Reply all = n.get("/v1/withdrawals", n.payments());
  ASSERT_STATUS(all, 200);
  EXPECT_EQ(ids_of(all["withdrawals"], "withdrawal_id"), all_withdrawal_ids());
  EXPECT_TRUE(all["next"].is_null());
  // Each row as GET /v1/withdrawals/{id} shows it.
  for (const json& row : all["withdrawals"]) {
    const std::string id = row.value("withdrawal_id", "?");
    Reply one = n.get("/v1/withdrawals/" + id, n.payments());
    ASSERT_STATUS(one, 200);
    EXPECT_EQ(row, one.json_body) << id;
  }

  for (size_t limit : {1, 2, 4}) {
    Walk w = walk(n, "/v1/withdrawals?stale=false", "withdrawals", "withdrawal_id", limit);
    EXPECT_EQ(w.ids, all_withdrawal_ids()) << "limit " << limit;
  }
  const std::vector<std::pair<std::string, std::vector<std::string>>> by_status = {
      {"pending", kPending}, {"completed", kCompleted}, {"failed", kFailed}};
  for (const auto& [status, want] : by_status) {
    Reply r = n.get("/v1/withdrawals?status=" + status, n.admin());
    ASSERT_STATUS(r, 200);
    EXPECT_EQ(ids_of(r["withdrawals"], "withdrawal_id"), want) << status;
    for (const json& row : r["withdrawals"]) EXPECT_EQ(row["status"], status) << r.describe();
    for (size_t limit : {1, 2}) {
      Walk w = walk(n, "/v1/withdrawals?status=" + status, "withdrawals", "withdrawal_id", limit);
      EXPECT_EQ(w.ids, want) << status << " limit " << limit;
    }
  }
  // `after` may be a withdrawal the filter leaves out.
  Reply after_failed = n.get("/v1/withdrawals?status=pending&after=pr-wd-3", n.payments());
  ASSERT_STATUS(after_failed, 200);
  EXPECT_EQ(ids_of(after_failed["withdrawals"], "withdrawal_id"),
            (std::vector<std::string>{"pr-wd-4", "pr-wd-6"}));
  // A full page whose last match is the table's last row: nothing may follow.
  Reply tail = n.get("/v1/withdrawals?status=pending&after=pr-wd-4&limit=1", n.payments());
  ASSERT_STATUS(tail, 200);
  EXPECT_EQ(ids_of(tail["withdrawals"], "withdrawal_id"), std::vector<std::string>{"pr-wd-6"});
  EXPECT_TRUE(tail["next"].is_null()) << tail.describe();
}

TEST_F(ApiPaymentReads, BadQueriesAreRefusedSayingWhatIsAllowed) {
  ApiNode& n = node();
  struct Bad {
    std::string target;
    std::string message_part;  // what the message must mention
  };
  const std::vector<Bad> bad = {
      {"/v1/deposits?limit=0", "1 to 1000"},
      {"/v1/deposits?limit=1001", "1 to 1000"},
      {"/v1/deposits?limit=-1", "1 to 1000"},
      {"/v1/deposits?limit=ten", "1 to 1000"},
      {"/v1/deposits?limit=", "1 to 1000"},
      {"/v1/deposits?after=no-such-ref", "no-such-ref"},
      {"/v1/deposits?after=pr-wd-1", "payment_ref"},  // a withdrawal's id
      {"/v1/deposits?after=", "payment_ref"},
      {"/v1/deposits?after=bad*ref", "payment_ref"},
      {"/v1/deposits?stale=maybe", "stale"},
      {"/v1/deposits?min_index=x", "min_index"},
      {"/v1/withdrawals?limit=0", "1 to 1000"},
      {"/v1/withdrawals?limit=100000", "1 to 1000"},
      {"/v1/withdrawals?after=no-such-wd", "no-such-wd"},
      {"/v1/withdrawals?after=pr-dep-1", "withdrawal_id"},  // a deposit's ref
      {"/v1/withdrawals?status=open", "pending, completed or failed"},
      {"/v1/withdrawals?status=", "pending, completed or failed"},
      {"/v1/withdrawals?status=PENDING", "pending, completed or failed"},
      {"/v1/withdrawals?status=pending&limit=0", "1 to 1000"},
  };
  const Visible everything{{"pr-a", "pr-b"}, {}, {}, all_withdrawal_ids()};
  for (const Bad& b : bad) {
    EXPECT_TRUE(
        Rejected(n, {"GET", b.target, "", n.payments()}, 400, "invalid_request", everything));
    Reply r = n.get(b.target, n.payments());
    const std::string message = r.json_body.is_object()
                                    ? r.json_body["error"].value("message", std::string())
                                    : std::string();
    EXPECT_NE(message.find(b.message_part), std::string::npos)
        << b.target << " answered " << r.describe();
  }
}

TEST_F(ApiPaymentReads, OnlyPaymentsAndAdminMayRead) {
  ApiNode& n = node();
  const std::vector<std::string> targets = {"/v1/deposits/pr-dep-1", "/v1/deposits",
                                            "/v1/withdrawals", "/v1/withdrawals?status=pending"};
  const Visible everything{{"pr-a", "pr-b"}, {}, {}, all_withdrawal_ids()};
  for (const std::string& target : targets) {
    for (const std::string& token : {n.trader(), n.punter("pr-a"), n.feed()}) {
      EXPECT_TRUE(Rejected(n, {"GET", target, "", token}, 403, "forbidden", everything));
    }
    EXPECT_ERROR(n.get(target, ""), 401, "unauthenticated");
  }
}

TEST_F(ApiPaymentReads, ListReadsChangeNothing) {
  ApiNode& n = node();
  const Visible everything{{"pr-a", "pr-b"}, {}, {}, all_withdrawal_ids()};
  const json before = snapshot(n, everything);
  const std::string index_before = n.get("/v1/ledger/balance", n.admin()).header("x-betcore-index");
  ASSERT_FALSE(index_before.empty());
  for (std::string target :
       {"/v1/deposits", "/v1/deposits?limit=2&after=pr-dep-3", "/v1/withdrawals",
        "/v1/withdrawals?status=pending&limit=1", "/v1/deposits/pr-dep-2"}) {
    Reply r = n.get(target, n.payments());
    ASSERT_STATUS(r, 200);
    // A read is answered at the position it reflects; no write is logged.
    EXPECT_EQ(r.header("x-betcore-index"), index_before) << target;
  }
  EXPECT_EQ(snapshot(n, everything), before);
  EXPECT_EQ(n.get("/v1/ledger/balance", n.admin()).header("x-betcore-index"), index_before);

  // Each list has its own metrics label.
  Reply metrics = n.get("/metrics", "");
  ASSERT_STATUS(metrics, 200);
  for (const char* route : {"get_deposit", "list_deposits", "list_withdrawals"}) {
    const std::string series =
        std::string(R"(betcore_api_requests_total{code="200",route=")") + route + "\"}";
    EXPECT_GE(metric(metrics.body, series).value_or(0), 1) << series;
  }
}

}  // namespace payment_reads
}  // namespace betcore::apitest
