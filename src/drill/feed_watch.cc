// Probing the feed's markets while a feed fault lasts.
#include "drill/feed_watch.h"

#include "drill/clock.h"

namespace betcore::drill {

constexpr int64_t kProbeEveryMs = 200;

FeedWatch::FeedWatch(uint16_t haproxy_port, std::string trader_token, int instance,
                     std::vector<std::string> market_ids)
    : markets_(std::move(market_ids)),
      thread_([this, probe = BetProbe(haproxy_port, std::move(trader_token), instance)]() mutable {
        run(std::move(probe));
      }) {}

std::vector<ProbeSample> FeedWatch::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  return samples_;
}

void FeedWatch::run(BetProbe probe) {
  while (!stop_.load()) {
    int64_t round_ms = now_ms();
    for (size_t i = 0; i < markets_.size() && !stop_.load(); ++i) {
      ProbeSample s{i, now_ms(), Bets::unknown};
      s.answer = probe.ask(markets_[i]);
      std::lock_guard lock(mu_);
      samples_.push_back(s);
    }
    sleep_ms(std::max<int64_t>(0, round_ms + kProbeEveryMs - now_ms()));
  }
}

}  // namespace betcore::drill
