// Probe bets on the feed's markets every 200 ms on a thread of its own,
// for as long as a feed fault lasts: the evidence judge_outage() reads.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "drill/feed_verdict.h"

namespace betcore::drill {

// Thread affinity: its own probing thread; stop() from the thread that made it.
class FeedWatch {
 public:
  // Starts probing `market_ids` in turn (`instance` names the probe's bets).
  FeedWatch(uint16_t haproxy_port, std::string trader_token, int instance,
            std::vector<std::string> market_ids);
  ~FeedWatch() { stop(); }
  FeedWatch(const FeedWatch&) = delete;
  FeedWatch& operator=(const FeedWatch&) = delete;

  // Stops probing; every answer, in the order the bets were sent.
  std::vector<ProbeSample> stop();

 private:
  void run(BetProbe probe);

  std::vector<std::string> markets_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // guards samples_
  std::vector<ProbeSample> samples_;
  std::thread thread_;  // last: starts after everything it uses
};

}  // namespace betcore::drill
