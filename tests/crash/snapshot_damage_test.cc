// Drills on damaged snapshots (src/node/snapshot_store.h): a node that finds
// its newest snapshot damaged must skip it, say so, start from an older one
// (or from nothing) and replay the log from there, ending in exactly the state
// it had. This needs the log to still hold everything after the snapshot it
// falls back to: compaction keeps the log from the OLDEST kept snapshot on
// (node.cc), and the single default-size segment here is never compacted.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "crash/log_drill.h"

namespace betcore::crash {
namespace {

constexpr uint64_t kCheckpointEvery = 50;
constexpr int kDeposits = 170;  // positions 2..171; checkpoints at 50, 100 and 150

class SnapshotDrill : public LogDrill {
 protected:
  fs::path snapshots_dir() const { return data_dir_ / "snapshots"; }

  // Writes the history and waits until the snapshot at `index` is on disk and
  // the node has logged it as written.
  void write_history_with_snapshots(uint64_t index) {
    ASSERT_NO_FATAL_FAILURE(
        write_history(kDeposits, {"--checkpoint-every-commands", std::to_string(kCheckpointEvery)}));
    ASSERT_NO_FATAL_FAILURE(wait_for_snapshot(index));
  }

  void wait_for_snapshot(uint64_t index) {
    const std::string written = fmt::format("snapshot at index {} written", index);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (node_->last_log().find(written) == std::string::npos) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no '" << written << "':\n" << node_->last_log();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  struct ClusterView {
    uint64_t applied_index = 0;
    uint64_t checkpoint = 0;
    std::string digest;
  };
  ClusterView cluster(JsonClient& client) {
    Reply r = client.get("/v1/cluster", tokens_.admin);
    EXPECT_EQ(r.status, 200) << r.describe();
    return ClusterView{r.json.value("applied_index", uint64_t{0}), r.json.value("checkpoint", uint64_t{0}),
                       r.json.value("state_digest", std::string())};
  }

  std::vector<uint64_t> snapshot_indexes() const {
    std::vector<uint64_t> out;
    for (const auto& [index, path] : snapshot_files(snapshots_dir())) out.push_back(index);
    return out;
  }
};

TEST_F(SnapshotDrill, DamagedNewestSnapshotFallsBackToTheOlderOne) {
  ASSERT_NO_FATAL_FAILURE(write_history_with_snapshots(150));
  const uint64_t head = deposits_.back().index;
  ASSERT_EQ(head, kDeposits + 1u);
  JsonClient before(node_->port());
  const ClusterView was = cluster(before);
  ASSERT_EQ(was.applied_index, head);
  ASSERT_EQ(was.checkpoint, 150u);
  ASSERT_FALSE(was.digest.empty());
  node_->kill9();

  // snapshots_kept = 2 (NodeOptions): the one at 50 was deleted.
  ASSERT_EQ(snapshot_indexes(), (std::vector<uint64_t>{100, 150}));
  const fs::path newest = snapshot_files(snapshots_dir()).at(150);
  const fs::path older = snapshot_files(snapshots_dir()).at(100);
  flip_bits(newest, fs::file_size(newest) / 2, 0x08);

  std::string why;
  ASSERT_TRUE(node_->start(why)) << why;
  const std::string log = node_->last_log();
  EXPECT_NE(log.find("snapshot skipped: " + newest.string()), std::string::npos) << log;
  EXPECT_NE(log.find(fmt::format("loaded snapshot {} at index 100", older.string())), std::string::npos) << log;
  EXPECT_NE(log.find(fmt::format("replayed {} commands up to index {}", head - 100, head)), std::string::npos)
      << log;

  JsonClient client(node_->port());
  EXPECT_EQ(balance(client), sum_of_first(kDeposits));
  ASSERT_NO_FATAL_FAILURE(expect_first_deposits_once(client, kDeposits));
  ASSERT_NO_FATAL_FAILURE(expect_ledger_balanced(client));
  // The replay crossed the checkpoint at 150 again and reached the very
  // state the damaged snapshot held.
  const ClusterView now = cluster(client);
  EXPECT_EQ(now.applied_index, head);
  EXPECT_EQ(now.checkpoint, 150u);
  EXPECT_EQ(now.digest, was.digest);

  // It keeps working: the next checkpoint (200) is written and used.
  for (int i = 0; i < 40; ++i) ASSERT_NO_FATAL_FAILURE(deposit_one(client));
  ASSERT_NO_FATAL_FAILURE(wait_for_snapshot(200));
  EXPECT_TRUE(node_->stop().success());
  const std::map<uint64_t, fs::path> kept = snapshot_files(snapshots_dir());
  ASSERT_TRUE(kept.contains(200));
  ASSERT_TRUE(node_->start(why)) << why;
  EXPECT_NE(node_->last_log().find(fmt::format("loaded snapshot {} at index 200", kept.at(200).string())),
            std::string::npos)
      << node_->last_log();
  JsonClient after(node_->port());
  EXPECT_EQ(balance(after), sum_of_first(deposits_.size()));
  ASSERT_NO_FATAL_FAILURE(expect_first_deposits_once(after, deposits_.size()));
  EXPECT_TRUE(node_->stop().success());
}

TEST_F(SnapshotDrill, AllSnapshotsDamagedReplaysTheWholeLog) {
  ASSERT_NO_FATAL_FAILURE(write_history_with_snapshots(150));
  const uint64_t head = deposits_.back().index;
  node_->kill9();
  ASSERT_EQ(snapshot_indexes(), (std::vector<uint64_t>{100, 150}));
  // The log still starts at position 1 (one segment, never compacted).
  ASSERT_EQ(segment_files(log_dir()).front().filename().string(), "00000000000000000001.log");
  for (const auto& [index, path] : snapshot_files(snapshots_dir())) flip_bits(path, 40, 0x01);

  std::string why;
  ASSERT_TRUE(node_->start(why)) << why;
  const std::string log = node_->last_log();
  EXPECT_EQ(count_of(log, "snapshot skipped: "), 2u) << log;
  EXPECT_EQ(log.find("loaded snapshot"), std::string::npos) << log;
  EXPECT_NE(log.find(fmt::format("replayed {} commands up to index {}", head, head)), std::string::npos) << log;
  JsonClient client(node_->port());
  EXPECT_EQ(balance(client), sum_of_first(kDeposits));
  ASSERT_NO_FATAL_FAILURE(expect_first_deposits_once(client, kDeposits));
  ASSERT_NO_FATAL_FAILURE(expect_ledger_balanced(client));
  EXPECT_TRUE(node_->stop().success());
}

}  // namespace
}  // namespace betcore::crash
