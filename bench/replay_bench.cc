// Restart replay speed: writes a log of ~1,000,000 commands (accounts,
// deposits, single and multiple bets) into a fresh data directory, then opens
// a node on it exactly as `betcore node` does at start (snapshot load, log
// recovery scan, read, decode, apply) and prints commands replayed per second.
//
//   build/bench/replay_bench [commands] [data_dir]
//
// Issue 2 target: >= 500,000 commands/s.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "codec/batch.h"
#include "codec/command_codec.h"
#include "log/file/file_log.h"
#include "node/node.h"
#include "ops/metrics.h"

using namespace betcore;
using namespace betcore::domain;

namespace {

constexpr size_t kBatchCommands = 1000;

struct Writer {
  log::FileLog& log;
  std::vector<std::string> pending;
  uint64_t seq = 1;
  int64_t ms = 1'700'000'000'000;
  uint64_t written = 0;

  void add(const Command& c) {
    std::string e;
    codec::encode_command(c, e);
    pending.push_back(std::move(e));
    if (pending.size() == kBatchCommands) flush();
  }
  void flush() {
    if (pending.empty()) return;
    codec::BatchHeader h{"replay-bench", seq, ms += 5};
    seq += pending.size();
    auto r = log.append(codec::encode_batch(h, pending));
    if (!r.ok()) {
      std::fprintf(stderr, "append failed: %s\n", r.error().message.c_str());
      std::exit(1);
    }
    written += pending.size();
    pending.clear();
  }
};

}  // namespace

int main(int argc, char** argv) {
  const uint64_t target = argc > 1 ? std::stoull(argv[1]) : 1'000'000;
  const std::string dir = argc > 2 ? argv[2] : "/tmp/betcore-replay-bench";
  std::filesystem::remove_all(dir);
  const int accounts = 100'000;
  const int markets = 1'000;
  {
    log::FileLog::Options o;
    o.fsync = false;  // generating the input, not measuring durability
    auto opened = log::FileLog::open(dir + "/log", o);
    if (!opened.ok()) {
      std::fprintf(stderr, "cannot open log: %s\n", opened.error().message.c_str());
      return 1;
    }
    Writer w{*opened.value(), {}};
    w.add(CreateEvent{"ev", "Big night", TimeMs{1'800'000'000'000}});
    for (int m = 0; m < markets; ++m) {
      CreateMarket c;
      c.market_id = "mk-" + std::to_string(m);
      c.event_id = "ev";
      c.name = "Match odds";
      c.selections = {{"home", "Home", Odds{2100}}, {"draw", "Draw", Odds{3400}}, {"away", "Away", Odds{3900}}};
      w.add(c);
    }
    for (int a = 0; a < accounts; ++a) {
      w.add(CreateAccount{"acct-" + std::to_string(a), "EUR", Amount{0}});
      w.add(Deposit{"dep-" + std::to_string(a), "acct-" + std::to_string(a), Amount{100'000'000}});
    }
    uint64_t x = 88172645463325252ULL;
    for (uint64_t i = 0; w.written + w.pending.size() < target; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      PlaceBet b;
      b.bet_id = "b-" + std::to_string(i);
      b.account_id = "acct-" + std::to_string(x % accounts);
      b.stake = Amount{100 + static_cast<int64_t>(x % 900)};
      int legs = (i % 10 == 0) ? 3 : 1;  // one in ten a treble
      for (int l = 0; l < legs; ++l) {
        b.legs.push_back({"mk-" + std::to_string((x >> 20) % (markets / 3) * 3 + l), "home", Odds{2100}});
      }
      w.add(b);
    }
    w.flush();
    std::printf("wrote %llu commands in %llu-command batches to %s/log\n",
                static_cast<unsigned long long>(w.written), static_cast<unsigned long long>(kBatchCommands),
                dir.c_str());
  }
  ops::Registry metrics;
  node::NodeOptions no;
  no.node_id = "replay-bench";
  no.data_dir = dir;
  no.checkpoint_every_commands = 0;
  std::string error;
  auto t0 = std::chrono::steady_clock::now();
  auto node = node::Node::open(no, metrics, nullptr, error);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!node) {
    std::fprintf(stderr, "open failed: %s\n", error.c_str());
    return 1;
  }
  uint64_t applied = static_cast<uint64_t>(metrics.counter("betcore_commands_applied_total", "Commands applied").value());
  std::printf("replayed %llu commands in %.3f s: %.0f commands/s (open + recovery scan + read + decode + apply)\n",
              static_cast<unsigned long long>(applied), secs, applied / secs);
  std::filesystem::remove_all(dir);
  return 0;
}
