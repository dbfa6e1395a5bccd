// The payout pipeline: each withdrawal betcore asks for is checked in
// betcore, paid through the gateway with the withdrawal id as the
// idempotency key, followed until the payout is final, then completed or
// failed in betcore. A step that fails is retried with backoff (full
// jitter); when the gateway's breaker is open the work waits for it instead
// of calling. Nothing is ever dropped: a withdrawal leaves the pipeline only
// when betcore has its outcome, or with an alert when a person must look.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "payments/gateway_client.h"
#include "payments/progress.h"
#include "tools/http_client.h"

namespace betcore::ops {
class Registry;
}

namespace betcore::payments {

struct Withdrawal {
  std::string withdrawal_id;
  std::string account_id;
  int64_t amount = 0;
};

struct PipelineConfig {
  tools::Url betcore;
  std::string token;  // role payments
  int workers = 8;
  int backoff_base_ms = 100;
  int backoff_cap_ms = 10000;
  int poll_ms = 250;  // first wait before asking a processing payout again
};

class PayoutPipeline {
 public:
  PayoutPipeline(const PipelineConfig& config, GatewayEndpoints& gateway, Progress& progress,
                 ops::Registry& metrics);
  ~PayoutPipeline();  // stop()

  void start();
  // Workers finish their current step and exit; owed work stays owed (the
  // resume point keeps it for the next start).
  void stop();

  // A withdrawal read from the stream (Progress::owe said yes).
  void add(Withdrawal w);
  size_t queued() const;

 private:
  struct Job;
  struct Metrics;
  void run_worker(int n);
  // One step of a job. Returns the wait before its next step, or nullopt
  // when the job is finished.
  std::optional<int> step(Job& job, GatewayClient& gateway, tools::HttpClient& betcore);
  void schedule(std::unique_ptr<Job> job, int delay_ms);
  std::string currency_of(const std::string& account_id, tools::HttpClient& betcore);

  const PipelineConfig config_;
  GatewayEndpoints& gateway_;
  Progress& progress_;
  std::unique_ptr<Metrics> metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, std::unique_ptr<Job>> due_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  std::mutex currency_mu_;
  std::unordered_map<std::string, std::string> currencies_;
};

}  // namespace betcore::payments
