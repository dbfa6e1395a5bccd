#include "tools/bench_probe.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "tools/http_client.h"

namespace betcore::tools {
namespace {

constexpr std::string_view kFamily = "betcore_request_stage_seconds";

// The value of label `name` in a series' label text (`{a="x",b="y"}`), or
// "" (also for a value with an escape: no stage or bound has one).
std::string_view label(std::string_view labels, std::string_view name) {
  const std::string key = std::string(name) + "=\"";
  for (size_t at = labels.find(key); at != std::string_view::npos; at = labels.find(key, at + 1)) {
    if (at == 0 || (labels[at - 1] != '{' && labels[at - 1] != ',')) continue;  // not `substage=`
    const size_t from = at + key.size();
    const size_t to = labels.find('"', from);
    if (to == std::string_view::npos) return {};
    const std::string_view value = labels.substr(from, to - from);
    return value.find('\\') == std::string_view::npos ? value : std::string_view{};
  }
  return {};
}

double number(std::string_view text) {
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  return std::strtod(std::string(text).c_str(), nullptr);
}

// The value below which `q` of the observations fall, interpolated linearly
// inside its bucket (the +Inf bucket answers its lower bound).
double quantile(const StageCounts& c, double q) {
  if (c.count == 0 || c.cumulative.empty()) return 0;
  const double target = q * static_cast<double>(c.count);
  for (size_t i = 0; i < c.cumulative.size(); ++i) {
    if (static_cast<double>(c.cumulative[i]) < target) continue;
    const double lower = i == 0 ? 0 : c.bounds[i - 1];
    if (!std::isfinite(c.bounds[i])) return lower;
    const double below = i == 0 ? 0 : static_cast<double>(c.cumulative[i - 1]);
    const double in = static_cast<double>(c.cumulative[i]) - below;
    return in <= 0 ? c.bounds[i] : lower + (c.bounds[i] - lower) * (target - below) / in;
  }
  return c.bounds.empty() ? 0 : c.bounds.back();
}

}  // namespace

void add_stage_samples(std::string_view text, StageSnapshot& into) {
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (line.rfind(kFamily, 0) != 0) continue;
    const std::string_view rest = line.substr(kFamily.size());
    const size_t open = rest.find('{'), close = rest.find('}');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) continue;
    const std::string_view suffix = rest.substr(0, open);
    const std::string_view labels = rest.substr(open, close - open + 1);
    const std::string_view value = rest.substr(close + 1);
    const std::string stage(label(labels, "stage"));
    const size_t value_at = value.find_first_not_of(' ');
    if (stage.empty() || value_at == std::string_view::npos) continue;
    if (suffix != "_sum" && suffix != "_count" && suffix != "_bucket") continue;
    StageCounts& c = into[stage];
    const double v = number(value.substr(value_at, value.find(' ', value_at) - value_at));
    if (suffix == "_sum") {
      c.sum += v;
    } else if (suffix == "_count") {
      c.count += static_cast<uint64_t>(v);
    } else if (const std::string_view le_text = label(labels, "le"); !le_text.empty()) {
      const double le = number(le_text);
      size_t i = 0;
      while (i < c.bounds.size() && c.bounds[i] != le) ++i;
      if (i == c.bounds.size()) {
        c.bounds.push_back(le);
        c.cumulative.push_back(0);
      }
      c.cumulative[i] += static_cast<uint64_t>(v);
    }
  }
}

bool stage_window(const StageSnapshot& before, const StageSnapshot& after, StageSnapshot& out) {
  bool whole = true;
  for (const auto& [stage, a] : after) {
    StageCounts d = a;
    if (auto it = before.find(stage); it != before.end()) {
      const StageCounts& b = it->second;
      if (b.bounds != a.bounds || b.count > a.count || b.sum > a.sum) {
        whole = false;  // a restart in between, or another build's buckets
        continue;
      }
      d.sum -= b.sum;
      d.count -= b.count;
      for (size_t i = 0; i < d.cumulative.size(); ++i) d.cumulative[i] -= std::min(d.cumulative[i], b.cumulative[i]);
    }
    StageCounts& o = out[stage];
    if (o.bounds.empty()) {
      o = d;
    } else if (o.bounds == d.bounds) {
      o.sum += d.sum;
      o.count += d.count;
      for (size_t i = 0; i < o.cumulative.size(); ++i) o.cumulative[i] += d.cumulative[i];
    } else {
      whole = false;
    }
  }
  return whole;
}

