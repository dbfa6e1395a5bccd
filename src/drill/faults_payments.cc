// The payments' faults: the gateway down or slow, a webhook storm, the
// adapter killed.
//
// Each starts from an adapter whose breakers are closed (or is not injected
// yet) and ends, in its heal, with the backlog drained: every withdrawal
// pending at the heal finished in betcore and every webhook acknowledged
// within kDrainTimeoutMs, and every deposit the gateway took since the
// injection credited with its amount. The report's "recovered" is then.
// The gateway's outage and slowness are judged on the adapter's breakers
// (judge_breakers). What an invariant broke goes into f.violations: a
// failure of the run.
#include <fmt/format.h>

#include <array>
#include <nlohmann/json.hpp>

#include "drill/clock.h"
#include "drill/faults.h"
#include "drill/payments.h"
#include "ops/wall_clock.h"

namespace betcore::drill {
namespace {

constexpr int kReadyTimeoutMs = 10'000;
constexpr int kDrainTimeoutMs = 30'000;
// Past the adapter's gateway timeout: every call in flight when the fault
// began has ended by then, so every call ending later was sent into it.
constexpr int kSettleMs = kPayGatewayTimeoutMs + 200;
constexpr int kSlowLatencyMs = 1500;  // above kPayGatewayTimeoutMs: every call times out
static_assert(kSlowLatencyMs > kPayGatewayTimeoutMs);

// The breakers of kPayEndpoints, in that order.
using Breakers = std::array<BreakerCounts, std::size(kPayEndpoints)>;

Breakers read_breakers(FaultContext& ctx) {
  Breakers b;
  for (size_t i = 0; i < b.size(); ++i) b[i] = ctx.payments->breaker(kPayEndpoints[i]);
  return b;
}

// What the fault in progress measures against: the breakers at injection
// and once it settled (kSettleMs), and the deposits made before it.
struct FaultMarks {
  Breakers injected, settled;
  size_t deposits = 0;
  int64_t extra_deliveries = 0;  // the gateway's webhook_extra_deliveries
};
FaultMarks g_marks;  // thread affinity: the nemesis (one fault at a time)

// Injecting into an adapter still recovering from the last fault would
// prove nothing: wait for it (a while), or not yet.
bool payments_ready(FaultContext& ctx, FaultRecord& f) {
  const int64_t deadline = now_ms() + kReadyTimeoutMs;
  for (;;) {
    bool closed = ctx.payments->adapter_running();
    for (const BreakerCounts& b : read_breakers(ctx)) closed = closed && b.state == 0;
    if (closed) break;
    if (now_ms() > deadline) {
      f.problems.push_back("the payment adapter's breakers are not closed yet (recovering)");
      return false;
    }
    sleep_ms(250);
  }
  f.start_ms = now_ms();
  g_marks.deposits = ctx.payments->deposits_made();
  return true;
}

// Every withdrawal pending now finished, every webhook acknowledged, every
// deposit since the injection credited; background deposits paused meanwhile.
void expect_drained(FaultContext& ctx, FaultRecord& f) {
  ctx.payments->pause_deposits();
  std::string left;
  if (ctx.payments->wait_drained(now_ms() + kDrainTimeoutMs, left)) {
    f.recover_ms = now_ms() - f.start_ms;
  } else {
    f.violations.push_back(fmt::format("the payments backlog did not drain {} s after the heal: {}",
                                       kDrainTimeoutMs / 1000, left));
  }
  const std::string missing = ctx.payments->deposits_not_credited(g_marks.deposits);
  if (!missing.empty()) f.violations.push_back("gateway deposits not credited: " + missing);
  ctx.payments->resume_deposits();
}

// The gateway failed every call from kSettleMs on: a breaker that saw at
// least its minimum of calls fail then, all in its window with no success
// after them, must have opened; and in half-open it lets through at most
// its trials each time (counted since the adapter started).
void judge_breakers(FaultContext& ctx, FaultRecord& f) {
  const Breakers now = read_breakers(ctx);
  double opened = 0, failed = 0, refused = 0;
  for (size_t i = 0; i < now.size(); ++i) {
    const BreakerCounts &at = g_marks.injected[i], &settled = g_marks.settled[i], &b = now[i];
    if (b.state < 0 || settled.state < 0) {
      f.problems.push_back("the payment adapter's /metrics is unreadable");
      return;
    }
    const double failed_after = b.failed - settled.failed;
    if (failed_after >= kPayBreakerMinCalls && b.opened == at.opened) {
      f.violations.push_back(fmt::format("{} calls to {} failed and its breaker never opened",
                                         failed_after, kPayEndpoints[i]));
    }
    if (b.half_open_calls > kPayBreakerHalfOpenCalls * b.half_opened) {
      f.violations.push_back(fmt::format(
          "{}'s breaker let {} calls through in {} half-open rounds of {} trials",
          kPayEndpoints[i], b.half_open_calls, b.half_opened, kPayBreakerHalfOpenCalls));
    }
    opened += b.opened - at.opened;
    failed += b.failed - at.failed;
    refused += b.not_permitted - at.not_permitted;
    // Detected: when the first breaker opened in the fault (the adapter
    // noticed the gateway failing and stopped sending to it). The gauge
    // holds the last opening: read at the settle mark when it had opened by
    // then (a later half-open trial may open it again).
    const BreakerCounts& first = settled.opened > at.opened ? settled : b;
    if (first.opened > at.opened && first.last_opened_s > 0) {
      const int64_t fault_start_wall_ms = ops::wall_ms() - (now_ms() - f.start_ms);
      const int64_t detect = static_cast<int64_t>(first.last_opened_s * 1000) - fault_start_wall_ms;
      if (detect >= 0 && (f.detect_ms < 0 || detect < f.detect_ms)) f.detect_ms = detect;
    }
  }
  f.detail = fmt::format("{}; breakers opened {} times, {} calls failed, {} not let through",
                         f.detail, opened, failed, refused);
}

// Sets the gateway's faults `body` and marks the breakers before and once settled.
bool inject_gateway_fault(FaultContext& ctx, FaultRecord& f, const std::string& body) {
  if (!payments_ready(ctx, f)) return false;
  g_marks.injected = read_breakers(ctx);
  std::string why;
  if (!ctx.payments->faults(body, why)) {
    f.problems.push_back(why);
    return false;
  }
  f.detail = body;
  sleep_ms(kSettleMs);
  g_marks.settled = read_breakers(ctx);
  return true;
}

void heal_gateway_fault(FaultContext& ctx, FaultRecord& f, const std::string& body) {
  judge_breakers(ctx, f);
  std::string why;
  if (!ctx.payments->faults(body, why)) f.problems.push_back(why);
  expect_drained(ctx, f);
}

int64_t extra_deliveries(FaultContext& ctx) {
  nlohmann::json s = nlohmann::json::parse(ctx.payments->gateway_stats(), nullptr, false);
  return s.is_object() ? s.value("webhook_extra_deliveries", int64_t{0}) : 0;
}

}  // namespace

std::optional<FaultTarget> aim_payment_gateway(FaultContext& ctx) {
  if (ctx.payments == nullptr) return std::nullopt;
  return FaultTarget{Component::payments, {0}, "payment gateway"};
}
std::optional<FaultTarget> aim_payment_adapter(FaultContext& ctx) {
  if (ctx.payments == nullptr) return std::nullopt;
  return FaultTarget{Component::payments, {0}, "payment adapter"};
}

bool inject_gateway_outage(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  // Longer than any hold: the heal ends it.
  return inject_gateway_fault(ctx, f, R"({"outage_ms":600000})");
}
void heal_gateway_outage(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  heal_gateway_fault(ctx, f, R"({"outage_ms":0})");
}

bool inject_gateway_slow(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  return inject_gateway_fault(ctx, f, fmt::format(R"({{"latency_ms":{}}})", kSlowLatencyMs));
}
void heal_gateway_slow(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  heal_gateway_fault(ctx, f, R"({"latency_ms":0})");
}

bool inject_webhook_storm(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  if (!payments_ready(ctx, f)) return false;
  g_marks.extra_deliveries = extra_deliveries(ctx);
  f.detail = "half the deposits' webhooks delivered twice, each delayed 0-1 s, 3 more deliveries "
             "of every unacknowledged event at the start and at the heal";
  std::string why;
  if (ctx.payments->faults(
          R"({"duplicate_share":0.5,"webhook_delay_ms_max":1000,"webhook_storm":3})", why)) {
    return true;
  }
  f.problems.push_back(why);
  return false;
}
void heal_webhook_storm(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  std::string why;
  for (const char* body : {R"({"webhook_storm":3})",
                           R"({"duplicate_share":0,"webhook_delay_ms_max":0})"}) {
    if (!ctx.payments->faults(body, why)) f.problems.push_back(why);
  }
  f.detail += fmt::format("; {} extra deliveries",
                          extra_deliveries(ctx) - g_marks.extra_deliveries);
  expect_drained(ctx, f);
}

bool inject_payment_adapter_kill(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  if (!payments_ready(ctx, f)) return false;
  ctx.payments->kill_adapter();
  return true;
}
void heal_payment_adapter_kill(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  std::string why;
  if (!ctx.payments->start_adapter(why)) f.problems.push_back(why);
  expect_drained(ctx, f);
}

}  // namespace betcore::drill
