// The odds feed's faults: a producer falls silent, the adapter is killed,
// the broker is killed, the provider duplicates, reorders and sends garbage.
//
// Each starts from a feed whose markets take bets (or is not injected yet)
// and ends with them taking bets again. Outages (the first three) are
// judged by probe bets sent while they last (feed_verdict.h): the markets
// of the feed that is out refuse every bet from the deadline on (the limit
// after the last alive, plus 1 s for its way through the adapter), the
// others none. What an invariant broke goes into f.violations: a failure of
// the run. The report's "detected" is when the markets shut, "recovered"
// when they took bets again (and, after a broker or a misbehaving provider,
// held the provider's prices).
#include <fmt/format.h>

#include "drill/clock.h"
#include "drill/faults.h"
#include "drill/feed.h"
#include "drill/feed_verdict.h"

namespace betcore::drill {
namespace {

constexpr int kReopenTimeoutMs = 60'000;   // from the heal to bets taken again
constexpr int kPricesTimeoutMs = 30'000;   // from the heal to the provider's prices
constexpr int kDeadLetterTimeoutMs = 10'000;
constexpr int kMalformed = 3;              // malformed messages per misbehaviour

// Injecting on a feed still recovering from the last fault (any kind: a
// cluster fault shuts its markets too) would prove nothing: not yet.
bool feed_ready(FaultContext& ctx, FaultRecord& f) {
  if (ctx.feed->taking_bets()) {
    f.start_ms = now_ms();
    return true;
  }
  f.problems.push_back("the feed's markets take no bets yet (recovering from the last fault)");
  return false;
}

constexpr int kEveryProducer = -1;
constexpr int kNoProducer = -2;

// One market of each producer; those of `silent` (a producer's index,
// kEveryProducer or kNoProducer) must shut.
std::vector<WatchedMarket> watched(int silent) {
  std::vector<WatchedMarket> out;
  for (size_t i = 0; i < kFeedProducerCount; ++i) {
    const bool shut = silent == kEveryProducer || (silent >= 0 && static_cast<size_t>(silent) == i);
    out.push_back({kFeedMarkets[i], shut});
  }
  return out;
}

// The probes' verdict on an outage of `silent`'s feed (see watched()).
void judge(FaultContext& ctx, FaultRecord& f, int silent) {
  const int64_t due_ms = f.start_ms + kFeedLimitMs + 1000;
  // A round of probes sent after the deadline, so that the refusal is seen.
  if (now_ms() < due_ms + 500) sleep_ms(due_ms + 500 - now_ms());
  OutageVerdict v = judge_outage(ctx.feed->watch_stop(), watched(silent), due_ms);
  if (v.shut_ms >= 0) f.detect_ms = v.shut_ms - f.start_ms;
  for (std::string& s : v.violations) f.violations.push_back(std::move(s));
}

void expect_reopen(FaultContext& ctx, FaultRecord& f) {
  const int64_t at = ctx.feed->wait_taking_bets(kReopenTimeoutMs);
  if (at < 0) {
    f.violations.push_back(fmt::format("the feed's markets take no bets {} s after the heal",
                                       kReopenTimeoutMs / 1000));
    return;
  }
  f.recover_ms = at - f.start_ms;
}

void expect_provider_prices(FaultContext& ctx, FaultRecord& f) {
  std::string diff;
  if (ctx.feed->hold_prices_until_equal(kPricesTimeoutMs, diff)) {
    f.recover_ms = now_ms() - f.start_ms;
  } else {
    f.violations.push_back(fmt::format("betcore does not hold the provider's prices {} s after the "
                                       "heal: {}",
                                       kPricesTimeoutMs / 1000, diff.substr(0, 400)));
  }
  std::string why;
  if (!ctx.feed->resume_prices(why)) f.problems.push_back(why);
}

std::optional<FaultTarget> feed_target(FaultContext& ctx, std::string label) {
  if (ctx.feed == nullptr) return std::nullopt;
  return FaultTarget{Component::feed, {0}, std::move(label)};
}

}  // namespace

std::optional<FaultTarget> aim_feed_producer(FaultContext& ctx) {
  if (ctx.feed == nullptr) return std::nullopt;
  int i = static_cast<int>(ctx.rng() % kFeedProducerCount);
  return FaultTarget{Component::feed, {i}, std::string("producer ") + kFeedProducers[i]};
}
std::optional<FaultTarget> aim_feed_adapter(FaultContext& ctx) {
  return feed_target(ctx, "feed adapter");
}
std::optional<FaultTarget> aim_feed_broker(FaultContext& ctx) { return feed_target(ctx, "RabbitMQ"); }
std::optional<FaultTarget> aim_feed_provider(FaultContext& ctx) {
  return feed_target(ctx, "feed provider");
}

bool inject_feed_silent(FaultContext& ctx, const FaultTarget& t, FaultRecord& f) {
  if (!feed_ready(ctx, f)) return false;
  ctx.feed->watch_start();
  std::string why;
  if (ctx.feed->control(fmt::format("silent?producer={}&seconds=600", kFeedProducers[t.members[0]]),
                        why)) {
    return true;
  }
  ctx.feed->watch_stop();
  f.problems.push_back(why);
  return false;
}

void heal_feed_silent(FaultContext& ctx, const FaultTarget& t, FaultRecord& f) {
  judge(ctx, f, t.members[0]);
  std::string why;
  if (!ctx.feed->control(fmt::format("talk?producer={}", kFeedProducers[t.members[0]]), why)) {
    f.problems.push_back(why);
  }
  expect_reopen(ctx, f);
}

bool inject_feed_adapter_kill(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  if (!feed_ready(ctx, f)) return false;
  ctx.feed->watch_start();
  ctx.feed->kill_adapter();
  return true;
}

void heal_feed_adapter_kill(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  judge(ctx, f, kEveryProducer);
  std::string why;
  if (!ctx.feed->start_adapter(why)) f.problems.push_back(why);
  expect_reopen(ctx, f);
}

bool inject_feed_broker_kill(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  if (!feed_ready(ctx, f)) return false;
  ctx.feed->watch_start();
  ctx.feed->kill_broker();
  return true;
}

void heal_feed_broker_kill(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  judge(ctx, f, kEveryProducer);
  std::string why;
  if (!ctx.feed->restart_broker(why)) f.problems.push_back("RabbitMQ did not restart: " + why);
  expect_reopen(ctx, f);
  expect_provider_prices(ctx, f);
}

bool inject_feed_misbehaviour(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  if (!feed_ready(ctx, f)) return false;
  ctx.feed->mark_dead_letters();
  f.detail = fmt::format("{} malformed, 200 per mille duplicated, 200 per mille reordered", kMalformed);
  ctx.feed->watch_start();  // no market may shut: the producers stay alive
  std::string why;
  for (const std::string& what :
       {std::string("duplicate?per_mille=200"), std::string("reorder?per_mille=200"),
        fmt::format("malformed?count={}", kMalformed)}) {
    if (!ctx.feed->control(what, why)) {
      ctx.feed->watch_stop();
      f.problems.push_back(why);
      return false;
    }
  }
  return true;
}

void heal_feed_misbehaviour(FaultContext& ctx, const FaultTarget&, FaultRecord& f) {
  std::string why;
  for (const char* what : {"duplicate?per_mille=0", "reorder?per_mille=0"}) {
    if (!ctx.feed->control(what, why)) f.problems.push_back(why);
  }
  OutageVerdict v = judge_outage(ctx.feed->watch_stop(), watched(kNoProducer), 0);
  for (std::string& s : v.violations) f.violations.push_back(std::move(s));
  // The garbage is dead-lettered (counted before the ack), not applied.
  const int64_t deadline = now_ms() + kDeadLetterTimeoutMs;
  int64_t dead = ctx.feed->dead_letters_since_mark();
  while (dead < kMalformed && now_ms() < deadline) {
    sleep_ms(200);
    dead = ctx.feed->dead_letters_since_mark();
  }
  if (dead < kMalformed) {
    f.violations.push_back(fmt::format("{} malformed messages sent, {} dead-lettered in {} s",
                                       kMalformed, dead, kDeadLetterTimeoutMs / 1000));
  }
  expect_provider_prices(ctx, f);
}

}  // namespace betcore::drill
