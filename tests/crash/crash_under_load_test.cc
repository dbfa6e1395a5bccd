// The crash drill: a real `betcore node` under a bench-like load of bets and
// deposits from 8 clients is killed with SIGKILL at random moments and
// restarted on the same data directory each time. Every client keeps its
// request until it has a definite answer (API.md: "retry with the same id"),
// so at the end each request is acknowledged or rejected, and the final state
// must hold exactly the acknowledged ones, once each (docs/log-format.md: a
// position `append` returned is on disk; the state machine's memory of ids
// makes retries safe).
//
// Reproduce a run with BETCORE_CRASH_SEED=<the seed it printed>; run longer
// with BETCORE_CRASH_KILLS=<n> (default 6).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "crash/bet_load.h"
#include "crash/crash_node.h"
#include "crash/log_surgery.h"

namespace betcore::crash {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kKillsDefault = 6;
constexpr int kKillGapMsMin = 300;
constexpr int kKillGapMsMax = 1'500;
constexpr int kWarmupMs = 500;         // load before the first kill
constexpr int kCooldownMs = 1'000;     // load after the last restart
constexpr uint64_t kCheckpointEvery = 500;  // snapshots are written (and killed) too

TEST(CrashUnderLoad, AcknowledgedWritesSurviveRepeatedKill9ExactlyOnce) {
  const auto started = Clock::now();
  const uint64_t seed = env_u64("BETCORE_CRASH_SEED", std::random_device{}() * 0x100000001ull + std::random_device{}());
  const uint64_t kills = env_u64("BETCORE_CRASH_KILLS", kKillsDefault);
  std::printf("crash drill: seed %llu, %llu kills (BETCORE_CRASH_SEED, BETCORE_CRASH_KILLS)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(kills));
  RecordProperty("seed", std::to_string(seed));

  test::TempDir dir("betcore-crash-load");
  const test::TestTokens tokens = test::write_tokens_file(dir.path(), account_ids());
  NodeRunner node(NodeConfig{dir / "data", tokens.file, dir / "logs",
                             {"--checkpoint-every-commands", std::to_string(kCheckpointEvery)}});
  std::string why;
  ASSERT_TRUE(node.start(why)) << why;
  ASSERT_NO_FATAL_FAILURE(set_up_book(node.port(), tokens));

  // --- load, with kills -------------------------------------------------------
  std::mt19937_64 rng(seed);
  Load load(seed, node.port(), tokens);
  load.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(kWarmupMs));
  struct Crash {
    int run_after;          // the run that started after it
    uint64_t acked_before;  // the highest index acknowledged before it
    uint64_t answered_before;
  };
  std::vector<Crash> crashes;
  bool restarted = true;
  for (uint64_t k = 0; k < kills && restarted; ++k) {
    std::uniform_int_distribution<int> gap(kKillGapMsMin, kKillGapMsMax);
    std::this_thread::sleep_for(std::chrono::milliseconds(gap(rng)));
    node.kill9();
    // Read after the process is gone: every acknowledgement counted here
    // came from a run that is now dead.
    crashes.push_back(Crash{node.runs(), load.max_acked_index(), load.answered()});
    restarted = node.start(why);
  }
  ASSERT_TRUE(restarted) << "restart " << crashes.size() << " failed: " << why;
  std::this_thread::sleep_for(std::chrono::milliseconds(kCooldownMs));
  load.finish();
  const std::vector<Op> ops = load.ops();

  // --- every request got a definite, sensible answer ----------------------------
  const size_t acked_bets = expect_definite_answers(ops, "crash drill");
  EXPECT_GT(acked_bets, 100u) << "too little load to prove anything";
  size_t resolved_unknowns = 0;
  for (const Op& op : ops) resolved_unknowns += op.indefinite > 0 ? 1 : 0;
  EXPECT_GT(resolved_unknowns, 0u) << "no kill caught a request in flight: the drill proved nothing";

  // --- each restart replayed at least what had been acknowledged ----------------
  for (size_t k = 0; k < crashes.size(); ++k) {
    const std::string log = node.log_of(crashes[k].run_after);
    std::optional<uint64_t> replayed_to = number_after(log, "commands up to index ");
    ASSERT_TRUE(replayed_to.has_value()) << "restart " << k << " did not say it replayed:\n" << log;
    std::printf("crash drill: kill %zu after %llu answers; restart replayed up to index %llu (acknowledged up to %llu)\n",
                k + 1, static_cast<unsigned long long>(crashes[k].answered_before),
                static_cast<unsigned long long>(*replayed_to),
                static_cast<unsigned long long>(crashes[k].acked_before));
    EXPECT_GE(*replayed_to, crashes[k].acked_before)
        << "restart " << k << " lost acknowledged log positions:\n" << log;
    EXPECT_EQ(count_of(log, "refused, not applied"), 0u) << log;
    EXPECT_EQ(count_of(log, "snapshot skipped"), 0u) << log;
    EXPECT_EQ(log.find("is corrupt"), std::string::npos) << log;
  }

  // --- a clean stop and start, then the state --------------------------------
  test::ExitStatus stopped = node.stop();
  EXPECT_TRUE(stopped.success()) << stopped.describe() << "\n" << node.last_log();
  ASSERT_TRUE(node.start(why)) << why;
  EXPECT_NE(node.last_log().find("file log " + (dir / "data" / "log").string() + ": clean"), std::string::npos)
      << "a clean stop left a log that needed repair:\n" << node.last_log();

  expect_state_matches(node.port(), tokens, ops);
  JsonClient client(node.port(), 15'000);

  // Snapshot + tail replay reaches the same state as a replay of the whole
  // log: same checkpoint, same digest (API.md, GET /v1/cluster).
  Reply before = client.get("/v1/cluster", tokens.admin);
  ASSERT_EQ(before.status, 200) << before.describe();
  stopped = node.stop();
  EXPECT_TRUE(stopped.success()) << stopped.describe();
  const fs::path snapshots = dir / "data" / "snapshots";
  const size_t snapshots_on_disk = snapshot_files(snapshots).size();
  if (segment_files(dir / "data" / "log").front().filename() == "00000000000000000001.log") {
    fs::rename(snapshots, dir / "snapshots-aside");
    ASSERT_TRUE(node.start(why)) << why;
    JsonClient fresh(node.port());
    Reply replayed = fresh.get("/v1/cluster", tokens.admin);
    ASSERT_EQ(replayed.status, 200) << replayed.describe();
    EXPECT_EQ(replayed.json.value("applied_index", uint64_t{0}), before.json.value("applied_index", uint64_t{1}));
    EXPECT_EQ(replayed.json.value("checkpoint", uint64_t{0}), before.json.value("checkpoint", uint64_t{1}))
        << before.describe() << "\n" << replayed.describe();
    EXPECT_EQ(replayed.json.value("state_digest", std::string("a")), before.json.value("state_digest", std::string("b")))
        << before.describe() << "\n" << replayed.describe();
    EXPECT_EQ(node.last_log().find("loaded snapshot"), std::string::npos);
    EXPECT_TRUE(node.stop().success());
  }
  std::printf("crash drill: %zu snapshots on disk at the end; %d runs; %.1f s\n", snapshots_on_disk, node.runs(),
              std::chrono::duration<double>(Clock::now() - started).count());
}

}  // namespace
}  // namespace betcore::crash
