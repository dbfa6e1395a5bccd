// Payments beside the drill's cluster: `betcore payment-gateway` (the PSP
// double) and `betcore payments` (the adapter, through HAProxy), with a light
// background of gateway deposits whose webhooks credit the workload's
// accounts. For the payments fault kinds (faults_payments.cc) and the final
// check that every withdrawal was paid exactly once and ended in betcore as
// the gateway says (docs/drill.md).
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "domain/commands.h"
#include "drill/cluster.h"
#include "drill/workload.h"
#include "tools/process.h"

namespace betcore::drill {

// The adapter's breaker (docs/integrations.md "Circuit breakers"): short, so
// that an outage of a few seconds opens it and a half-open round follows.
inline constexpr int kPayBreakerWindow = 20;
inline constexpr int kPayBreakerMinCalls = 10;
inline constexpr int kPayBreakerWaitMs = 2000;
inline constexpr int kPayBreakerHalfOpenCalls = 3;
inline constexpr int kPayGatewayTimeoutMs = 1000;  // the adapter's --gateway-timeout-ms
inline constexpr int kPayDepositEveryMs = 250;     // the background deposits: 4 a second
// The endpoints the workload's withdrawals keep busy (the ledger listing,
// `list`, is used by reconciliation alone, off in the drill).
inline constexpr const char* kPayEndpoints[] = {"create_payout", "get_payout"};

// One endpoint's breaker and calls, from the adapter's /metrics.
struct BreakerCounts {
  double state = -1;  // 0 closed, 1 open, 2 half-open; -1 unreadable
  double opened = 0, half_opened = 0, half_open_calls = 0, failed = 0, not_permitted = 0;
  double last_opened_s = 0;  // Unix time it last opened (0: never)
};

// A deposit the drill made at the gateway (its webhook credits it).
struct GatewayDeposit {
  std::string payment_id, account_id;
  int64_t amount = 0;
};

// True for a command the payment adapter sends: withdrawal outcomes (the
// workload sends none while the adapter pays) and deposits the gateway's
// webhooks credit (payment_ref "pay_…"). The history checker's OtherClient.
bool from_payments(const domain::Command& command);

// The withdrawals the workload had acknowledged (201), by id.
std::vector<std::string> requested_withdrawals(const std::vector<DrillOp>& ops);

// Thread affinity: the run loop and the nemesis (one thread); the deposit
// thread is its own (deposits_ under deposits_mu_).
class DrillPayments {
 public:
  DrillPayments(std::filesystem::path root, std::string betcore, uint64_t seed)
      : root_(std::move(root)), betcore_(std::move(betcore)), seed_(seed) {}
  ~DrillPayments() { stop_all(); }

  // The gateway and the adapter; false with `why`.
  bool start(const DrillCluster& cluster, std::string& why);
  bool start_adapter(std::string& why);
  void kill_adapter();
  bool adapter_running() { return adapter_.running(); }
  // POST /control/faults on the gateway with `body` (a JSON object).
  bool faults(const std::string& body, std::string& why);
  std::string gateway_stats();  // GET /control/stats ("" unreadable)
  BreakerCounts breaker(const char* endpoint);

  // Deposits at the gateway for `accounts`, every kPayDepositEveryMs, until
  // stop_deposits(); pause/resume hold them while a check waits for quiet.
  void start_deposits(std::vector<std::string> accounts);
  void pause_deposits();
  void resume_deposits() { paused_.store(false); }
  size_t deposits_made();
  // "" when every deposit made from number `from` on is credited in betcore
  // with its account and amount; else what is not.
  std::string deposits_not_credited(size_t from);

  // Waits until the withdrawals pending in betcore now are finished and the
  // gateway has no webhook unacknowledged; false with what is left in `left`.
  bool wait_drained(int64_t deadline_ms, std::string& left);

  // After the faults: gateway without faults, adapter running.
  void heal_everything(std::vector<std::string>& failures);
  // The final check (docs/drill.md "The payments check"): every withdrawal
  // finished within `timeout_ms`, one payout each, betcore's outcome the
  // gateway's, reconciliation clean, the ledger balanced.
  void check(const std::vector<std::string>& requested, std::vector<std::string>& failures,
             int timeout_ms);
  void stop_all();

 private:
  std::vector<std::string> adapter_args() const;
  void deposit_loop(std::vector<std::string> accounts);
  std::vector<std::string> pending_withdrawals(bool& ok);
  void check_payouts(const std::vector<std::string>& requested, std::vector<std::string>& failures);
  void check_reconcile(std::vector<std::string>& failures);
  std::filesystem::path root_;
  std::string betcore_;
  uint64_t seed_;
  const DrillCluster* cluster_ = nullptr;
  tools::Process gateway_, adapter_;
  uint16_t gateway_port_ = 0, adapter_port_ = 0;
  int adapter_runs_ = 0;
  std::string api_key_;
  std::thread depositor_;
  std::atomic<bool> stop_deposits_{false}, paused_{false};
  std::mutex deposits_mu_;  // held for each deposit made; guards deposits_
  std::vector<GatewayDeposit> deposits_;
};

}  // namespace betcore::drill