std::map<std::string, StageFigures> stage_figures(const StageSnapshot& window) {
  std::map<std::string, StageFigures> out;
  for (const auto& [stage, d] : window) {
    StageFigures f;
    f.count = d.count;
    f.mean_ms = d.count == 0 ? 0 : d.sum / static_cast<double>(d.count) * 1000.0;
    f.p50_ms = quantile(d, 0.50) * 1000.0;
    f.p99_ms = quantile(d, 0.99) * 1000.0;
    out[stage] = f;
  }
  return out;
}

std::optional<double> process_cpu_seconds(int pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Field 2 (the command) may hold spaces: count from the ')' that ends it.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 > stat.size()) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  double utime = -1, stime = -1;
  // Fields 3.. : state is 3, utime 14, stime 15.
  for (int n = 3; n <= 15 && fields >> field; ++n) {
    if (n == 14) utime = std::strtod(field.c_str(), nullptr);
    if (n == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  if (utime < 0 || stime < 0) return std::nullopt;
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

BenchProbe::BenchProbe(std::vector<std::string> metrics_urls, std::vector<std::pair<std::string, int>> processes)
    : urls_(std::move(metrics_urls)), processes_(std::move(processes)), url_failed_(urls_.size(), false) {
  processes_.emplace_back("bench", static_cast<int>(::getpid()));
}

bool BenchProbe::scrape(std::vector<StageSnapshot>& into, std::ostream& err) {
  bool all = true;
  into.assign(urls_.size(), {});
  for (size_t i = 0; i < urls_.size(); ++i) {
    const std::optional<Url> url = parse_url(urls_[i]);
    Response r;
    if (url) {
      HttpClientOptions o;
      o.connect_timeout_ms = 2'000;
      o.request_timeout_ms = 5'000;
      r = HttpClient(*url, o).get(url->path.empty() ? "/metrics" : url->path);
    }
    if (r.ok()) {
      add_stage_samples(r.body, into[i]);
      continue;
    }
    all = false;
    if (!url_failed_[i]) {
      url_failed_[i] = true;
      err << fmt::format("bench: no stage figures from {} ({}): pass each node's metrics URL with --metrics "
                         "(its --ops-listen address when it has one)\n",
                         urls_[i], !url ? "not an http(s) URL" : r.status == 0 ? r.error : fmt::format("HTTP {}", r.status));
    }
  }
  return all;
}

void BenchProbe::open(std::ostream& err) {
  cpu_before_.clear();
  for (const auto& p : processes_) cpu_before_.push_back(process_cpu_seconds(p.second));
  stages_ok_ = scrape(before_, err);
}

void BenchProbe::close(std::ostream& err) {
  cpu_after_.clear();
  for (const auto& p : processes_) cpu_after_.push_back(process_cpu_seconds(p.second));
  stages_ok_ = scrape(after_, err) && stages_ok_;
  window_.clear();
  for (size_t i = 0; stages_ok_ && i < urls_.size(); ++i) {
    if (!stage_window(before_[i], after_[i], window_)) {
      err << fmt::format("bench: no stage figures: the counters of {} went back during the window (did the node "
                         "restart?)\n", urls_[i]);
      stages_ok_ = false;
    }
  }
}

std::map<std::string, StageFigures> BenchProbe::stages() const {
  if (!stages_ok_ || urls_.empty()) return {};
  return stage_figures(window_);
}

std::vector<CpuFigures> BenchProbe::cpu(uint64_t bets) const {
  std::vector<CpuFigures> out;
  for (size_t i = 0; i < processes_.size(); ++i) {
    CpuFigures f;
    f.name = processes_[i].first;
    f.pid = processes_[i].second;
    if (i < cpu_before_.size() && i < cpu_after_.size() && cpu_before_[i] && cpu_after_[i]) {
      f.seconds = *cpu_after_[i] - *cpu_before_[i];
      if (bets > 0) f.per_1k_bets = f.seconds * 1000.0 / static_cast<double>(bets);
    }
    out.push_back(f);
  }
  return out;
}

}  // namespace betcore::tools
