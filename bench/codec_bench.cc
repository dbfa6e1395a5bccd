// Google Benchmark microbenchmarks of the binary formats: a command record
// encoded and decoded, a request's fingerprint, and the canonical snapshot
// of a state with 100,000 accounts and as many open bets encoded, decoded
// and digested.
//
//   build/bench/codec_bench
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "codec/command_codec.h"
#include "codec/snapshot.h"
#include "domain/fingerprint.h"
#include "book.h"
#include "domain/state_machine.h"

namespace {

using namespace betcore::domain;
using namespace betcore::codec;

constexpr int kAccounts = 100'000;
constexpr int kMarkets = 1'000;

PlaceBet a_multiple(int i) {
  PlaceBet b;
  b.bet_id = "bet-" + std::to_string(i);
  b.account_id = betcore::bench::account_id(i % kAccounts);
  b.stake = Amount{500};
  for (int k = 0; k < 3; ++k) {
    b.legs.push_back(LegSpec{betcore::bench::market_id((i + k * 7) % kMarkets), "home", Odds{2100}});
  }
  return b;
}

// The book, then one open treble per account.
const StateMachine& book() {
  static std::unique_ptr<StateMachine> sm = [] {
    uint64_t index = 0;
    auto m = betcore::bench::make_book(kAccounts, kMarkets, 1'000'000, index);
    for (int i = 0; i < kAccounts; ++i) {
      if (i % 4096 == 0) m->begin_batch(LogIndex{++index}, TimeMs{betcore::bench::kBookStartMs + kAccounts + i});
      if (!m->apply(a_multiple(i)).ok()) std::abort();
    }
    return m;
  }();
  return *sm;
}

void BM_EncodeCommand(benchmark::State& st) {
  const Command c = a_multiple(7);
  std::string out;
  for (auto _ : st) {
    out.clear();
    encode_command(c, out);
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_EncodeCommand);

void BM_DecodeCommand(benchmark::State& st) {
  std::string record;
  encode_command(a_multiple(7), record);
  for (auto _ : st) {
    size_t pos = 0;
    auto c = decode_command(record, &pos);
    benchmark::DoNotOptimize(c);
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_DecodeCommand);

void BM_Fingerprint(benchmark::State& st) {
  const Command c = a_multiple(7);
  for (auto _ : st) benchmark::DoNotOptimize(fingerprint(c));
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_Fingerprint);

void BM_EncodeState(benchmark::State& st) {
  const State& s = book().state();
  size_t bytes = 0;
  for (auto _ : st) {
    std::string e = encode_state(s);
    bytes = e.size();
    benchmark::DoNotOptimize(e.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
}
BENCHMARK(BM_EncodeState)->Unit(benchmark::kMillisecond);

void BM_DecodeState(benchmark::State& st) {
  const std::string e = encode_state(book().state());
  for (auto _ : st) {
    DecodedState d = decode_state(e);
    if (d.state == nullptr) std::abort();
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * e.size()));
}
BENCHMARK(BM_DecodeState)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
