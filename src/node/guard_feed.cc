// The guard's feed incidents (guard.h): a producer gone silent, whose
// markets the state machine has stopped taking bets.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "node/guard.h"
#include "node/guard_internal.h"

namespace betcore::node {

void Guard::feed(const GuardSample& s) {
  if (!std::isfinite(s.producers_down)) return;
  Signal& sig = signal("feed_producers_down");
  if (s.producers_down > 0 && sig.incident_id.empty()) {
    Incident i;
    i.signal = sig.name;
    i.kind = "anomaly";
    i.severity = "critical";
    i.started_ms = s.at_ms;
    i.value = i.worst = s.producers_down;
    i.seen = fmt::format(
        "{}: odds feed producer(s) {} silent past their alive deadline; {} open market(s) they price "
        "take no bets",
        node_id_, s.producers_down_names, s.markets_of_down);
    i.action = "markets suspended";
    i.action_effect = "bets on those markets are refused (market_not_open) until the producer is alive again";
    i.recommendation =
        "Check the feed adapter and the provider (betcore_feed_* on the adapter's /metrics); the "
        "markets take bets again by themselves once the producer's alives resume.";
    i.runbook = "docs/runbooks/integrations.md#betcorefeedsilent";
    i.timeline.push_back({s.at_ms, "detected: " + i.seen});
    i.timeline.push_back({s.at_ms,
                          "action: the state machine stopped those markets taking bets (on every "
                          "replica, at the same log position)"});
    spdlog::warn("guard: {} (runbook {})", i.seen, i.runbook);
    raised_total_->inc();
    actions_["feed_suspended"]->inc();
    file_incident(sig, i);
    return;
  }
  if (!sig.incident_id.empty()) {
    {
      std::lock_guard lock(mu_);
      if (Incident* i = incident_of(sig); i != nullptr) {
        i->worst = std::max(i->worst, s.producers_down);
        if (i->series.size() < kSeriesMax) i->series.emplace_back(s.at_ms, s.producers_down);
      }
    }
    if (s.producers_down == 0) {
      sig.last = 0;
      close_incident(sig, s.at_ms);
    }
  }
}

}  // namespace betcore::node
