// The applier's startup replay (Applier::replay): a reader thread reads and
// decodes the next slice of the log while the calling thread applies the
// one before. It must read the log exactly as the one-thread loop (step())
// does, reach the same state, stop between slices, and handle a failed read
// as step() does (a compacted log bootstraps from a snapshot and goes on).
#include "node/applier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "codec/batch.h"
#include "codec/chain.h"
#include "codec/command_codec.h"
#include "codec/snapshot.h"
#include "domain/state_machine.h"

namespace betcore::node {
namespace {

constexpr uint64_t kEntries = 6000;  // five reads of 1,024 entries, a sixth, and the empty one
constexpr int64_t kStampMs = 1'704'067'200'000;

// Entry i (from 1) holds two commands: an account opened and a deposit to it.
std::vector<domain::Command> commands_of(uint64_t i) {
  const std::string account = "acc-" + std::to_string(i);
  return {domain::CreateAccount{account, "EUR", domain::Amount{0}},
          domain::Deposit{"dep-" + std::to_string(i), account, domain::Amount{static_cast<int64_t>(100 + i)}}};
}

std::string batch_of(uint64_t i) {
  codec::BatchHeader h;
  h.node_id = "writer";
  h.first_seq = i * 2;
  h.stamped_ms = kStampMs + static_cast<int64_t>(i);
  std::vector<std::string> encoded;
  for (const domain::Command& c : commands_of(i)) codec::encode_command(c, encoded.emplace_back());
  return codec::encode_batch(h, encoded);
}

// The state after entries 1..n, applied one by one as every replica applies
// an entry (the audit chain over its bytes, then its commands), with no
// applier at all.
std::unique_ptr<domain::State> state_after(uint64_t n) {
  domain::StateMachine m;
  for (uint64_t i = 1; i <= n; ++i) {
    const std::string bytes = batch_of(i);
    const codec::DecodedBatch d = codec::decode_batch(bytes);
    m.begin_batch(domain::LogIndex{i}, domain::TimeMs{d.header.stamped_ms});
    EXPECT_TRUE(codec::chain_entry(m, i, bytes, d).ok);
    for (const domain::Command& c : d.commands) m.apply(c);
  }
  return codec::decode_state(codec::encode_state(m.state())).state;
}

// kEntries entries in memory. Records every read's first position; one read
// (at fail_at) can fail once with fail_code; one (at slow_at) can take 600 ms.
class MemoryLog final : public log::Log {
 public:
  MemoryLog() {
    for (uint64_t i = 1; i <= kEntries; ++i) entries_.push_back(log::Entry{log::Position{i}, batch_of(i)});
  }
  log::Result<log::Position> append(std::string_view) override {
    return log::Error{log::Errc::invalid_argument, "read-only"};
  }
  log::Result<std::vector<log::Entry>> read(log::Position from, size_t max_entries, size_t,
                                            int) override {
    std::lock_guard lock(mu_);
    reads_.push_back(from.value);
    if (slow_at_ == from.value) std::this_thread::sleep_for(std::chrono::milliseconds(600));
    if (fail_at_ == from.value) {
      fail_at_ = 0;
      return log::Error{fail_code_, "scripted failure", 1500};
    }
    std::vector<log::Entry> out;
    for (uint64_t p = from.value; p <= kEntries && out.size() < max_entries; ++p) out.push_back(entries_[p - 1]);
    return out;
  }
  log::Result<log::Position> head() override { return log::Position{kEntries}; }
  log::Result<log::Ok> compact(log::Position) override { return log::Ok{}; }
  void close() override {}

  void fail_once_at(uint64_t position, log::Errc code) {
    std::lock_guard lock(mu_);
    fail_at_ = position;
    fail_code_ = code;
  }
  void slow_at(uint64_t position) {
    std::lock_guard lock(mu_);
    slow_at_ = position;
  }
  std::vector<uint64_t> reads() {
    std::lock_guard lock(mu_);
    return reads_;
  }

 private:
  std::vector<log::Entry> entries_;
  std::mutex mu_;
  std::vector<uint64_t> reads_;  // guarded by mu_
  uint64_t fail_at_ = 0;         // guarded by mu_
  uint64_t slow_at_ = 0;         // guarded by mu_
  log::Errc fail_code_ = log::Errc::unavailable;
};

struct Fixture {
  MemoryLog log;
  Waiters waiters;
  ops::Registry metrics;
  std::vector<int> pauses;
  std::unique_ptr<Applier> applier;

