#include "crash/log_drill.h"

#include <fmt/format.h>

namespace betcore::crash {

void LogDrill::SetUp() {
  data_dir_ = dir_ / "data";
  tokens_ = test::write_tokens_file(dir_.path(), {kAccount});
  node_ = std::make_unique<NodeRunner>(NodeConfig{data_dir_, tokens_.file, dir_ / "logs", node_args()});
}

void LogDrill::write_history(int count) {
  std::string why;
  ASSERT_TRUE(node_->start(why)) << why;
  JsonClient client(node_->port());
  Reply account = client.post("/v1/accounts",
                              nlohmann::json{{"account_id", kAccount}, {"currency", "EUR"}}.dump(),
                              tokens_.admin);
  ASSERT_EQ(account.status, 201) << account.describe();
  ASSERT_EQ(account.json.value("index", uint64_t{0}), 1u) << account.describe();
  for (int i = 0; i < count; ++i) {
    ASSERT_NO_FATAL_FAILURE(deposit_one(client));
    // One request at a time is one batch: positions 2, 3, ... with no gap.
    ASSERT_EQ(deposits_.back().index, deposits_.size() + 1);
  }
}

void LogDrill::deposit_one(JsonClient& client) {
  DepositRecord d;
  d.ref = fmt::format("dep-{}", deposits_.size());
  d.amount = 1'000 + static_cast<int64_t>(deposits_.size());
  d.body = nlohmann::json{{"payment_ref", d.ref}, {"account_id", kAccount}, {"amount", d.amount}}.dump();
  Reply r = client.post("/v1/deposits", d.body, tokens_.payments);
  ASSERT_EQ(r.status, 201) << r.describe();
  d.index = r.json.value("index", uint64_t{0});
  d.balance = r.json.value("balance", int64_t{-1});
  ASSERT_EQ(d.balance, sum_of_first(deposits_.size()) + d.amount) << r.describe();
  deposits_.push_back(std::move(d));
}

void LogDrill::expect_first_deposits_once(JsonClient& client, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const DepositRecord& d = deposits_[i];
    Reply r = client.post("/v1/deposits", d.body, tokens_.payments);
    ASSERT_EQ(r.status, 201) << d.ref << ": " << r.describe();
    EXPECT_EQ(r.json.value("index", uint64_t{0}), d.index) << d.ref << ": " << r.describe();
    EXPECT_EQ(r.json.value("balance", int64_t{-1}), d.balance) << d.ref << ": " << r.describe();
  }
}

int64_t LogDrill::balance(JsonClient& client) {
  Reply r = client.get(std::string("/v1/accounts/") + kAccount, tokens_.admin);
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json.value("in_play", int64_t{-1}), 0) << r.describe();
  return r.json.value("balance", int64_t{-1});
}

int64_t LogDrill::sum_of_first(size_t count) const {
  int64_t sum = 0;
  for (size_t i = 0; i < count; ++i) sum += deposits_[i].amount;
  return sum;
}

void LogDrill::expect_ledger_balanced(JsonClient& client) {
  Reply r = client.get("/v1/ledger/balance", tokens_.admin);
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.json.value("total", int64_t{-1}), 0) << r.describe();
  EXPECT_TRUE(r.json.value("balanced", false)) << r.describe();
}

uint64_t LogDrill::log_head(JsonClient& client) {
  Reply r = client.get("/v1/cluster", tokens_.admin);
  EXPECT_EQ(r.status, 200) << r.describe();
  return r.json.value("log_head", uint64_t{0});
}

fs::path LogDrill::newest_segment() const {
  std::vector<fs::path> segments = segment_files(log_dir());
  if (segments.empty()) throw std::runtime_error("no segment file in " + log_dir().string());
  return segments.back();
}

}  // namespace betcore::crash
