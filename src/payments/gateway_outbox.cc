// The gateway's webhook outbox: what to deliver when, and redeliveries.
#include "payments/gateway_outbox.h"

#include <algorithm>

#include "domain/assert.h"

namespace betcore::payments::gateway {

int64_t redelivery_wait_ms(int attempt, tools::SplitMix64& rng) {
  int64_t ceiling =
      std::min<int64_t>(kRedeliveryCapMs, int64_t{kRedeliveryBaseMs} << std::clamp(attempt, 0, 20));
  return std::max<int64_t>(1, rng.between(0, ceiling));
}

void Outbox::queue(Delivery d) {
  BETCORE_ASSERT(d.event_seq >= 1 && d.event_seq <= events_.size());
  queue_.push(d);
}

void Outbox::add(uint64_t seq, std::string body, WebhookFaults faults, int64_t now_mono_ms,
                 tools::SplitMix64& rng) {
  BETCORE_ASSERT(seq == events_.size() + 1);
  events_.push_back(Event{std::move(body), false});
  ++counts_.events;
  auto delay = [&] { return faults.delay_ms_max > 0 ? rng.between(0, faults.delay_ms_max) : 0; };
  queue(Delivery{seq, 0, false, now_mono_ms + delay()});
  if (faults.duplicate_share > 0 && rng.unit() < faults.duplicate_share) {
    queue(Delivery{seq, 0, true, now_mono_ms + delay()});
    ++counts_.extra_deliveries;
  }
}

size_t Outbox::storm(int times, int64_t now_mono_ms) {
  size_t queued = 0;
  for (uint64_t seq = 1; seq <= events_.size(); ++seq) {
    if (events_[seq - 1].acknowledged) continue;
    for (int i = 0; i < times && queue_.size() < kDeliveriesQueuedMax; ++i) {
      queue(Delivery{seq, 0, true, now_mono_ms});
      ++queued;
    }
  }
  counts_.extra_deliveries += queued;
  return queued;
}

std::optional<Delivery> Outbox::take_due(int64_t now_mono_ms, int64_t* next_due_mono_ms) {
  if (!queue_.empty() && queue_.top().due_mono_ms <= now_mono_ms) {
    Delivery d = queue_.top();
    queue_.pop();
    ++counts_.attempts;
    return d;
  }
  if (next_due_mono_ms != nullptr) {
    *next_due_mono_ms = queue_.empty() ? -1 : queue_.top().due_mono_ms;
  }
  return std::nullopt;
}

const std::string& Outbox::body(uint64_t event_seq) const {
  BETCORE_ASSERT(event_seq >= 1 && event_seq <= events_.size());
  return events_[event_seq - 1].body;
}

bool Outbox::acknowledged(uint64_t event_seq) const {
  BETCORE_ASSERT(event_seq >= 1 && event_seq <= events_.size());
  return events_[event_seq - 1].acknowledged;
}

void Outbox::on_result(const Delivery& d, int status, int64_t now_mono_ms, tools::SplitMix64& rng) {
  Event& e = events_.at(d.event_seq - 1);
  if (status >= 200 && status < 300) {
    if (!e.acknowledged) {
      e.acknowledged = true;
      ++counts_.acknowledged;
    }
    BETCORE_ASSERT(counts_.acknowledged <= counts_.events);
    return;
  }
  if (status >= 400 && status < 500) ++counts_.refused_4xx;
  // The event was received through another delivery: a PSP stops retrying.
  if (e.acknowledged) return;
  queue(Delivery{d.event_seq, d.attempt + 1, d.extra,
                 now_mono_ms + redelivery_wait_ms(d.attempt, rng)});
}

}  // namespace betcore::payments::gateway
