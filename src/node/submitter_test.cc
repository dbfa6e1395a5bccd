// The submitter's group commit under load (Submitter::linger), against a log
// whose appends the test holds and releases.
#include "node/submitter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "codec/batch.h"
#include "codec/command_codec.h"

namespace betcore::node {
namespace {

using namespace std::chrono_literals;

// Records each batch's command count (and lane and first sequence number);
// an append waits for a permit.
class HeldLog final : public log::Log {
 public:
  explicit HeldLog(size_t lanes = 1) : lanes_(lanes) {}
  log::Result<log::Position> append(std::string_view batch) override { return append_on(0, batch); }
  size_t append_lanes() const override { return lanes_; }
  log::Result<log::Position> append_on(size_t lane, std::string_view batch) override {
    std::unique_lock lock(mu_);
    const codec::DecodedBatch d = codec::decode_batch(batch);
    sizes_.push_back(d.commands.size());
    lanes_used_.push_back(lane);
    first_seqs_.push_back(d.header.first_seq);
    cv_.notify_all();
    cv_.wait(lock, [&] { return permits_ > 0 || closed_; });
    if (permits_ > 0) --permits_;
    return log::Position{sizes_.size()};
  }
  log::Result<std::vector<log::Entry>> read(log::Position, size_t, size_t, int) override {
    return std::vector<log::Entry>{};
  }
  log::Result<log::Position> head() override { return log::Position{0}; }
  log::Result<log::Ok> compact(log::Position) override { return log::Ok{}; }
  void close() override {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

  void permit(int n = 1) {
    std::lock_guard lock(mu_);
    permits_ += n;
    cv_.notify_all();
  }
  // Waits (at most 10 s) until `n` appends began; their sizes.
  std::vector<size_t> await_appends(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 10s, [&] { return sizes_.size() >= n; });
    return sizes_;
  }
  std::vector<size_t> lanes_used() {
    std::lock_guard lock(mu_);
    return lanes_used_;
  }
  std::vector<uint64_t> first_seqs() {
    std::lock_guard lock(mu_);
    return first_seqs_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const size_t lanes_;
  std::vector<size_t> sizes_;
  std::vector<size_t> lanes_used_;
  std::vector<uint64_t> first_seqs_;
  int permits_ = 0;
  bool closed_ = false;
};

std::string command(int i) {
  std::string out;
  codec::encode_command(domain::CreateAccount{"a" + std::to_string(i), "EUR", domain::Amount{0}}, out);
  return out;
}

struct Fixture {
  explicit Fixture(SubmitterOptions o, size_t lanes = 1)
      : log(lanes), submitter(std::move(o), log, waiters, metrics) {
    submitter.start();
  }
  ~Fixture() {
    log.close();
    submitter.stop();
  }
  // All `n` queued together (submit_all): the submitter never sees part of them.
  void submit(int n) {
    std::vector<std::string> commands;
    std::vector<WriteDone> dones;
    for (int i = 0; i < n; ++i) {
      commands.push_back(command(next++));
      dones.emplace_back([](const WriteResult&) {});
    }
    ASSERT_EQ(submitter.submit_all(std::move(commands), std::move(dones)), SubmitStatus::accepted);
  }
  HeldLog log;
  Waiters waiters;
  ops::Registry metrics;
  Submitter submitter;
  int next = 0;
};

SubmitterOptions lingering() {
  SubmitterOptions o;
  o.node_id = "n1";
  o.batch_linger_us = 60'000'000;  // a minute: only the last append's length bounds it
  o.batch_linger_commands = 8;
  o.batch_linger_after_commands = 4;
  return o;
}

TEST(SubmitterLinger, AtLowLoadABatchOfOneGoesAtOnce) {
  Fixture f(lingering());
  f.submit(1);  // a batch of one, held 3 s: were a wait armed, it could last 3 s
  ASSERT_EQ(f.log.await_appends(1).size(), 1u);
  std::this_thread::sleep_for(3s);
  f.log.permit(100);
  for (size_t i = 2; i <= 4; ++i) {
    const auto sent = std::chrono::steady_clock::now();
    f.submit(1);
    // Batches of one never arm the wait: each goes alone at once, without
    // waiting for the 8 it would wait for under load.
    const auto sizes = f.log.await_appends(i);
    ASSERT_EQ(sizes.size(), i) << "the append of a lone command did not happen";
    EXPECT_EQ(sizes.back(), 1u);
    if (i == 2) {
      EXPECT_LT(std::chrono::steady_clock::now() - sent, 1500ms) << "a lone command waited for a fuller batch";
    }
  }
}

TEST(SubmitterLinger, UnderLoadTheNextBatchWaitsForMoreAndGoesOnceFull) {
  Fixture f(lingering());
  f.submit(1);  // batch A: 1 command, held
  ASSERT_EQ(f.log.await_appends(1).size(), 1u);
  f.submit(5);  // queued behind A: batch B
  f.log.permit();
  ASSERT_EQ(f.log.await_appends(2).back(), 5u);
  // B (5 commands: under load) is held 4 s, so the next batch may wait up
  // to 4 s for 8 commands.
  std::this_thread::sleep_for(4s);
  f.log.permit();
  f.submit(2);
  std::this_thread::sleep_for(50ms);  // without the wait, these 2 would go alone now
  const auto filled = std::chrono::steady_clock::now();
  f.submit(6);
  const auto sizes = f.log.await_appends(3);
  ASSERT_EQ(sizes.size(), 3u);
  EXPECT_EQ(sizes[2], 8u) << "the batch after a loaded one should have waited for 8 commands";
  // ... and gone as soon as they were there, not at the end of the 4 s.
  EXPECT_LT(std::chrono::steady_clock::now() - filled, 2s) << "a full batch waited for the linger's end";
  f.log.permit(10);
}

TEST(SubmitterLinger, TheWaitNeverOutlastsTheLastAppend) {
  Fixture f(lingering());
  f.submit(1);
  ASSERT_EQ(f.log.await_appends(1).size(), 1u);
  f.submit(5);
  f.log.permit(100);  // A and B go at once: B's append is short
  ASSERT_EQ(f.log.await_appends(2).back(), 5u);
  f.submit(2);  // waits at most as long as B took (microseconds), not a minute
  const auto sizes = f.log.await_appends(3);
  ASSERT_EQ(sizes.size(), 3u) << "the batch waited longer than the last append took";
  EXPECT_EQ(sizes[2], 2u);
}

// A log with two lanes (etcd with --append-lanes 2): a full batch goes out on
// the second lane while the first still waits for its quorum, with sequence
// numbers of its own; a batch that is not full waits for lane 0, and one lane
// never has two appends at once.
TEST(SubmitterLanes, ASecondLaneAppendsOnlyAFullBatchWhileTheFirstIsInFlight) {
  SubmitterOptions o;
  o.node_id = "n1";
  o.batch_linger_commands = 3;  // a full batch
  Fixture f(o, 2);
  f.submit(1);  // batch A: lane 0 takes any command
  ASSERT_EQ(f.log.await_appends(1), (std::vector<size_t>{1}));
  f.submit(2);  // not a full batch: it waits for lane 0
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(f.log.await_appends(1).size(), 1u) << "the second lane took a batch that was not full";
  f.submit(1);  // now 3 queued: batch B goes out on the second lane while A is held
  ASSERT_EQ(f.log.await_appends(2), (std::vector<size_t>{1, 3})) << "the second lane did not append a full batch";
  f.submit(2);  // both lanes busy: C waits in the queue
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(f.log.await_appends(2).size(), 2u) << "a lane took a second append while its first was held";
  f.log.permit(2);  // both free again: C (not full) goes out on lane 0
  ASSERT_EQ(f.log.await_appends(3), (std::vector<size_t>{1, 3, 2}));
  f.log.permit(10);

  EXPECT_EQ(f.log.lanes_used(), (std::vector<size_t>{0, 1, 0}));
  const std::vector<uint64_t> seqs = f.log.first_seqs();
  // A's 1, B's 3 and C's 2 sequence numbers follow one another, none twice.
  EXPECT_EQ(seqs[1], seqs[0] + 1);
  EXPECT_EQ(seqs[2], seqs[1] + 3);
  EXPECT_EQ(f.waiters.size(), 6u);  // every command waits for the applier, once
}

TEST(SubmitterLanes, ALogOfOneLaneKeepsOneAppendInFlight) {
  SubmitterOptions o;
  o.node_id = "n1";
  Fixture f(o, 1);
  f.submit(1);
  ASSERT_EQ(f.log.await_appends(1).size(), 1u);
  f.submit(3);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(f.log.await_appends(1).size(), 1u) << "a second append began while the first was held";
  f.log.permit(10);
  EXPECT_EQ(f.log.await_appends(2), (std::vector<size_t>{1, 3}));
}

}  // namespace
}  // namespace betcore::node
