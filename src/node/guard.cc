// The guard (guard.h): signals, models, incidents and the two actions.
#include "node/guard.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>

#include "node/guard_internal.h"
#include "node/incident_report.h"
#include "ops/wall_clock.h"

namespace betcore::node {
namespace {


struct SignalSpec {
  const char* name;
  const char* unit;  // how values read: "s", "/s", "ratio", "positions"
  double spread_min;
  double spread_min_ratio;
  const char* runbook;
  const char* recommendation;
};

// What each signal means, and what a person should do when it is out of band.
const SignalSpec kSpecs[] = {
    {"bet_rate", "/s", 20, 0.8, "docs/runbooks/slo-burn.md#betcoreoverloaded",
     "A surge (a big match) passes by itself; a drop to zero means bets cannot reach this node: "
     "check HAProxy, the clients and the feed (stale feeds close markets)."},
    {"refusal_ratio", "ratio", 0.05, 0.5, "docs/runbooks/slo-burn.md",
     "Bets are refused more than usual: look at betcore_bets_total by outcome (odds_changed: a "
     "fast-moving feed; market_not_open: a stale feed or suspended markets; insufficient_funds: "
     "the payment side)."},
    {"append_latency", "s", 0.002, 1.0, "docs/runbooks/slo-burn.md#betcoreappendslow",
     "The disk (embedded) or the path to etcd (cluster) is slow: check iostat on this host, and "
     "which etcd member leads (move the leadership off a slow one)."},
    {"apply_lag", "positions", 1000, 1.0, "docs/runbooks/node-lost.md",
     "This node applies behind the log: CPU starvation or a slow etcd watch; it answers not ready "
     "when too far behind."},
    {"etcd_round_trip", "s", 0.002, 1.0, "docs/runbooks/etcd-leader-lost.md",
     "The round trip to etcd's leader is slow: a busy or slow-disk leader, or the network; "
     "etcdctl endpoint status shows which member leads."},
};

// The exhaustion signals: their unit, for the texts.
const SignalSpec kExhaustionSpecs[] = {
    {"disk_free", "bytes", 0, 0, "docs/runbooks/disk-full.md", ""},
    {"submit_queue", "commands", 0, 0, "docs/runbooks/slo-burn.md#betcoreoverloaded", ""},
    {"feed_producers_down", "producers", 0, 0, "docs/runbooks/integrations.md#betcorefeedsilent", ""},
    {"etcd_quota", "bytes", 0, 0, "docs/runbooks/disk-full.md", ""},
};

const SignalSpec& spec_of(const std::string& full) {
  // refusal_ratio:<code> is read like refusal_ratio.
  const std::string name = full.substr(0, full.find(':'));
  for (const SignalSpec& s : kExhaustionSpecs) {
    if (name == s.name) return s;
  }
  for (const SignalSpec& s : kSpecs) {
    if (name == s.name) return s;
  }
  return kSpecs[0];
}

// What a person should do about a slow node the guard does not drain.
std::string rotation_advice(bool peers_fast, bool can_drain) {
  if (!peers_fast) {
    return "recommend: look at this node's disk and its path to etcd (no ready peer is clearly "
           "faster, or there is none: draining it would not help)";
  }
  return std::string(
             "recommend: take this node out of the load balancer (its peers are at most half as "
             "slow) and look at its disk and its path to etcd") +
         (can_drain ? "" : " (the guard drains only through HAProxy's agent check: --agent-listen)");
}

}  // namespace

Guard::Guard(GuardOptions options, std::string node_id, GuardActuator& actuator,
             ops::Registry& metrics)
    : o_(std::move(options)),
      node_id_(std::move(node_id)),
      actuator_(actuator),
      disk_trend_(1'800),
      queue_trend_(30),
      etcd_trend_(3'600),
      commit_rate_(ops::EwmaBand::Options{0.2, 4, 0, 0, 1}),
      daily_(ops::HoltWinters(ops::HoltWinters::Options{1440, 0.3, 0.01, 0.2, 4, 20, 1.0}), 3, 3,
             120),
      started_s_(ops::wall_ms() / 1000),
      raised_total_(&metrics.counter("betcore_guard_anomalies_total",
                                     "Anomalies and exhaustion warnings the guard raised")) {
  for (const char* a :
       {"admission_tighten", "admission_relax", "rotation_out", "rotation_in", "leader_move",
        "leave_member", "disk_prune",
        "feed_suspended",
        "recommend"}) {
    actions_[a] =
        &metrics.counter("betcore_guard_actions_total",
                         "Actions the guard took (recommend: it only advised)", {{"action", a}});
  }
  callbacks_.push_back(
      metrics.gauge_callback("betcore_guard_open_incidents", "Incidents the guard has open now", {},
                             [this] { return static_cast<double>(open_incidents()); }));
}

Guard::~Guard() { stop(); }

void Guard::start(Sampler sampler) {
  thread_ = std::thread([this, sampler = std::move(sampler)] {
    std::unique_lock lock(run_mu_);
    while (!stopping_) {
      run_cv_.wait_for(lock, std::chrono::milliseconds(o_.sample_ms), [&] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      step(sampler());
      lock.lock();
    }
  });
}

void Guard::stop() {
  {
    std::lock_guard lock(run_mu_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Guard::Signal& Guard::signal(const std::string& name) {
  auto it = signals_.find(name);
  if (it != signals_.end()) return *it->second;
  const SignalSpec& spec = spec_of(name);
  ops::EwmaBand::Options bo;
  bo.alpha = 0.05;
  bo.k = 4;
  bo.spread_min = spec.spread_min;
  bo.spread_min_ratio = spec.spread_min_ratio;
  bo.warmup_samples = o_.warmup_samples;
  // A change that lasts 10 minutes is the new normal.
  const size_t relearn = static_cast<size_t>(std::max(1, 600'000 / std::max(1, o_.sample_ms)));
  auto sig = std::make_unique<Signal>(
      Signal{name,
             ops::Detector<ops::EwmaBand>(ops::EwmaBand(bo), o_.raise_after_samples,
                                          o_.clear_after_samples, relearn),
             "", NAN, std::nullopt, 0, false});
  return *signals_.emplace(name, std::move(sig)).first->second;
}

void Guard::step(const GuardSample& s) {
  if (!last_ || s.at_ms <= last_->at_ms) {
    last_ = s;
    return;
  }
  const GuardSample& p = *last_;
  const double dt = static_cast<double>(s.at_ms - p.at_ms) / 1000.0;
  const double accepted = delta(s.bets_accepted_total, p.bets_accepted_total);
  const double refused = delta(s.bets_refused_total, p.bets_refused_total);
  judge("bet_rate", accepted / dt, s.at_ms);
  if (accepted + refused >= 10) {
    judge("refusal_ratio", refused / (accepted + refused), s.at_ms);
    // By reason: a code that appears or grows shows even when the others
    // shrink (a stale feed's market_not_open while odds_changed falls).
    // Every sample lists every code in the same order.
    const auto& now = s.bets_refused_by_reason;
    const auto& then = p.bets_refused_by_reason;
    for (size_t k = 0; k < now.size(); ++k) {
      const double before = k < then.size() && then[k].first == now[k].first ? then[k].second : 0;
      judge("refusal_ratio:" + now[k].first, (now[k].second - before) / (accepted + refused), s.at_ms);
    }
  }
  const double appends = delta(s.append_count, p.append_count);
  if (appends > 0) {
    const double mean = delta(s.append_sum_s, p.append_sum_s) / appends;
    recent_append_s_.store(mean);
    judge("append_latency", mean, s.at_ms);
  }
  judge("apply_lag", std::max(0.0, s.head - s.applied), s.at_ms);
  const double trips = delta(s.etcd_round_trip_count, p.etcd_round_trip_count);
  double round_trip = NAN;
  if (trips > 0) {
    round_trip = delta(s.etcd_round_trip_sum_s, p.etcd_round_trip_sum_s) / trips;
    judge("etcd_round_trip", round_trip, s.at_ms);
  }
  // This node's own commit rate (in a cluster every replica applies every
  // node's commands; its queue drains at its own appends' pace).
  const double commit_rate = delta(s.commands_appended_total, p.commands_appended_total) / dt;
  if (std::isfinite(commit_rate)) commit_rate_.learn(commit_rate);

  learn_daily(s.at_ms, accepted);
  predict(s);
  feed(s);
  expire_silent(s.at_ms);
  admission(s, commit_rate_.band() ? commit_rate_.band()->expected : commit_rate, s.at_ms);
  rotation(round_trip, s.at_ms);
  leadership(s.at_ms);
  last_ = s;
}

void Guard::learn_daily(int64_t at_ms, double accepted) {
  // The daily shape: bets per second over each wall-clock minute.
  const int64_t minute = at_ms / 60'000;
  if (minute_ == 0) minute_ = minute;
  if (minute != minute_) {
    const double per_s = minute_bets_ / 60.0;
    // A minute the node missed (down, or a gap in sampling) is skipped in
    // the season too, so it stays in phase with the clock.
    for (int64_t m = minute_ + 1; m < minute && m < minute_ + 1440; ++m) daily_.observe(NAN);
    ops::Verdict v = daily_.observe(per_s);
    if (v.change == ops::Verdict::Change::raised) {
      spdlog::warn(
          "guard: the bet rate ({:.0f}/s over the last minute) is outside its usual range "
          "for this time of day ({:.0f}..{:.0f}/s)",
          per_s, v.band->low, v.band->high);
      raised_total_->inc();
    }
    minute_bets_ = 0;
    minute_ = minute;
  }
  if (std::isfinite(accepted)) minute_bets_ += accepted;
}

void Guard::expire_silent(int64_t at_ms) {
  // An anomaly whose signal has had no data for a while (no traffic, no
  // appends) cannot be judged: it closes, saying so, rather than stay open.
  const int64_t silence_ms = 3 * static_cast<int64_t>(o_.clear_after_samples) * o_.sample_ms;
  for (auto& [name, sig] : signals_) {
    if (sig->incident_id.empty() || sig->judged_ms == 0 || at_ms - sig->judged_ms < silence_ms)
      continue;
    if (name == "append_latency" && out_since_ms_ != 0) continue;  // drained: rotation() decides
    note(*sig, at_ms,
         fmt::format("no data for {:.0f} s (no traffic?): cannot judge it any more",
                     static_cast<double>(at_ms - sig->judged_ms) / 1000));
    sig->detector.reset_episode();
    close_incident(*sig, at_ms);
  }
}

void Guard::judge(const std::string& name, double value, int64_t at_ms) {
  if (!std::isfinite(value)) return;
  Signal& sig = signal(name);
  ops::Verdict v = sig.detector.observe(value);
  sig.judged_ms = at_ms;
  sig.last = value;
  sig.last_band = v.band;
  if (v.change == ops::Verdict::Change::raised) open_incident(sig, value, v, at_ms);
  {
    std::lock_guard lock(mu_);
    if (Incident* i = incident_of(sig)) {
      if (std::abs(value - i->expected) > std::abs(i->worst - i->expected)) i->worst = value;
      if (i->series.size() < kSeriesMax) i->series.emplace_back(at_ms, value);
    }
  }
  if (v.change == ops::Verdict::Change::cleared) close_incident(sig, at_ms);
}

Incident* Guard::incident_of(Signal& sig) {
  if (sig.incident_id.empty()) return nullptr;
  for (auto it = incidents_.rbegin(); it != incidents_.rend(); ++it) {
    if (it->id == sig.incident_id) return &*it;
  }
  return nullptr;
}

void Guard::open_incident(Signal& sig, double value, const ops::Verdict& v, int64_t at_ms) {
  const SignalSpec& spec = spec_of(sig.name);
  Incident i;
  i.signal = sig.name;
  i.kind = "anomaly";
  i.severity = "warning";
  i.started_ms = at_ms;
  i.value = i.worst = value;
  i.expected = v.band->expected;
  i.expected_low = v.band->low;
  i.expected_high = v.band->high;
  i.seen = fmt::format(
      "{} {}: {}, usual range {}..{} (about {}), out of it for {} samples in a row", node_id_,
      sig.name, show(value, spec.unit), show(v.band->low, spec.unit), show(v.band->high, spec.unit),
      show(v.band->expected, spec.unit), o_.raise_after_samples);
  i.recommendation = spec.recommendation;
  i.runbook = spec.runbook;
  i.timeline.push_back({at_ms, "detected: " + i.seen});
  i.series.emplace_back(at_ms, value);
  spdlog::warn("guard: anomaly: {} (runbook {})", i.seen, i.runbook);
  raised_total_->inc();
  file_incident(sig, i);
}

void Guard::file_incident(Signal& sig, Incident& i) {
  sig.advised = false;
  sig.leader_advised = false;
  sig.members_noted = false;
  sig.own_stall_noted = false;
  {
    std::lock_guard lock(mu_);
    i.id = fmt::format("{}-{}-{}", node_id_, started_s_, next_id_++);
    sig.incident_id = i.id;
    incidents_.push_back(i);
    while (incidents_.size() > o_.incidents_max) incidents_.pop_front();
  }
  report(i);
}

void Guard::close_incident(Signal& sig, int64_t at_ms) {
  Incident copy;
  {
    std::lock_guard lock(mu_);
    Incident* i = incident_of(sig);
    sig.incident_id.clear();
    if (i == nullptr) return;
    i->ended_ms = at_ms;
    i->timeline.push_back({at_ms, fmt::format("back in its usual range ({})",
                                              show(sig.last, spec_of(sig.name).unit))});
    copy = *i;
  }
  spdlog::info("guard: {} {} is back in its usual range; incident {} closed", node_id_, sig.name,
               copy.id);
  persist(copy);
}

void Guard::record_action(Signal& sig, int64_t at_ms, const std::string& action,
                          const std::string& effect, std::string what) {
  {
    std::lock_guard lock(mu_);
    if (Incident* i = incident_of(sig)) {
      i->action = action;
      i->action_effect = effect;
    }
  }
  note(sig, at_ms, std::move(what));  // rewrites the report with the action in it
}

void Guard::note(Signal& sig, int64_t at_ms, std::string what) {
  std::optional<Incident> copy;
  {
    std::lock_guard lock(mu_);
    if (Incident* i = incident_of(sig); i != nullptr && i->timeline.size() < kTimelineMax) {
      i->timeline.push_back({at_ms, std::move(what)});
      copy = *i;
    }
  }
  if (copy) report(*copy);
}

void Guard::admission(const GuardSample& s, double commit_rate, int64_t at_ms) {
  Signal& bets = signal("bet_rate");
  const bool surge =
      bets.detector.anomalous() && bets.last_band && bets.last > bets.last_band->expected;
  const size_t configured = actuator_.queue_limit_configured();
  const double rate = std::max(commit_rate, 1.0);
  const double wait_s = s.queued / rate;
  if (at_ms - last_admission_ms_ < o_.action_gap_ms) return;
  if (surge && tightened_to_ == 0 && wait_s > o_.bet_latency_slo_s) {
    // Never below the floor: a feed batch (256 changes) or a settlement
    // must still fit in an empty queue.
    const double floor = static_cast<double>(std::min(o_.queue_floor, configured));
    const auto target = static_cast<size_t>(std::max(rate * o_.bet_latency_slo_s, floor));
    if (target >= configured) return;
    const std::string what = fmt::format(
        "admission: submit queue bound {} -> {} ({:.0f} commands/s committed x {:.0f} ms SLO, at "
        "least {}); the queue wait was {:.0f} ms; requests beyond it get 429 and retry",
        configured, target, rate, o_.bet_latency_slo_s * 1000, o_.queue_floor, wait_s * 1000);
    last_admission_ms_ = at_ms;
    if (!o_.remediate) {
      if (!bets.advised) {  // once per incident, not every action_gap_ms
        bets.advised = true;
        actions_["recommend"]->inc();
        note(bets, at_ms, "recommend (remediation off): tighten " + what);
      }
      return;
    }
    actuator_.set_queue_limit(target);
    tightened_to_ = target;
    actions_["admission_tighten"]->inc();
    spdlog::warn("guard: tightened {}", what);
    record_action(bets, at_ms, "tightened admission", what, "action: tightened " + what);
    return;
  }
  if (tightened_to_ != 0 && !surge) {
    actuator_.set_queue_limit(configured);
    last_admission_ms_ = at_ms;
    tightened_to_ = 0;
    actions_["admission_relax"]->inc();
    spdlog::info("guard: the surge is over: submit queue bound back to {}", configured);
    std::optional<Incident> changed;
    {
      std::lock_guard lock(mu_);
      for (auto it = incidents_.rbegin(); it != incidents_.rend(); ++it) {
        if (it->signal == "bet_rate" && it->action == "tightened admission") {
          it->timeline.push_back(
              {at_ms, fmt::format("action reverted: submit queue bound back to {}", configured)});
          it->action_effect +=
              fmt::format("; relaxed back to {} at {}", configured, ops::utc_text(at_ms));
          changed = *it;
          break;
        }
      }
    }
    if (changed) report(*changed);
  }
}

void Guard::rotation(double round_trip_s, int64_t at_ms) {
  Signal& append = signal("append_latency");
  if (out_since_ms_ == 0) {
    if (!append.detector.anomalous() || !append.last_band) return;
    const bool far =
        append.last >= o_.far_factor * append.last_band->expected && append.last >= o_.far_floor_s;
    if (!far || at_ms - last_rotation_ms_ < o_.action_gap_ms) return;
    // Only peers' records written since this anomaly began count (a
    // cluster-wide slowdown shows in theirs too, once written: they publish
    // every second); until they have had 2 s to, no decision.
    int64_t since_ms = at_ms;
    {
      std::lock_guard lock(mu_);
      if (Incident* i = incident_of(append)) since_ms = i->started_ms;
    }
    const bool peers_fast = actuator_.peers_can_take_traffic(append.last, since_ms);
    if (!peers_fast && at_ms < since_ms + 2'000) return;
    last_rotation_ms_ = at_ms;
    while (!rotations_.empty() && at_ms - rotations_.front() > 3'600'000) rotations_.pop_front();
    const std::string reason = fmt::format(
        "guard: append latency {} is far above its usual {}; out of the load balancer until it "
        "recovers (docs/runbooks/slo-burn.md#betcoreappendslow)",
        show(append.last, "s"), show(append.last_band->expected, "s"));
    const bool gentle = actuator_.drains_gently();
    const bool allowed = o_.remediate && o_.drain && peers_fast && (gentle || o_.drain_by_readiness) &&
                         static_cast<int>(rotations_.size()) < o_.rotations_per_hour_max;
    if (!allowed) {
      if (!append.advised) {
        append.advised = true;
        actions_["recommend"]->inc();
        note(append, at_ms, rotation_advice(peers_fast, gentle || o_.drain_by_readiness));
      }
      return;
    }
    rotations_.push_back(at_ms);
    actuator_.set_out_of_rotation(reason);
    out_since_ms_ = at_ms;
    actions_["rotation_out"]->inc();
    spdlog::warn("{}", reason);
    record_action(append, at_ms, "out of rotation",
                  "HAProxy stopped sending this node requests; its peers took them",
                  gentle ? "action: out of rotation (HAProxy's agent check says drain: no new requests; "
                           "those in flight and open streams finish)"
                         : "action: out of rotation (/health/ready answers 503; HAProxy marks it down)");
    return;
  }
  // Out: back when the path to etcd is in band again (its detector clear)
  // and it has been out for clear_after samples, or after the longest hold
  // (then the next anomaly, if any, decides again; at most
  // rotations_per_hour_max times an hour).
  Signal& rt = signal("etcd_round_trip");
  const bool rt_ok = std::isfinite(round_trip_s) && rt.last_band &&
                     rt.last_band->contains(round_trip_s) && !rt.detector.anomalous();
  const int64_t out_for = at_ms - out_since_ms_;
  const int64_t settle_ms =
      std::max(static_cast<int64_t>(o_.clear_after_samples) * o_.sample_ms, o_.rotation_hold_min_ms);
  if ((rt_ok && out_for >= settle_ms) || out_for >= o_.rotation_hold_max_ms) {
    actuator_.set_out_of_rotation("");
    out_since_ms_ = 0;
    last_rotation_ms_ = at_ms;
    actions_["rotation_in"]->inc();
    append.detector.reset_episode();
    const std::string why =
        rt_ok ? "its round trip to etcd is back in band" : "the longest hold passed";
    spdlog::info("guard: back in rotation: {}", why);
    {
      std::lock_guard lock(mu_);
      if (Incident* i = incident_of(append)) {
        i->timeline.push_back({at_ms, "action reverted: back in rotation (" + why + ")"});
        i->action_effect += "; back in at " + ops::utc_text(at_ms);
      }
    }
    // Its latency cannot be judged while it had no traffic: the episode ends
    // here; a slow path that persists raises a new one.
    close_incident(append, at_ms);
  }
}

void Guard::report(const Incident& i) const {
  if (o_.reports_dir.empty()) return;
  std::string error;
  if (!write_incident_report(o_.reports_dir, i, error))
    spdlog::warn("guard: incident report: {}", error);
}

void Guard::persist(const Incident& i) const {
  report(i);
  if (o_.incidents_path.empty()) return;
  std::ofstream out(o_.incidents_path, std::ios::app);
  out << incident_json(i) << '\n';
  if (!out) spdlog::warn("guard: could not append incident {} to {}", i.id, o_.incidents_path);
}

std::vector<Incident> Guard::incidents(size_t max) const {
  std::lock_guard lock(mu_);
  std::vector<Incident> out;
  for (auto it = incidents_.rbegin(); it != incidents_.rend() && out.size() < max; ++it)
    out.push_back(*it);
  return out;
}

size_t Guard::open_incidents() const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(std::count_if(incidents_.begin(), incidents_.end(),
                                           [](const Incident& i) { return i.ended_ms == 0; }));
}

}  // namespace betcore::node
