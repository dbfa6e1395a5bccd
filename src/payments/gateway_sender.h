// The gateway's webhook senders: threads that take due deliveries from the
// Outbox and POST them, signed afresh each attempt, to --webhook-url.
// Several threads, so that with webhook_delay_ms_max (or one slow answer)
// events really arrive out of order.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "payments/gateway_outbox.h"
#include "tools/http_client.h"
#include "tools/splitmix.h"

namespace betcore::payments::gateway {

struct SenderConfig {
  std::optional<tools::Url> url;  // none: events are kept, never sent
  std::string webhook_secret;
  int threads = 4;
  int request_timeout_ms = 10'000;  // docs/payment-gateway.md: "a 2xx within 10 s"
  uint64_t seed = 1;
};

// Thread-safe: every public call may come from any thread.
class Sender {
 public:
  explicit Sender(SenderConfig config);
  ~Sender();  // stop()
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  void start();
  // Wakes the threads and joins them; a delivery in flight finishes first
  // (at most request_timeout_ms). Idempotent.
  void stop();

  void add(uint64_t event_seq, std::string body, WebhookFaults faults);
  size_t storm(int times);
  OutboxCounts counts() const;

 private:
  void run(int index);

  SenderConfig config_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  Outbox outbox_;          // guarded by mu_
  tools::SplitMix64 rng_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace betcore::payments::gateway
