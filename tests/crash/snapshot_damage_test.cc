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

constexpr uint64_t kSnapshotEvery = 50;
constexpr int kSnapshotDeposits = 170;  // positions 2..171; checkpoints at 50, 100 and 150

class SnapshotDrill : public LogDrill {
 protected:
  std::vector<std::string> node_args() const override {
    return {"--checkpoint-every-commands", std::to_string(kSnapshotEvery)};
  }
  fs::path snapshots_dir() const { return data_dir_ / "snapshots"; }

  // Writes the history and waits until the snapshot at `index` is on disk and
  // the node has logged it as written.
  void write_history_with_snapshots(uint64_t index) {
    ASSERT_NO_FATAL_FAILURE(write_history(kSnapshotDeposits));
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
  ASSERT_EQ(head, kSnapshotDeposits + 1u);
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
  // The replay crossed the checkpoint at 150 again and reached the very
  // state the damaged snapshot held (before any retry below adds records).
  const ClusterView now = cluster(client);
  EXPECT_EQ(now.applied_index, head);
  EXPECT_EQ(now.checkpoint, 150u);
  EXPECT_EQ(now.digest, was.digest);
  EXPECT_EQ(balance(client), sum_of_first(kSnapshotDeposits));
  ASSERT_NO_FATAL_FAILURE(expect_first_deposits_once(client, kSnapshotDeposits));
  ASSERT_NO_FATAL_FAILURE(expect_ledger_balanced(client));

  // It keeps working: the next checkpoint is written and used. Checkpoints
  // count commands accepted as new (state.h), so the retries above did not
  // count: the 200th is the 29th deposit from here.
  for (int i = 0; i < 40; ++i) ASSERT_NO_FATAL_FAILURE(deposit_one(client));
  const uint64_t checkpoint_200 = deposits_.at(200 - 2).index;
  ASSERT_NO_FATAL_FAILURE(wait_for_snapshot(checkpoint_200));
  EXPECT_TRUE(node_->stop().success());
  const std::map<uint64_t, fs::path> kept = snapshot_files(snapshots_dir());
  std::string listing;
  for (const auto& [index, path] : kept) listing += " " + std::to_string(index);
  std::printf("snapshots kept after the fallback and one more checkpoint:%s\n", listing.c_str());
  ASSERT_TRUE(kept.contains(checkpoint_200));
  ASSERT_TRUE(node_->start(why)) << why;
  EXPECT_NE(node_->last_log().find(
                fmt::format("loaded snapshot {} at index {}", kept.at(checkpoint_200).string(), checkpoint_200)),
            std::string::npos)
      << node_->last_log();
  JsonClient after(node_->port());
  EXPECT_EQ(balance(after), sum_of_first(deposits_.size()));
  ASSERT_NO_FATAL_FAILURE(expect_first_deposits_once(after, deposits_.size()));
  EXPECT_TRUE(node_->stop().success());
}

// The log directory lost, the snapshots kept: the node must not start with an
// empty book (it would set every snapshot aside and take writes).
TEST_F(SnapshotDrill, ALostLogBesideSnapshotsRefusesToStart) {
  ASSERT_NO_FATAL_FAILURE(write_history_with_snapshots(150));
  node_->kill9();
  fs::remove_all(log_dir());
  std::string why;
  EXPECT_FALSE(node_->start(why)) << "started with an empty book";
  const std::string log = node_->last_log();
  EXPECT_NE(log.find("is empty, but"), std::string::npos) << log;
  EXPECT_NE(log.find("restore-wiped-node"), std::string::npos) << log;
  EXPECT_EQ(snapshot_indexes(), (std::vector<uint64_t>{100, 150})) << "snapshots were set aside";
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
  EXPECT_EQ(balance(client), sum_of_first(kSnapshotDeposits));
  ASSERT_NO_FATAL_FAILURE(expect_first_deposits_once(client, kSnapshotDeposits));
  ASSERT_NO_FATAL_FAILURE(expect_ledger_balanced(client));
  EXPECT_TRUE(node_->stop().success());
}

// A snapshot can hold the very batch that --truncate-corrupt-tail cuts off
// the log: the snapshot at index P is written once P was applied, and P's
// record is damaged on disk afterwards. Starting "without exactly that
// batch" (docs/log-format.md, "Corrupt tail") means not starting from that
// snapshot: the state must match the log it will append to.
// (Node::open sets such a snapshot aside: it is past the recovered head.)
TEST_F(SnapshotDrill, TruncatedCorruptTailCoveredBySnapshot) {
  // 1 account + 49 deposits: the 50th command, at position 50, is both the
  // last record and a checkpoint.
  ASSERT_NO_FATAL_FAILURE(write_history(49));
  ASSERT_NO_FATAL_FAILURE(wait_for_snapshot(50));
  node_->kill9();
  const fs::path segment = newest_segment();
  const LogRecord last = read_records(segment).back();
  ASSERT_EQ(last.position, 50u);
  flip_bits(segment, last.offset + kPayloadOffset + last.payload_bytes / 2, 0x10);

  std::string why;
  ASSERT_TRUE(node_->start(why, {"--truncate-corrupt-tail"})) << why;
  const std::string log = node_->last_log();
  JsonClient client(node_->port(), 5'000);
  EXPECT_EQ(log_head(client), 49u);
  EXPECT_EQ(cluster(client).applied_index, 49u) << "the state holds a batch the log no longer has:\n" << log;
  EXPECT_EQ(balance(client), sum_of_first(48));
  // A new write takes position 50 and is applied.
  Reply next = client.post(
      "/v1/deposits", nlohmann::json{{"payment_ref", "after-cut"}, {"account_id", kAccount}, {"amount", 7}}.dump(),
      tokens_.payments);
  EXPECT_EQ(next.status, 201) << next.describe();
  EXPECT_EQ(next.json.value("index", uint64_t{0}), 50u) << next.describe();
  EXPECT_EQ(next.json.value("balance", int64_t{-1}), sum_of_first(48) + 7) << next.describe();
  // The lost deposit, sent again, is credited now, once.
  Reply again = client.post("/v1/deposits", deposits_.back().body, tokens_.payments);
  EXPECT_EQ(again.status, 201) << again.describe();
  EXPECT_EQ(again.json.value("index", uint64_t{0}), 51u) << again.describe();
  EXPECT_EQ(again.json.value("balance", int64_t{-1}), sum_of_first(49) + 7) << again.describe();
  EXPECT_EQ(balance(client), sum_of_first(49) + 7);
  EXPECT_TRUE(node_->stop().success());

  // The state matches the log: a replay of the whole log, snapshots set
  // aside, ends with the same balance.
  fs::rename(snapshots_dir(), dir_ / "snapshots-aside");
  ASSERT_TRUE(node_->start(why)) << why;
  JsonClient replayed(node_->port(), 5'000);
  EXPECT_EQ(balance(replayed), sum_of_first(49) + 7);
  EXPECT_TRUE(node_->stop().success());
}

}  // namespace
}  // namespace betcore::crash
