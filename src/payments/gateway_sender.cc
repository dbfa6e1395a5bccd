// The gateway's webhook sender threads.
#include "payments/gateway_sender.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "payments/gateway_ledger.h"
#include "payments/signature.h"

namespace betcore::payments::gateway {
namespace {

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Sender::Sender(SenderConfig config) : config_(std::move(config)), rng_(config_.seed ^ 0x3eb400c5) {}

Sender::~Sender() { stop(); }

void Sender::start() {
  if (!config_.url) return;
  for (int i = 0; i < config_.threads; ++i) threads_.emplace_back([this, i] { run(i); });
}

void Sender::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Sender::add(uint64_t event_seq, std::string body, WebhookFaults faults) {
  {
    std::lock_guard lock(mu_);
    outbox_.add(event_seq, std::move(body), faults, mono_ms(), rng_);
  }
  wake_.notify_all();
}

size_t Sender::storm(int times) {
  size_t queued;
  {
    std::lock_guard lock(mu_);
    queued = outbox_.storm(times, mono_ms());
  }
  wake_.notify_all();
  return queued;
}

OutboxCounts Sender::counts() const {
  std::lock_guard lock(mu_);
  return outbox_.counts();
}

void Sender::run(int index) {
  tools::HttpClientOptions options;
  options.request_timeout_ms = config_.request_timeout_ms;
  tools::HttpClient http(*config_.url, options);
  const std::string target = config_.url->path.empty() ? "/" : config_.url->path;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    int64_t next_due = -1;
    std::optional<Delivery> d = outbox_.take_due(mono_ms(), &next_due);
    if (!d) {
      if (next_due < 0) {
        wake_.wait(lock);
      } else {
        wake_.wait_for(lock, std::chrono::milliseconds(next_due - mono_ms()));
      }
      continue;
    }
    tools::Request request;
    request.method = "POST";
    request.target = target;
    request.body = outbox_.body(d->event_seq);
    lock.unlock();
    // Signed at send time: a redelivery carries a fresh t (docs, "Delivery").
    request.headers.emplace_back(
        "Gateway-Signature",
        sign_webhook(config_.webhook_secret, std::time(nullptr), request.body));
    tools::Response r = http.request(request);
    if (!r.ok()) {
      http.close();  // after a timeout the connection's state is unknown
      // A 4xx is retried like any failure (a PSP does), but it usually means
      // the receiver refuses the signature or the event: say so.
      if (r.status >= 400 && r.status < 500) {
        spdlog::warn("payment-gateway: sender {}: event {} answered {}: {}; retrying", index,
                     event_id(d->event_seq), r.status, r.body.substr(0, 200));
      } else {
        spdlog::debug("payment-gateway: sender {}: event {}: {}", index, event_id(d->event_seq),
                      r.status == 0 ? r.error : std::to_string(r.status));
      }
    }
    lock.lock();
    outbox_.on_result(*d, r.status, mono_ms(), rng_);
  }
}

}  // namespace betcore::payments::gateway
