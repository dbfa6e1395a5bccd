// Prometheus metrics: a small, thread-safe registry with lock-free hot paths.
//
// Registering (Registry::counter, gauge, histogram, *_callback) takes the
// registry's mutex and allocates: do it once, when the thing being measured is
// created, and keep the returned reference. Updating (Counter::inc, Gauge::set,
// Histogram::observe) is one or two relaxed atomic operations: no lock, no
// allocation, safe from any thread.
//
// Registry::expose() renders the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): one
// "# HELP" and one "# TYPE" line per family, families sorted by name, series
// sorted by their label text, histogram buckets cumulative and ending in
// le="+Inf", then _sum and _count.
//
// Naming (the Prometheus conventions, not enforced): counters end in _total,
// units sit at the end of the name (_seconds, _bytes), all names start with
// "betcore_".
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace betcore::ops {

// (name, value) pairs. Order does not matter: {a,b} and {b,a} name the same
// series. REQUIRES: names match [a-zA-Z_][a-zA-Z0-9_]*, do not start with "__",
// are unique, and are not "le" on a histogram. Values are any UTF-8.
using Labels = std::vector<std::pair<std::string, std::string>>;

// The Content-Type of Registry::expose()'s output.
inline constexpr std::string_view kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// A monotonically increasing count. Thread-safe, lock-free.
class Counter {
 public:
  void inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down. Stored as a double, so integers are exact up
// to 2^53. Thread-safe, lock-free.
class Gauge {
 public:
  void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  void inc(double delta = 1) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
  void dec(double delta = 1) noexcept { value_.fetch_sub(delta, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into fixed buckets. observe() is lock-free and does not
// allocate: one relaxed increment of the bucket's count and one relaxed add to
// the sum. A scrape may see a sum and counts from slightly different instants
// (as in every Prometheus client); _count always equals the +Inf bucket.
class Histogram {
 public:
  // REQUIRES: `upper_bounds` strictly increasing and not NaN; a trailing +Inf
  // is implied (and dropped if given). Registry::histogram calls this.
  explicit Histogram(std::span<const double> upper_bounds);

  void observe(double value) noexcept;
  // Observes a duration in seconds (Prometheus' base unit of time).
  void observe(std::chrono::nanoseconds duration) noexcept {
    observe(std::chrono::duration<double>(duration).count());
  }

  struct Snapshot {
    std::vector<uint64_t> cumulative_counts;  // one per upper bound, then +Inf
    double sum = 0;
    uint64_t count = 0;  // == cumulative_counts.back()
  };
  Snapshot snapshot() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0};
};

// 0.1 ms .. 10 s, roughly 1-2.5-5 per decade: request and commit latencies.
std::span<const double> default_latency_buckets_s();

namespace detail {
struct CallbackSlot;
}

// Keeps a callback series registered. Destroying it (or reset()) removes the
// series and waits for a scrape that is running the callback to finish, so the
// callback's captures may be destroyed right after. May outlive the registry.
class [[nodiscard]] Registration {
 public:
  Registration() = default;
  explicit Registration(std::shared_ptr<detail::CallbackSlot> slot) : slot_(std::move(slot)) {}
  Registration(Registration&&) noexcept = default;
  Registration& operator=(Registration&& other) noexcept;
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() { reset(); }

  void reset();

 private:
  std::shared_ptr<detail::CallbackSlot> slot_;
};

// Thread-safe. Objects returned by reference live as long as the registry.
// Programmer errors (bad names, one name registered with two types, two helps
// or two bucket layouts) stop the process with BETCORE_ASSERT.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The same name and labels return the same object.
  Counter& counter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, Labels labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, Labels labels = {},
                       std::span<const double> upper_bounds = default_latency_buckets_s());

  // A series whose value is computed at scrape time (queue depth, applied
  // index). `fn` runs on the scraping thread, under the registry's mutex: it
  // must be quick and must not call into this registry.
  // REQUIRES: no live Registration for the same name and labels.
  Registration gauge_callback(std::string_view name, std::string_view help, Labels labels,
                              std::function<double()> fn);
  Registration counter_callback(std::string_view name, std::string_view help, Labels labels,
                                std::function<double()> fn);

  // The whole registry in text format 0.0.4 (kExpositionContentType).
  std::string expose() const;
  // Appends to `out`, so a caller can reuse one buffer across scrapes.
  void expose_to(std::string& out) const;

 private:
  struct Family;
  enum class Type { counter, gauge, histogram };

  Family& family(std::string_view name, std::string_view help, Type type,
                 std::span<const double> upper_bounds);
  Registration callback(std::string_view name, std::string_view help, Type type, Labels labels,
                        std::function<double()> fn);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;  // guarded by mu_
};

// The exposition format's number syntax: integers without a fraction,
// otherwise the shortest text that reads back to the same double; "+Inf",
// "-Inf", "NaN". Appends to `out`.
void append_value(std::string& out, double value);

// The value of the first sample of `name` in exposition `text` whose labels
// include every one of `labels` (each written as in the text, e.g.
// `endpoint="get_payout"`); nullopt when there is none. For the tools and
// tests that read another process's /metrics.
std::optional<double> sample_value(std::string_view text, std::string_view name,
                                   const std::vector<std::string>& labels = {});

}  // namespace betcore::ops
