// Google Benchmark microbenchmarks of the state machine's apply, on the state
// of a big night: 1,000,000 funded accounts and 10,000 open markets.
//
//   build/bench/apply_bench --benchmark_min_time=2
//
// Issue 2 target: >= 2,000,000 single-bet placements/s on one thread, and
// <= 300 bytes of memory per open bet (reported as the bytes_per_open_bet
// counter: resident memory grown per bet placed). Issue 14: no allocation
// per bet (allocs_per_bet: operator new calls inside apply, per bet; the
// growth of the book's tables, amortised, included).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <unistd.h>
#include <vector>

#include "book.h"
#include "domain/state_machine.h"

// Every operator new of this binary, counted: the plain form and the
// aligned one (StableVector's chunks of bets and deposits use it).
std::atomic<uint64_t> g_allocations{0};

void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, std::align_val_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const size_t a = static_cast<size_t>(align);
  // aligned_alloc wants a size the alignment divides
  if (void* p = std::aligned_alloc(a, (std::max<size_t>(n, 1) + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
// GCC cannot see that these replace the global pair, and warns on free().
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

using namespace betcore::domain;

constexpr int kAccounts = 1'000'000;
constexpr int kMarkets = 10'000;

size_t resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long pages = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &pages, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

using betcore::bench::account_id;
using betcore::bench::market_id;

// Builds the loaded book once; benchmarks share it (bets accumulate).
StateMachine& book() {
  static std::unique_ptr<StateMachine> sm = [] {
    uint64_t index = 0;
    return betcore::bench::make_book(kAccounts, kMarkets, 1'000'000'000, index);
  }();
  return *sm;
}

uint64_t g_bet_seq = 0;
uint64_t g_index = 1'000'000;

std::vector<Command> make_singles(size_t n) {
  std::vector<Command> out;
  out.reserve(n);
  uint64_t x = 0x9E3779B97F4A7C15ULL ^ g_bet_seq;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    PlaceBet b;
    b.bet_id = "b-" + std::to_string(++g_bet_seq);
    b.account_id = account_id(static_cast<int>(x % kAccounts));
    b.stake = Amount{100 + static_cast<int64_t>(x % 900)};
    b.legs.push_back(LegSpec{market_id(static_cast<int>((x >> 20) % kMarkets)), "home", Odds{2100}});
    out.emplace_back(std::move(b));
  }
  return out;
}

void BM_PlaceSingle(benchmark::State& st) {
  StateMachine& sm = book();
  constexpr size_t kChunk = 1 << 18;
  std::vector<Command> cmds = make_singles(kChunk);
  size_t next = 0;
  uint64_t placed = 0;
  size_t rss_before = resident_bytes();
  uint64_t allocations = 0;  // inside apply only
  uint64_t allocations_at = g_allocations.load();
  for (auto _ : st) {
    if (next == cmds.size()) {
      st.PauseTiming();
      allocations += g_allocations.load() - allocations_at;
      cmds = make_singles(kChunk);
      allocations_at = g_allocations.load();
      next = 0;
      st.ResumeTiming();
    }
    if ((next & 1023) == 0) sm.begin_batch(LogIndex{++g_index}, TimeMs{1'700'000'100'000});
    // As the node's applier does: cache hints for the next two commands.
    sm.prefetch_before(cmds, next);
    Outcome o = sm.apply(cmds[next++]);
    if (!o.ok()) st.SkipWithError(o.message.c_str());
    ++placed;
  }
  size_t rss_after = resident_bytes();
  allocations += g_allocations.load() - allocations_at;
  st.SetItemsProcessed(static_cast<int64_t>(placed));
  if (placed > 0) st.counters["allocs_per_bet"] = static_cast<double>(allocations) / static_cast<double>(placed);
  st.counters["open_bets_total"] = static_cast<double>(sm.state().bets.size());
  // Resident memory grown per bet placed in this run (includes the command
  // vector's churn being freed and reused, so an upper bound).
  if (placed > 100'000 && rss_after > rss_before) {
    st.counters["bytes_per_open_bet"] = static_cast<double>(rss_after - rss_before) / static_cast<double>(placed);
  }
}
BENCHMARK(BM_PlaceSingle)->Unit(benchmark::kNanosecond)->MinTime(2.0);

void BM_PlaceMultiple3(benchmark::State& st) {
  StateMachine& sm = book();
  std::vector<Command> cmds;
  uint64_t x = 12345;
  for (int i = 0; i < (1 << 16); ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    PlaceBet b;
    b.bet_id = "m-" + std::to_string(++g_bet_seq);
    b.account_id = account_id(static_cast<int>(x % kAccounts));
    b.stake = Amount{100};
    for (int l = 0; l < 3; ++l) {
      b.legs.push_back(LegSpec{market_id(static_cast<int>((x >> (10 + l * 14)) % kMarkets) / 3 * 3 + l), "draw", Odds{3400}});
    }
    cmds.emplace_back(std::move(b));
  }
  size_t next = 0;
  const uint64_t allocations_at = g_allocations.load();
  for (auto _ : st) {
    if (next == cmds.size()) {
      st.SkipWithError("ran out of prepared multiples");
      break;
    }
    if ((next & 1023) == 0) sm.begin_batch(LogIndex{++g_index}, TimeMs{1'700'000'200'000});
    sm.prefetch_before(cmds, next);
    Outcome o = sm.apply(cmds[next++]);
    benchmark::DoNotOptimize(o);
  }
  st.SetItemsProcessed(static_cast<int64_t>(next));
  if (next > 0) {
    st.counters["allocs_per_bet"] =
        static_cast<double>(g_allocations.load() - allocations_at) / static_cast<double>(next);
  }
}
BENCHMARK(BM_PlaceMultiple3)->Iterations(50'000);

}  // namespace

BENCHMARK_MAIN();
