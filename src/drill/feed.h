// The odds feed beside the drill's cluster: a RabbitMQ broker, `betcore
// feed-provider` and `betcore feed` (the adapter, through HAProxy), for the
// feed's fault kinds (faults_feed.cc) and the final check that every market
// ends with the provider's last prices.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "drill/cluster.h"
#include "drill/feed_watch.h"
#include "tools/http_client.h"
#include "tools/process.h"
#include "tools/rabbitmq.h"

namespace betcore::drill {

inline constexpr int kFeedLimitMs = 3000;        // the adapter's --limit-ms
inline constexpr int kFeedAliveLagMaxMs = 1000;  // the adapter's --alive-max-lag-ms
// The provider's selection prices per second (about 30 odds changes, each a
// write): enough for duplicates and reorders to matter, little beside the
// workload's ~400 writes a second on a 2-core machine.
inline constexpr int kFeedRate = 100;
// One market of each producer (events alternate: prematch, live).
inline constexpr const char* kFeedMarkets[] = {"m-1-1", "m-2-1"};
inline constexpr const char* kFeedProducers[] = {"prematch", "live"};
inline constexpr size_t kFeedProducerCount = 2;

// Thread affinity: the run loop and the nemesis (one thread); the watch
// probes on its own.
class DrillFeed {
 public:
  DrillFeed(std::filesystem::path root, std::string betcore)
      : root_(std::move(root)), betcore_(std::move(betcore)) {}
  ~DrillFeed() { stop_all(); }

  // The broker, the provider, the adapter and the probe account; waits for
  // the last fixture's market.
  bool start(const DrillCluster& cluster, std::string& why);
  bool start_adapter(std::string& why);
  void kill_adapter();
  void kill_broker() { broker_->kill(); }
  bool restart_broker(std::string& why) { return broker_->restart(why); }
  // POST /control/<what> on the provider; false with `why`.
  bool control(const std::string& what, std::string& why);

  // One probe bet on each of kFeedMarkets: true when every one was taken.
  bool taking_bets();
  // Probes until every feed market takes bets; the drill time they all did,
  // or -1 after `timeout_ms`.
  int64_t wait_taking_bets(int timeout_ms);
  // Probe bets on kFeedMarkets every 200 ms until watch_stop().
  void watch_start();
  std::vector<ProbeSample> watch_stop();
  // The adapter's dead-lettered messages since mark_dead_letters() (-1:
  // its /metrics unreadable then or now).
  void mark_dead_letters() { dead_letters_mark_ = dead_letters(); }
  int64_t dead_letters_since_mark();
  // Stops the provider's price changes and waits until betcore holds the
  // provider's last prices (differences() empty); false with them in `diff`.
  bool hold_prices_until_equal(int timeout_ms, std::string& diff);
  bool resume_prices(std::string& why);

  // After the faults: broker and adapter running, producers talking, no
  // misbehaviour, prices held still.
  void heal_everything(std::vector<std::string>& failures);
  // Every market's prices and order numbers in betcore equal the
  // provider's last, and the feed markets take bets, within `timeout_ms`;
  // what differs goes into `failures`.
  void check(std::vector<std::string>& failures, int timeout_ms);
  void stop_all();

 private:
  std::string differences();
  int64_t dead_letters();  // since the adapter started (-1: /metrics unreadable)
  std::filesystem::path root_;
  std::string betcore_;
  const DrillCluster* cluster_ = nullptr;
  std::unique_ptr<tools::RabbitMq> broker_;
  tools::Process provider_, adapter_;
  uint16_t provider_port_ = 0, metrics_port_ = 0;
  int adapter_runs_ = 0;
  int probes_ = 0;  // BetProbe instances so far: each names its bets
  std::unique_ptr<FeedWatch> watch_;
  int64_t dead_letters_mark_ = -1;
};

}  // namespace betcore::drill
