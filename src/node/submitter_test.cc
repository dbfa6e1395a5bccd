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

// Records each batch's command count; an append waits for a permit.
class HeldLog final : public log::Log {
 public:
  log::Result<log::Position> append(std::string_view batch) override {
    std::unique_lock lock(mu_);
    sizes_.push_back(codec::decode_batch(batch).commands.size());
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

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<size_t> sizes_;
  int permits_ = 0;
  bool closed_ = false;
};

std::string command(int i) {
  std::string out;
  codec::encode_command(domain::CreateAccount{"a" + std::to_string(i), "EUR", domain::Amount{0}}, out);
  return out;
}

struct Fixture {
  explicit Fixture(SubmitterOptions o) : submitter(std::move(o), log, waiters, metrics) { submitter.start(); }
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

}  // namespace
}  // namespace betcore::node
