#include "ops/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>

#include "domain/assert.h"
#include "ops/request_stage.h"

namespace betcore::ops {

namespace detail {

// Shared by a Registration and the registry, so either may go first.
struct CallbackSlot {
  std::mutex mu;
  std::function<double()> fn;  // guarded by mu; empty once the Registration is gone
};

}  // namespace detail

namespace {

constexpr double kDefaultLatencyBucketsS[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                              0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                              1,      2.5,     5,      10};

// Finer than the latency buckets: a parse or a queue wait takes microseconds.
constexpr double kStageBucketsS[] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                     0.0025,  0.005,    0.01,    0.025,  0.05,    0.1,    0.25,
                                     0.5,     1,        2.5,     5,      10};

bool is_metric_name(std::string_view name) {
  // Exposition format: metric names match [a-zA-Z_:][a-zA-Z0-9_:]*.
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

bool is_label_name(std::string_view name) {
  // Label names match [a-zA-Z_][a-zA-Z0-9_]*; "__" prefixes are reserved.
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

// Label values escape backslash, double quote and line feed.
void append_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

// HELP text escapes backslash and line feed (not the double quote).
void append_help(std::string& out, std::string_view help) {
  for (const char c : help) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

// The canonical inner label text, `a="x",b="y"`, sorted by name: the series key.
std::string render_labels(Labels labels, bool histogram) {
  std::sort(labels.begin(), labels.end());
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto& [name, value] = labels[i];
    BETCORE_ASSERT_MSG(is_label_name(name), "metric label name must match [a-zA-Z_][a-zA-Z0-9_]*");
    BETCORE_ASSERT_MSG(i == 0 || labels[i - 1].first != name, "metric label names must be unique");
    BETCORE_ASSERT_MSG(!(histogram && name == "le"), "\"le\" is reserved on histograms");
    if (i > 0) out += ',';
    out += name;
    out += "=\"";
    append_label_value(out, value);
    out += '"';
  }
  return out;
}

void append_uint(std::string& out, uint64_t value) {
  // Exact even beyond 2^53, where a double would round.
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}

void append_series_name(std::string& out, std::string_view name, std::string_view suffix,
                        std::string_view inner_labels) {
  out += name;
  out += suffix;
  if (!inner_labels.empty()) {
    out += '{';
    out += inner_labels;
    out += '}';
  }
}

std::vector<double> checked_bounds(std::span<const double> upper_bounds) {
  std::vector<double> bounds(upper_bounds.begin(), upper_bounds.end());
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    BETCORE_ASSERT_MSG(!std::isnan(bounds[i]), "histogram bounds must not be NaN");
    BETCORE_ASSERT_MSG(i == 0 || bounds[i - 1] < bounds[i],
                       "histogram bounds must be strictly increasing");
  }
  return bounds;
}

}  // namespace

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  std::to_chars_result r;
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(value));
  } else {
    // Shortest round-trip text in %g style: 0.0001 stays "0.0001", 1e-05
    // becomes "1e-05", the way Go's strconv 'g' (the reference client) does.
    r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general);
  }
  BETCORE_ASSERT(r.ec == std::errc());
  out.append(buf, r.ptr);
}

// ---- Histogram -------------------------------------------------------------

Histogram::Histogram(std::span<const double> upper_bounds)
    : upper_bounds_(checked_bounds(upper_bounds)),
      counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) noexcept {
  // Bucket i counts values <= upper_bounds_[i] ("le"); NaN and values above
  // the last bound land in +Inf. The bounds are few, so a linear scan beats a
  // binary search on branch prediction.
  size_t i = 0;
  const size_t n = upper_bounds_.size();
  while (i < n && !(value <= upper_bounds_[i])) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative_counts.resize(upper_bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative_counts[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::span<const double> default_latency_buckets_s() { return kDefaultLatencyBucketsS; }

Histogram& request_stage(Registry& registry, std::string_view stage) {
  return registry.histogram("betcore_request_stage_seconds",
                            "Where a write's time goes, by stage: parse, queue, append, "
                            "commit_to_applied, apply, respond (docs/monitoring.md)",
                            {{"stage", std::string(stage)}}, kStageBucketsS);
}

// ---- Registration ------------------------------------------------------------

Registration& Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    reset();
    slot_ = std::move(other.slot_);
  }
  return *this;
}

void Registration::reset() {
  if (!slot_) return;
  {
    // Taking the slot's mutex waits out a scrape that is inside fn.
    std::lock_guard lock(slot_->mu);
    slot_->fn = nullptr;
  }
  slot_.reset();
}

// ---- Registry ----------------------------------------------------------------

struct Registry::Family {
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::shared_ptr<detail::CallbackSlot> callback;
  };

  std::string name;
  std::string help;
  Type type;
  std::vector<double> upper_bounds;      // histograms only
  std::vector<std::string> le_text;      // upper_bounds rendered, then "+Inf"
  std::map<std::string, Series> series;  // keyed by the canonical inner label text
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::family(std::string_view name, std::string_view help, Type type,
                                   std::span<const double> upper_bounds) {
  BETCORE_ASSERT_MSG(is_metric_name(name), "metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto f = std::make_unique<Family>();
    f->name = name;
    f->help = help;
    f->type = type;
    if (type == Type::histogram) {
      f->upper_bounds = checked_bounds(upper_bounds);
      for (const double b : f->upper_bounds) {
        f->le_text.emplace_back();
        append_value(f->le_text.back(), b);
      }
      f->le_text.emplace_back("+Inf");
    }
    it = families_.emplace(std::string(name), std::move(f)).first;
  }
  Family& f = *it->second;
  BETCORE_ASSERT_MSG(f.type == type, "one metric name registered with two types");
  BETCORE_ASSERT_MSG(f.help == help, "one metric name registered with two help texts");
  if (type == Type::histogram) {
    BETCORE_ASSERT_MSG(f.upper_bounds == checked_bounds(upper_bounds),
                       "one histogram name registered with two bucket layouts");
  }
  return f;
}

Counter& Registry::counter(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, Type::counter, {});
  auto& s = f.series[render_labels(std::move(labels), false)];
  BETCORE_ASSERT_MSG(!s.callback, "series already registered as a callback");
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, Type::gauge, {});
  auto& s = f.series[render_labels(std::move(labels), false)];
  BETCORE_ASSERT_MSG(!s.callback, "series already registered as a callback");
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, Labels labels,
                               std::span<const double> upper_bounds) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, Type::histogram, upper_bounds);
  auto& s = f.series[render_labels(std::move(labels), true)];
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(f.upper_bounds);
  return *s.histogram;
}