  explicit Fixture(bool reader_thread) {
    ApplierOptions o;
    o.replay_reader_thread = reader_thread;
    o.node_id = "replayer";
    o.checkpoint_every_commands = 0;
    o.pause = [this](int ms) { pauses.push_back(ms); };
    applier = std::make_unique<Applier>(o, log, waiters, metrics, nullptr);
  }
  std::string digest() {
    std::string d;
    applier->read(0, 1000, [&](const domain::State* s) { d = codec::state_digest(*s); });
    return d;
  }
};

// Each test runs twice: with the reader thread (a node) and without it (the
// simulator); both must read the log alike and reach the same state.
class ApplierReplay : public testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(ReaderThread, ApplierReplay, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& i) {
                           return i.param ? "WithTheReaderThread" : "OnOneThread";
                         });

TEST_P(ApplierReplay, AppliesEveryEntryInOrderWithTheReadsOfTheOneThreadLoop) {
  Fixture f(GetParam());
  EXPECT_EQ(f.applier->replay(), kEntries * 2);
  EXPECT_EQ(f.applier->applied(), kEntries);
  EXPECT_EQ(f.digest(), codec::state_digest(*state_after(kEntries)));
  // step() reads 1,024 entries from applied() + 1, then again, until a read
  // comes back empty: the pipeline makes the same reads, no more.
  EXPECT_EQ(f.log.reads(), (std::vector<uint64_t>{1, 1025, 2049, 3073, 4097, 5121, 6001}));
}

TEST_P(ApplierReplay, ProgressIsReportedWhileItRuns) {
  Fixture f(GetParam());
  f.log.slow_at(2049);  // one read takes 600 ms: more than the 0.5 s between two reports
  int reports = 0;
  f.applier->replay({}, [&] { ++reports; });
  EXPECT_GE(reports, 1);
  EXPECT_EQ(f.applier->applied(), kEntries);
}

TEST_P(ApplierReplay, AStopEndsItBetweenTwoSlicesWithEveryEntryOfTheFirstApplied) {
  Fixture f(GetParam());
  bool stop = false;
  // The stop is asked for once the first slice's last entry is applied; the
  // reader is then ahead, blocked on the queue, and must be let go.
  const uint64_t applied = f.applier->replay([&] {
    stop = stop || f.applier->applied() >= 1024;
    return stop;
  });
  EXPECT_EQ(applied, 1024u * 2);
  EXPECT_EQ(f.applier->applied(), 1024u);
  EXPECT_EQ(f.digest(), codec::state_digest(*state_after(1024)));
}

TEST_P(ApplierReplay, AFailedReadEndsItAsTheOneThreadLoopDoesAfterApplyingEverythingBefore) {
  Fixture f(GetParam());
  f.log.fail_once_at(1025, log::Errc::unavailable);
  EXPECT_EQ(f.applier->replay(), 1024u * 2);
  EXPECT_EQ(f.applier->applied(), 1024u);
  EXPECT_EQ(f.pauses, (std::vector<int>{100}));  // step()'s pause before the next try
  EXPECT_EQ(f.log.reads(), (std::vector<uint64_t>{1, 1025}));
  // The applier thread (or another replay) takes it from there.
  EXPECT_EQ(f.applier->replay(), (kEntries - 1024) * 2);
  EXPECT_EQ(f.digest(), codec::state_digest(*state_after(kEntries)));
}

TEST_P(ApplierReplay, ACompactedLogBootstrapsFromASnapshotAndTheReplayGoesOnFromIt) {
  Fixture f(GetParam());
  f.log.fail_once_at(1025, log::Errc::compacted);
  int bootstraps = 0;
  f.applier->set_compacted_handler([&](const log::Error& e) -> std::unique_ptr<domain::State> {
    ++bootstraps;
    EXPECT_EQ(e.position, 1500u);
    return state_after(2000);  // a peer's snapshot past the compaction point
  });
  f.applier->replay();
  EXPECT_EQ(bootstraps, 1);
  EXPECT_EQ(f.applier->applied(), kEntries);
  EXPECT_EQ(f.digest(), codec::state_digest(*state_after(kEntries)));
  EXPECT_EQ(f.log.reads(), (std::vector<uint64_t>{1, 1025, 2001, 3025, 4049, 5073, 6001}));
}

}  // namespace
}  // namespace betcore::node
