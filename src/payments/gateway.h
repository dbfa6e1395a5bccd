// `betcore payment-gateway`: a payment service provider to test the payments
// adapter against (docs/payment-gateway.md). State is in memory only: a
// restarted gateway has forgotten every payout and deposit.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "payments/gateway_faults.h"
#include "tools/http_client.h"

namespace betcore::payments::gateway {

struct GatewayOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;
  std::string api_key;
  std::string webhook_secret;
  std::optional<tools::Url> webhook_url;  // none: deposits are kept, never delivered
  int64_t settle_ms = 200;
  double fail_share = 0;
  uint64_t seed = 1;
  int sender_threads = 4;
  Faults faults;  // in force from the start
};

// Serves until SIGINT or SIGTERM; returns the exit code (0, or 1 when it
// cannot listen). Prints "payment-gateway listening on http://HOST:PORT" on
// stdout once it accepts connections.
int run_gateway(const GatewayOptions& options);

}  // namespace betcore::payments::gateway
