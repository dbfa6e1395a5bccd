// `betcore payments`: the payment adapter. Reads withdrawal requests from
// betcore's /v1/stream (resuming from its state file after any restart), pays
// each through the gateway (payouts.h), receives the gateway's deposit
// webhooks (webhooks.h), reconciles both ledgers now and then (reconcile.h),
// and serves /metrics and /health beside the webhooks.
#pragma once
#include <cstdint>
#include <string>

#include "payments/breaker.h"
#include "payments/payouts.h"
#include "payments/reconcile.h"
#include "payments/retry_budget.h"
#include "payments/webhooks.h"

namespace betcore::payments {

struct AdapterOptions {
  tools::Url betcore;  // a node, or HAProxy before a cluster
  std::string token;   // role payments
  GatewayConfig gateway;
  std::string webhook_secret;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // webhooks, /metrics, /health; 0: any, printed at start
  std::string state_file;    // the stream position; "" keeps none (reads from 0)
  int workers = 8;
  int backoff_base_ms = 100;
  int backoff_cap_ms = 10000;
  int poll_ms = 250;
  int webhook_threads = 4;
  int reconcile_interval_s = 300;  // 0: never on its own
  int64_t reconcile_grace_ms = 60000;
  std::string gateway_ref_prefix = "pay_";
};

// Runs until SIGINT or SIGTERM. Returns the process exit code.
int run_adapter(const AdapterOptions& options);

}  // namespace betcore::payments
