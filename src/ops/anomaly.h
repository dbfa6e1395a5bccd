// Anomaly detection on one signal at a time, with models an on-call engineer
// can check by hand:
//
//   EwmaBand     exponentially weighted mean and variance; the expected range
//                is mean ± k standard deviations (with a floor on the spread,
//                so a perfectly flat signal does not alarm on its first
//                wiggle). For signals without a daily shape: latencies, lag,
//                round trips, refusal ratios.
//   HoltWinters  additive level + trend + season (Holt-Winters): for signals
//                with a daily shape (bet rate: quiet at night, busy at
//                kick-off). The band is the forecast ± k times the EWMA of
//                the absolute forecast error.
//   Trend        least-squares slope over a sliding window: when a resource
//                (free disk, etcd quota, queue room) runs out at this rate.
//   Detector     a model plus hysteresis: an anomaly is raised only after
//                `raise_after` samples in a row out of band, and cleared after
//                `clear_after` in band, so one outlier raises nothing. While
//                a signal is out of band the model does not learn from it:
//                the anomaly must not become the new normal, unless it
//                lasts `relearn_after` samples (then it is the new normal,
//                learned as it comes).
//
// Pure: no clock, no threads, no I/O. Times are whatever the caller feeds
// (seconds). Thread: one owner.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace betcore::ops {

// An expected range for the next sample.
struct Band {
  double expected = 0;  // the model's forecast
  double low = 0;
  double high = 0;
  bool contains(double x) const { return x >= low && x <= high; }
};

class EwmaBand {
 public:
  struct Options {
    double alpha = 0.05;          // weight of a new sample (0.05: ~20-sample memory)
    double k = 4;                 // band half-width in standard deviations
    double spread_min = 0;        // the band is at least expected ± spread_min
    double spread_min_ratio = 0;  // ... and at least expected ± ratio·|expected|
    size_t warmup_samples = 30;   // no band before this many samples
  };
  explicit EwmaBand(Options o) : o_(o) {}

  // The band for the next sample; nullopt while warming up.
  std::optional<Band> band() const;
  void learn(double x);
  void skip() {}  // a sample not learned: nothing to keep in step with
  size_t samples() const { return n_; }

 private:
  Options o_;
  size_t n_ = 0;
  double mean_ = 0;
  double var_ = 0;
};

class HoltWinters {
 public:
  struct Options {
    size_t season = 1440;  // samples per season (1440: a day of minutes)
    double alpha = 0.3;    // level
    double beta = 0.01;    // trend
    double gamma = 0.2;    // season
    double k = 4;          // band half-width in mean absolute errors
    double spread_min = 0;
    double spread_min_ratio = 0;
  };
  explicit HoltWinters(Options o);

  // The band for the next sample; nullopt during the first two seasons (the
  // shape, then the size of the forecast's errors).
  std::optional<Band> band() const;
  void learn(double x);
  // A sample not learned (out of band): the season still moves on one step,
  // learning its own forecast, so the daily shape stays in phase.
  void skip();
  size_t samples() const { return n_; }

 private:
  double forecast() const;

  Options o_;
  size_t n_ = 0;
  double level_ = 0;
  double trend_ = 0;
  double mae_ = 0;
  std::vector<double> season_;  // additive offsets, one per position in the season
};

// Least squares over the samples of (t, value) of the last `window_t` (at
// most `points_max` of them).
class Trend {
 public:
  explicit Trend(double window_t, size_t points_max = 4096)
      : window_t_(window_t), points_max_(points_max) {}
  void add(double t, double value);
  // The time the samples cover (0 with fewer than two): a prediction from a
  // few seconds of a signal that moves in bursts is noise.
  double span() const {
    return points_.size() < 2 ? 0 : points_.back().first - points_.front().first;
  }
  // Units of value per unit of t; nullopt with fewer than 3 samples.
  std::optional<double> slope() const;
  // Time from the last sample until the fitted line reaches `limit` (it must
  // be moving towards it); nullopt if it never does at this rate.
  std::optional<double> time_to(double limit) const;
  size_t samples() const { return points_.size(); }

 private:
  double window_t_;
  size_t points_max_;
  std::deque<std::pair<double, double>> points_;
};

// What a detector saw at one sample.
struct Verdict {
  enum class Change { none, raised, cleared };
  Change change = Change::none;
  bool anomalous = false;    // raised and not yet cleared
  bool out_of_band = false;  // this sample
  std::optional<Band> band;  // the range it was judged against
};

// One signal's model with hysteresis. Model: EwmaBand or HoltWinters.
template <class Model>
class Detector {
 public:
  Detector(Model model, size_t raise_after, size_t clear_after, size_t relearn_after = 0)
      : model_(std::move(model)),
        raise_after_(raise_after),
        clear_after_(clear_after),
        relearn_after_(relearn_after) {}

  // A missing sample (NaN) judges nothing; the model keeps its phase.
  Verdict observe(double x) {
    Verdict v;
    v.band = model_.band();
    v.anomalous = anomalous_;
    if (!std::isfinite(x)) {
      model_.skip();
      return v;
    }
    v.out_of_band = v.band.has_value() && !v.band->contains(x);
    if (v.out_of_band) {
      in_band_run_ = 0;
      ++anomalous_run_;
      if (++out_run_ >= raise_after_ && !anomalous_) {
        anomalous_ = true;
        v.change = Verdict::Change::raised;
      }
    } else {
      out_run_ = 0;
      if (anomalous_ && ++in_band_run_ >= clear_after_) {
        anomalous_ = false;
        anomalous_run_ = 0;
        v.change = Verdict::Change::cleared;
      }
    }
    if (!anomalous_ && !v.out_of_band) anomalous_run_ = 0;
    // The model learns only the normal: no out-of-band sample and nothing
    // while an anomaly stands, unless it has stood so long it is the normal.
    const bool relearn = relearn_after_ > 0 && anomalous_run_ >= relearn_after_;
    if ((!v.out_of_band && !anomalous_) || relearn) {
      model_.learn(x);
    } else {
      model_.skip();
    }
    v.anomalous = anomalous_;
    return v;
  }
  // Forget the current episode (the model keeps what it learned).
  void reset_episode() {
    anomalous_ = false;
    out_run_ = in_band_run_ = anomalous_run_ = 0;
  }
  const Model& model() const { return model_; }
  bool anomalous() const { return anomalous_; }

 private:
  Model model_;
  size_t raise_after_;
  size_t clear_after_;
  size_t relearn_after_;
  bool anomalous_ = false;
  size_t anomalous_run_ = 0;  // out-of-band samples since the episode began
  size_t out_run_ = 0;
  size_t in_band_run_ = 0;
};

}  // namespace betcore::ops
