// The models of anomaly.h.
#include "ops/anomaly.h"

#include <algorithm>
#include <cmath>

namespace betcore::ops {
namespace {

Band band_around(double expected, double half_width, double spread_min, double spread_min_ratio) {
  const double w = std::max({half_width, spread_min, spread_min_ratio * std::abs(expected)});
  return Band{expected, expected - w, expected + w};
}

}  // namespace

// ---- EwmaBand ----------------------------------------------------------------

std::optional<Band> EwmaBand::band() const {
  if (n_ < o_.warmup_samples || n_ == 0) return std::nullopt;
  return band_around(mean_, o_.k * std::sqrt(var_), o_.spread_min, o_.spread_min_ratio);
}

void EwmaBand::learn(double x) {
  if (!std::isfinite(x)) return;
  ++n_;
  if (n_ == 1) {
    mean_ = x;
    var_ = 0;
    return;
  }
  // During the warm-up a plain running mean (alpha = 1/n) so the first
  // samples do not weigh as the first one alone; then the EWMA.
  const double a = std::max(o_.alpha, 1.0 / static_cast<double>(n_));
  const double d = x - mean_;
  mean_ += a * d;
  var_ = (1 - a) * (var_ + a * d * d);  // West's incremental EW variance
}

// ---- HoltWinters ------------------------------------------------------------

HoltWinters::HoltWinters(Options o) : o_(o), season_(std::max<size_t>(o.season, 1), 0.0) {}

double HoltWinters::forecast() const { return level_ + trend_ + season_[n_ % season_.size()]; }

std::optional<Band> HoltWinters::band() const {
  // The first season learns the shape, the second the size of its errors.
  if (n_ < 2 * season_.size()) return std::nullopt;
  return band_around(forecast(), o_.k * mae_, o_.spread_min, o_.spread_min_ratio);
}

void HoltWinters::learn(double x) {
  if (!std::isfinite(x)) return;
  const size_t m = season_.size();
  const size_t i = n_ % m;
  if (n_ < m) {
    // The first season: the shape itself, as offsets from its running mean.
    season_[i] = x;
    level_ += (x - level_) / static_cast<double>(n_ + 1);
    if (n_ + 1 == m) {
      for (double& s : season_) s -= level_;
    }
    ++n_;
    return;
  }
  const double f = forecast();
  mae_ = n_ == m ? std::abs(x - f) : mae_ + 0.05 * (std::abs(x - f) - mae_);
  const double previous_level = level_;
  level_ = o_.alpha * (x - season_[i]) + (1 - o_.alpha) * (level_ + trend_);
  trend_ = o_.beta * (level_ - previous_level) + (1 - o_.beta) * trend_;
  season_[i] = o_.gamma * (x - level_) + (1 - o_.gamma) * season_[i];
  ++n_;
}

void HoltWinters::skip() {
  if (n_ < season_.size()) {
    ++n_;  // the shape is still being learned: keep its slot empty (0)
    return;
  }
  // Learn the forecast: the level, trend and season stay as they were
  // expected to be, and the phase advances.
  const double f = forecast();
  const double mae = mae_;
  learn(f);
  mae_ = mae;
}

// ---- Trend ------------------------------------------------------------------

void Trend::add(double t, double value) {
  if (!std::isfinite(t) || !std::isfinite(value)) return;
  points_.emplace_back(t, value);
  while (points_.size() > points_max_ || t - points_.front().first > window_t_) points_.pop_front();
}

std::optional<double> Trend::slope() const {
  if (points_.size() < 3) return std::nullopt;
  double st = 0, sv = 0;
  for (const auto& [t, v] : points_) {
    st += t;
    sv += v;
  }
  const double n = static_cast<double>(points_.size());
  const double mt = st / n, mv = sv / n;
  double num = 0, den = 0;
  for (const auto& [t, v] : points_) {
    num += (t - mt) * (v - mv);
    den += (t - mt) * (t - mt);
  }
  if (den == 0) return std::nullopt;
  return num / den;
}

std::optional<double> Trend::time_to(double limit) const {
  auto s = slope();
  if (!s || *s == 0) return std::nullopt;
  const double last = points_.back().second;
  const double dt = (limit - last) / *s;
  if (dt < 0) return std::nullopt;  // moving away from it
  return dt;
}

}  // namespace betcore::ops
