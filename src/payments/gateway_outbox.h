// The gateway's webhook outbox (docs/payment-gateway.md, "Delivery"): which
// event goes out when, retried with full-jitter backoff until one delivery of
// it is acknowledged, plus the duplicates, delays and storms asked for.
// Pure: the clock and the random source come in as arguments; the sender
// threads (gateway_sender.h) do the HTTP.
// Thread: one owner; the sender calls it under its mutex.
#pragma once
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "tools/splitmix.h"

namespace betcore::payments::gateway {

// docs/payment-gateway.md: "exponential backoff and full jitter (0.2 s
// doubling to 5 s)".
inline constexpr int kRedeliveryBaseMs = 200;
inline constexpr int kRedeliveryCapMs = 5000;
// Deliveries waiting at most; a storm that would pass it is cut short.
inline constexpr size_t kDeliveriesQueuedMax = 1'000'000;

// One HTTP attempt to make.
struct Delivery {
  uint64_t event_seq = 0;
  int attempt = 0;     // 0 for the first attempt of this delivery
  bool extra = false;  // a duplicate or a storm copy, not the event's own delivery
  int64_t due_mono_ms = 0;
};

struct OutboxCounts {
  uint64_t events = 0, acknowledged = 0, attempts = 0, refused_4xx = 0, extra_deliveries = 0;
  uint64_t pending() const { return events - acknowledged; }
};

// How the webhooks misbehave at the time an event is added (from Faults).
struct WebhookFaults {
  double duplicate_share = 0;
  int delay_ms_max = 0;
};

class Outbox {
 public:
  // Adds event `seq` (numbered 1, 2, ... in order) and queues its delivery,
  // after uniform 0..delay_ms_max; with duplicate_share, a second one too.
  void add(uint64_t seq, std::string body, WebhookFaults faults, int64_t now_mono_ms,
           tools::SplitMix64& rng);
  // Every event not yet acknowledged, `times` more deliveries due now.
  // Returns how many were queued.
  size_t storm(int times, int64_t now_mono_ms);

  // The earliest delivery due by `now_mono_ms`, taken out of the queue; else
  // nullopt, and `next_due_mono_ms` (when set) says when one will be (or -1).
  std::optional<Delivery> take_due(int64_t now_mono_ms, int64_t* next_due_mono_ms);
  const std::string& body(uint64_t event_seq) const;
  bool acknowledged(uint64_t event_seq) const;

  // The answer to a delivery `take_due` gave: `status` 0 for no HTTP answer.
  // A 2xx acknowledges the event; anything else queues a retry after the
  // backoff, unless another delivery of the event was acknowledged meanwhile.
  void on_result(const Delivery& delivery, int status, int64_t now_mono_ms, tools::SplitMix64& rng);

  const OutboxCounts& counts() const { return counts_; }
  size_t queued() const { return queue_.size(); }

 private:
  struct Event {
    std::string body;
    bool acknowledged = false;
  };
  struct Later {
    bool operator()(const Delivery& a, const Delivery& b) const {
      return a.due_mono_ms != b.due_mono_ms ? a.due_mono_ms > b.due_mono_ms
                                            : a.event_seq > b.event_seq;
    }
  };
  void queue(Delivery d);

  std::vector<Event> events_;  // events_[seq - 1]
  std::priority_queue<Delivery, std::vector<Delivery>, Later> queue_;
  OutboxCounts counts_;
};

// Full jitter: uniform in [1, min(cap, base * 2^attempt)] ms.
int64_t redelivery_wait_ms(int attempt, tools::SplitMix64& rng);

}  // namespace betcore::payments::gateway
