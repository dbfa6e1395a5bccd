// The drill's workload through HAProxy: punters and a trader, each request retried with the same
// id until it has a definite answer, every answer kept for the checker. Withdrawals the punters
// request are paid and finished by the payment adapter (payments.h), not here.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "drill/cluster.h"
#include "sim/history_check.h"
#include "sim/market_view.h"
#include "tools/http_client.h"

namespace betcore::drill {

// An indefinite answer, retried.
struct Attempt {
  int64_t at_ms;
  std::string kind;  // "503 unavailable", "504 outcome_unknown", "no answer", "429 overloaded"
};

struct DrillOp {
  sim::HistoryOp h;
  std::string method, target, body, token;
  std::vector<Attempt> indefinite;
  int status = 0;
  int64_t latency_ms = 0;
  // Site loss (site_loss.h): its answer named a position of the lost
  // history, so it is checked as a request without an answer.
  bool answer_lost = false;
};

// Thread affinity: set_up, start and stop from the run loop; ops() from
// any thread; the client threads are its own.
class Workload {
 public:
  Workload(uint16_t port, const DrillCluster& c, int clients, uint64_t seed);
  ~Workload() { stop(); }

  // Accounts, an event and markets, before the faults.
  bool set_up(std::string& why);
  void start();
  void stop();

  std::vector<DrillOp> ops() const;
  // After a restore to `position`: reads sent from now on need only see it.
  void rewind_acked_index(uint64_t position) { acked_index_.store(position); }
  const std::vector<std::string>& accounts() const { return accounts_; }
  // Only the first `n` punters send requests (the others wait): the
  // detection drill's surge raises it.
  void set_active_clients(int n) { active_.store(n); }
  // Each punter waits this long between its requests (0: none).
  void set_pace_ms(int ms) { pace_ms_.store(ms); }
  // Punters from `client` on place only bets (the detection drill's surge:
  // a big match, everyone betting). Before start().
  void set_bets_only_from(int client) { bets_only_from_ = client; }

 private:
  uint64_t acked_index() const { return acked_index_.load(); }
  bool run_op(tools::HttpClient& http, DrillOp op, std::mt19937_64& rng);
  void record_answer(DrillOp& op, const tools::Response& r, int64_t t);
  bool create_market(tools::HttpClient& http, std::mt19937_64& rng);
  void punter(int client);
  void bet(tools::HttpClient& http, std::mt19937_64& rng, const std::string& account,
           const std::string& id);
  void trader();
  void settle(tools::HttpClient& http, std::mt19937_64& rng, const sim::MarketView& m, size_t pick,
              const std::string& rid);

  const uint16_t port_;
  const std::string admin_, trader_, payments_;
  const int clients_;
  const uint64_t seed_;
  std::vector<std::string> accounts_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int> active_{std::numeric_limits<int>::max()};
  std::atomic<int> pace_ms_{0};
  int bets_only_from_ = std::numeric_limits<int>::max();
  std::atomic<uint64_t> acked_index_{0};  // the highest log index of an acknowledged write
  mutable std::mutex mu_;
  std::vector<DrillOp> ops_;  // guarded by mu_
  std::mutex markets_mu_;     // guards markets_, next_market_
  std::vector<sim::MarketView> markets_;
  size_t next_market_ = 0;
};

}  // namespace betcore::drill