Registration Registry::gauge_callback(std::string_view name, std::string_view help, Labels labels,
                                      std::function<double()> fn) {
  return callback(name, help, Type::gauge, std::move(labels), std::move(fn));
}

Registration Registry::counter_callback(std::string_view name, std::string_view help, Labels labels,
                                        std::function<double()> fn) {
  return callback(name, help, Type::counter, std::move(labels), std::move(fn));
}

Registration Registry::callback(std::string_view name, std::string_view help, Type type,
                                Labels labels, std::function<double()> fn) {
  BETCORE_ASSERT_MSG(fn != nullptr, "a callback series needs a callback");
  auto slot = std::make_shared<detail::CallbackSlot>();
  slot->fn = std::move(fn);
  std::lock_guard lock(mu_);
  Family& f = family(name, help, type, {});
  // Forget the series whose Registrations are gone, so families whose
  // callbacks come and go (one per connection, say) stay small.
  std::erase_if(f.series, [](const auto& entry) {
    const auto& cb = entry.second.callback;
    if (!cb) return false;
    std::lock_guard slot_lock(cb->mu);
    return cb->fn == nullptr;
  });
  auto& s = f.series[render_labels(std::move(labels), false)];
  BETCORE_ASSERT_MSG(!s.counter && !s.gauge, "series already registered without a callback");
  BETCORE_ASSERT_MSG(!s.callback, "callback series registered twice");
  s.callback = slot;
  return Registration(std::move(slot));
}

std::string Registry::expose() const {
  std::string out;
  expose_to(out);
  return out;
}

void Registry::expose_to(std::string& out) const {
  static constexpr std::string_view kTypeNames[] = {"counter", "gauge", "histogram"};
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) {
    const Family& f = *family;
    bool header_done = false;
    for (const auto& [labels, s] : f.series) {
      double callback_value = 0;
      if (s.callback) {
        std::lock_guard slot_lock(s.callback->mu);
        if (s.callback->fn == nullptr) continue;  // its Registration is gone
        callback_value = s.callback->fn();
      }
      if (!header_done) {
        // HELP and TYPE once per family, before its first sample.
        out += "# HELP ";
        out += f.name;
        out += ' ';
        append_help(out, f.help);
        out += "\n# TYPE ";
        out += f.name;
        out += ' ';
        out += kTypeNames[static_cast<int>(f.type)];
        out += '\n';
        header_done = true;
      }
      if (s.histogram) {
        const Histogram::Snapshot snap = s.histogram->snapshot();
        for (size_t i = 0; i < snap.cumulative_counts.size(); ++i) {
          out += f.name;
          out += "_bucket{";
          out += labels;
          if (!labels.empty()) out += ',';
          out += "le=\"";
          out += f.le_text[i];
          out += "\"} ";
          append_uint(out, snap.cumulative_counts[i]);
          out += '\n';
        }
        append_series_name(out, f.name, "_sum", labels);
        out += ' ';
        append_value(out, snap.sum);
        out += '\n';
        append_series_name(out, f.name, "_count", labels);
        out += ' ';
        append_uint(out, snap.count);
        out += '\n';
        continue;
      }
      append_series_name(out, f.name, "", labels);
      out += ' ';
      if (s.counter) {
        append_uint(out, s.counter->value());
      } else if (s.gauge) {
        append_value(out, s.gauge->value());
      } else {
        append_value(out, callback_value);
      }
      out += '\n';
    }
  }
}

std::optional<double> sample_value(std::string_view text, std::string_view name,
                                   const std::vector<std::string>& labels) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(name) || line.size() <= name.size()) continue;
    if (line[name.size()] != ' ' && line[name.size()] != '{') continue;
    bool all = true;
    for (const std::string& l : labels) all = all && line.find(l) != std::string_view::npos;
    if (!all) continue;
    return std::stod(std::string(line.substr(line.rfind(' ') + 1)));
  }
  return std::nullopt;
}

}  // namespace betcore::ops
