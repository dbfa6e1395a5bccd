// The command line of `betcore payments`.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "ops/metrics.h"
#include "payments/adapter.h"
#include "payments/payments_command.h"
#include "payments/secrets.h"
#include "tools/server_process.h"
#include "tools/tls_flags.h"

namespace betcore::payments {
namespace {

// The breaker's defaults are resilience4j's CircuitBreakerConfig defaults;
// the retry budget's are Finagle's RetryBudget defaults.
void add_resilience_flags(CLI::App& cmd_ref, GatewayConfig& g) {
  CLI::App* cmd = &cmd_ref;
  BreakerConfig& b = g.breaker;
  RetryBudgetConfig& rb = g.budget;
  cmd->add_option("--breaker-failure-rate", b.failure_rate_threshold,
                  "Open at this failure rate, percent")->capture_default_str()->check(CLI::Range(1.0, 100.0));
  cmd->add_option("--breaker-slow-rate", b.slow_call_rate_threshold,
                  "Open at this slow-call rate, percent")->capture_default_str()->check(CLI::Range(1.0, 100.0));
  cmd->add_option("--breaker-slow-ms", b.slow_call_duration_ms, "A call this long is slow")
      ->capture_default_str()->check(CLI::Range(1, 600000));
  cmd->add_option("--breaker-window", b.sliding_window_size, "Sliding window, calls")
      ->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--breaker-min-calls", b.minimum_number_of_calls,
                  "Calls in the window before a rate is judged")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--breaker-wait-ms", b.wait_open_ms, "Open this long before trial calls")
      ->capture_default_str()->check(CLI::Range(1, 3600000));
  cmd->add_option("--breaker-half-open-calls", b.permitted_calls_in_half_open,
                  "Trial calls in half-open")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("--retry-budget-ttl-s", rb.ttl_s, "Window of the retry budget")
      ->capture_default_str()->check(CLI::Range(1, 60));
  cmd->add_option("--retry-budget-min-per-s", rb.min_retries_per_s, "Retries always allowed per second")
      ->capture_default_str()->check(CLI::Range(0.0, 100000.0));
  cmd->add_option("--retry-budget-percent", rb.percent_can_retry, "Retries allowed, percent of calls")
      ->capture_default_str()->check(CLI::Range(0.0, 1000.0));
}

// `--reconcile-once`: one pass, its report on stdout; the exit code.
int reconcile_once(const AdapterOptions& o, bool repair) {
  ops::Registry registry;
  GatewayEndpoints endpoints(o.gateway, registry);
  GatewayClient client(endpoints);
  ReconcileReport report = reconcile(
      client, ReconcileOptions{o.betcore, o.token, repair, o.reconcile_grace_ms, o.gateway_ref_prefix});
  std::cout << report.to_json() << std::endl;
  if (!report.error.empty()) {
    spdlog::error("reconcile could not finish: {}", report.error);
    return 2;
  }
  return report.unrepaired() == 0 ? 0 : 1;
}

}  // namespace

void add_payments_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "payments",
      "The payment adapter: pay betcore's withdrawals through a payment gateway and credit its "
      "deposit webhooks, behind circuit breakers; see docs/integrations.md");
  auto o = std::make_shared<AdapterOptions>();
  auto betcore = std::make_shared<std::string>("https://127.0.0.1:8080");
  auto gateway = std::make_shared<std::string>();
  auto tokens = std::make_shared<std::string>();
  auto secrets = std::make_shared<std::string>();
  auto listen = std::make_shared<std::string>("127.0.0.1:0");
  auto once = std::make_shared<bool>(false);
  auto repair = std::make_shared<bool>(false);
  cmd->add_option("--betcore", *betcore, "A node, or HAProxy before a cluster")->capture_default_str();
  tools::add_tls_client_flags(cmd);
  cmd->add_option("--tokens", *tokens, "The tokens file; its first payments token is used")->required();
  cmd->add_option("--gateway", *gateway, "The payment gateway, http://HOST:PORT")->required();
  cmd->add_option("--secrets", *secrets,
                  "The gateway secrets file: 'api_key <key>' and 'webhook_secret <secret>' lines")
      ->required();
  cmd->add_option("--listen", *listen,
                  "HOST:PORT for the gateway's webhooks (/webhooks/gateway) and /metrics (port 0: any)")
      ->capture_default_str();
  cmd->add_option("--state-file", o->state_file,
                  "Where the stream position is kept across restarts (without it: from the start)");
  cmd->add_option("--workers", o->workers, "Withdrawals worked on at once")->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--gateway-timeout-ms", o->gateway.timeout_ms, "One gateway call at most")
      ->capture_default_str()->check(CLI::Range(100, 120000));
  cmd->add_option("--backoff-base-ms", o->backoff_base_ms, "First retry wait (full jitter)")
      ->capture_default_str()->check(CLI::Range(1, 60000));
  cmd->add_option("--backoff-cap-ms", o->backoff_cap_ms, "Longest retry wait")
      ->capture_default_str()->check(CLI::Range(1, 600000));
  add_resilience_flags(*cmd, o->gateway);
  cmd->add_option("--reconcile-interval-s", o->reconcile_interval_s,
                  "Reconcile with the gateway this often, repairing what is safe (0: never)")
      ->capture_default_str()->check(CLI::Range(0, 86400));
  cmd->add_option("--reconcile-grace-ms", o->reconcile_grace_ms,
                  "Judge only what the gateway recorded at least this long ago (work in flight)")
      ->capture_default_str()->check(CLI::Range(0, 86400000));
  cmd->add_option("--gateway-ref-prefix", o->gateway_ref_prefix,
                  "Betcore deposits whose payment_ref starts with this came from the gateway")
      ->capture_default_str();
  cmd->add_flag("--reconcile-once", *once,
                "Run one reconciliation pass, print its report (JSON) and exit: 0 when nothing is "
                "left unrepaired, 1 otherwise");
  cmd->add_flag("--repair", *repair, "With --reconcile-once: repair what is safe to repair");
  cmd->callback([o, betcore, gateway, tokens, secrets, listen, once, repair] {
    o->betcore = tools::url_flag_or_exit("--betcore", *betcore);
    o->gateway.url = tools::url_flag_or_exit("--gateway", *gateway);
    o->token = tools::role_token_or_exit(*tokens, "payments");
    std::string error;
    std::optional<Secrets> s = read_secrets_file(*secrets, &error);
    if (!s) {
      spdlog::error("--secrets {}", error);
      std::exit(2);
    }
    o->gateway.api_key = s->api_key;
    o->webhook_secret = s->webhook_secret;
    tools::listen_flag_or_exit("--listen", *listen, o->listen_host, o->listen_port);
    if (*once) std::exit(reconcile_once(*o, *repair));
    std::exit(run_adapter(*o));
  });
}

}  // namespace betcore::payments
