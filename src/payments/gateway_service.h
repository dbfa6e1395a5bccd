// The gateway's HTTP API (docs/payment-gateway.md): /v1/* for the merchant,
// behind the bearer key and the faults, and /control/* for tests. Owns the
// ledger and the fault settings; hands webhooks to the Sender and answers
// held back to the Delayer.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>

#include "api/http/http_server.h"
#include "payments/gateway_delayer.h"
#include "payments/gateway_faults.h"
#include "payments/gateway_ledger.h"
#include "payments/gateway_sender.h"
#include "tools/splitmix.h"

namespace betcore::payments::gateway {

struct ServiceConfig {
  LedgerConfig ledger;
  std::string api_key;
  uint64_t seed = 1;
  Faults faults;  // in force from the start
};

// Counts of GET /control/stats kept here (the rest are the ledger's and the
// outbox's).
struct ServiceCounts {
  uint64_t requests = 0, requests_in_outage = 0, errors_injected = 0, timeouts_injected = 0,
           resets_injected = 0;
};

// Thread-safe: handle() runs on the server's I/O threads, several at once.
class Service {
 public:
  Service(ServiceConfig config, Sender& sender, Delayer& delayer);

  // The http::Handler. Never blocks: held answers go to the Delayer.
  void handle(http::Request&& request, http::Responder responder);

 private:
  void v1(const http::Request& request, http::Responder responder);
  http::Response v1_route(const http::Request& request);
  http::Response create_payout(const http::Request& request);
  http::Response get_payout(std::string_view id);
  http::Response list(const http::Request& request, bool payouts);
  http::Response control(const http::Request& request);
  http::Response create_deposit(const http::Request& request);
  http::Response post_faults(const http::Request& request);
  http::Response stats();
  bool authorized(const http::Request& request) const;

  const std::string api_key_;
  Sender& sender_;
  Delayer& delayer_;
  std::mutex mu_;  // guards everything below; taken before the Sender's
  Ledger ledger_;
  Faults faults_;
  tools::SplitMix64 rng_;
  ServiceCounts counts_;
};

}  // namespace betcore::payments::gateway
