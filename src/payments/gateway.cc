// The gateway process: the HTTP server, the webhook senders, the timer for
// held answers, and a clean stop on SIGINT or SIGTERM.
#include "payments/gateway.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "api/http/http_server.h"
#include "payments/gateway_delayer.h"
#include "payments/gateway_sender.h"
#include "payments/gateway_service.h"
#include "tools/server_process.h"

namespace betcore::payments::gateway {

int run_gateway(const GatewayOptions& options) {
  const sigset_t stop_signals = tools::block_stop_signals();

  Delayer delayer;
  Sender sender(SenderConfig{options.webhook_url, options.webhook_secret, options.sender_threads,
                             10'000, options.seed});
  Service service(ServiceConfig{LedgerConfig{options.settle_ms, options.fail_share},
                                options.api_key, options.seed, options.faults},
                  sender, delayer);
  http::Options http_options;
  http_options.host = options.listen_host;
  http_options.port = options.listen_port;
  http_options.threads = 2;
  http_options.capture_headers = {"idempotency-key"};
  // A held answer must leave before the server's own 504: latency plus hold.
  http_options.response_timeout_ms = kLatencyMsMax + kTimeoutHoldMsMax + 10'000;
  http::Server server(http_options, [&service](http::Request&& request, http::Responder responder) {
    service.handle(std::move(request), std::move(responder));
  });
  if (http::Status s = server.start(); !s.ok()) {
    spdlog::error("payment-gateway: cannot listen on {}:{}: {}; choose another --listen",
                  options.listen_host, options.listen_port, s.error);
    return 1;
  }
  sender.start();
  if (options.webhook_url) {
    spdlog::info("payment-gateway: webhooks go to http://{}{}", options.webhook_url->host_port(),
                 options.webhook_url->path);
  } else {
    spdlog::warn("payment-gateway: no --webhook-url: deposits are recorded but not delivered");
  }
  std::string host = options.listen_host.find(':') != std::string::npos
                         ? "[" + options.listen_host + "]"
                         : options.listen_host;
  // Tests read this line to learn the port (--listen HOST:0).
  std::printf("payment-gateway listening on http://%s:%u\n", host.c_str(),
              static_cast<unsigned>(server.bound_port()));
  std::fflush(stdout);

  int sig = tools::wait_for_stop_signal(stop_signals);
  spdlog::info("payment-gateway: signal {}: stopping", sig);
  // Held answers first (each answers 500 as it is dropped; later ones go at
  // once), so that the server's stop does not wait for a 15 s timeout hold.
  delayer.stop();
  server.stop();
  sender.stop();  // a delivery in flight finishes first
  return 0;
}

}  // namespace betcore::payments::gateway
