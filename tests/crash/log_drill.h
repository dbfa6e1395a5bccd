// A fixture for drills on a small, known log: one node, one account and a
// run of deposits written one request at a time, so that each write is one
// batch and one record (its `index` is its record's position), and "the last
// batch" is exactly "the last deposit".
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crash/crash_node.h"
#include "crash/log_surgery.h"
#include "support/support.h"

namespace betcore::crash {

struct DepositRecord {
  std::string ref;
  std::string body;
  int64_t amount = 0;
  uint64_t index = 0;     // as acknowledged
  int64_t balance = 0;    // as acknowledged: the balance right after it
};

class LogDrill : public ::testing::Test {
 protected:
  static constexpr const char* kAccount = "alice";

  void SetUp() override;
  // Flags for every run of the node.
  virtual std::vector<std::string> node_args() const { return {}; }

  // Starts the node (first run), creates kAccount and `count` deposits, and
  // checks they were committed at positions 1 (the account), 2, 3, ...
  void write_history(int count);
  // One more deposit, numbered after the others; appended to deposits_.
  void deposit_one(JsonClient& client);

  // Retries each of the first `count` deposits with the same body: each must
  // answer 201 with its first index and balance (it was credited exactly
  // once, before or after the crash). Each retry is a write: it appends a
  // record of its own, so position-sensitive checks go before this.
  void expect_first_deposits_once(JsonClient& client, size_t count);

  int64_t balance(JsonClient& client);
  int64_t sum_of_first(size_t count) const;
  void expect_ledger_balanced(JsonClient& client);
  // GET /v1/cluster's log_head: the last position in the log.
  uint64_t log_head(JsonClient& client);

  // After write_history and a crash: the newest segment and its records.
  fs::path newest_segment() const;
  fs::path log_dir() const { return data_dir_ / "log"; }

  test::TempDir dir_{"betcore-crash"};
  fs::path data_dir_;
  test::TestTokens tokens_;
  std::unique_ptr<NodeRunner> node_;
  std::vector<DepositRecord> deposits_;
};

}  // namespace betcore::crash
