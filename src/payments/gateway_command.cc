// The command line of `betcore payment-gateway`.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>

#include "payments/gateway.h"
#include "payments/payments_command.h"
#include "payments/secrets.h"
#include "tools/server_process.h"

namespace betcore::payments {
namespace {

struct Flags {
  gateway::GatewayOptions options;
  std::string listen = "127.0.0.1:0";
  std::string secrets;
  std::string webhook_url;
  int64_t outage_ms = 0;
};

// Exits 2, saying what to fix, on a flag the options cannot take.
void apply_or_exit(Flags& f) {
  gateway::GatewayOptions& o = f.options;
  tools::listen_flag_or_exit("--listen", f.listen, o.listen_host, o.listen_port);
  std::string error;
  std::optional<Secrets> secrets = read_secrets_file(f.secrets, &error);
  if (!secrets) {
    spdlog::error("--secrets {}: {}", f.secrets, error);
    std::exit(2);
  }
  o.api_key = secrets->api_key;
  o.webhook_secret = secrets->webhook_secret;
  if (!f.webhook_url.empty()) {
    o.webhook_url = tools::parse_url(f.webhook_url);
    if (!o.webhook_url) {
      spdlog::error("--webhook-url {} is not an http://HOST:PORT/PATH URL", f.webhook_url);
      std::exit(2);
    }
  }
  // The outage counts from the start, as if POSTed to /control/faults then.
  o.faults.outage_until_mono_ms = f.outage_ms > 0
                                      ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now().time_since_epoch())
                                                .count() +
                                            f.outage_ms
                                      : 0;
}

}  // namespace

void add_gateway_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "payment-gateway",
      "Play a payment service provider for tests, drills and the quick start: payouts with "
      "idempotency keys, signed deposit webhooks, faults on demand; see "
      "docs/payment-gateway.md");
  auto f = std::make_shared<Flags>();
  gateway::GatewayOptions& o = f->options;
  gateway::Faults& faults = o.faults;
  cmd->add_option("--listen", f->listen, "HOST:PORT of the API (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--secrets", f->secrets, "The secrets file (api_key, webhook_secret)")
      ->required();
  cmd->add_option("--webhook-url", f->webhook_url,
                  "Where deposit webhooks go, e.g. http://127.0.0.1:8090/webhooks/gateway "
                  "(none: deposits are recorded, not delivered)");
  cmd->add_option("--settle-ms", o.settle_ms,
                  "A payout moves from processing to paid or failed "
                  "this long after its creation")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{3'600'000}));
  cmd->add_option("--fail-share", o.fail_share,
                  "Share of payouts that fail (chosen by a hash of the idempotency key)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", o.seed, "Seed of the fault rolls and webhook jitter")
      ->capture_default_str();
  cmd->add_option("--webhook-threads", o.sender_threads, "Webhook sender threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  // The initial faults: the same as POST /control/faults at start-up.
  cmd->add_option("--latency-ms", faults.latency_ms, "Answer every /v1 call this much later")
      ->capture_default_str()
      ->check(CLI::Range(0, gateway::kLatencyMsMax));
  cmd->add_option("--error-share", faults.error_share, "Share of /v1 calls answered 500")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--timeout-share", faults.timeout_share,
                  "Share of /v1 calls processed, then held --timeout-hold-ms")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--timeout-hold-ms", faults.timeout_hold_ms, "How long a timeout holds")
      ->capture_default_str()
      ->check(CLI::Range(0, gateway::kTimeoutHoldMsMax));
  cmd->add_option("--reset-share", faults.reset_share,
                  "Share of /v1 calls processed, then answered with a TCP reset")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--outage-ms", f->outage_ms, "Answer every /v1 call 503 for this long from start")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, gateway::kOutageMsMax));
  cmd->add_option("--duplicate-share", faults.duplicate_share,
                  "Share of webhook events delivered twice")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--webhook-delay-ms-max", faults.webhook_delay_ms_max,
                  "Each webhook delivery first waits uniform 0..this (out of order)")
      ->capture_default_str()
      ->check(CLI::Range(0, gateway::kWebhookDelayMsMax));
  cmd->callback([f] {
    apply_or_exit(*f);
    std::exit(gateway::run_gateway(f->options));
  });
}

}  // namespace betcore::payments
