// `betcore feed-provider`: plays an odds provider for tests, the drill and
// the quick start. It publishes fixtures, odds changes, bet stops,
// settlements, rollbacks, cancellations and one alive per producer per
// interval to a RabbitMQ topic exchange with publisher confirms; answers
// recovery requests over HTTP; and misbehaves when told (docs/feed-protocol.md).
#pragma once
#include <cstdint>
#include <string>

#include "feed/amqp.h"
#include "feed/provider_world.h"

namespace betcore::feed {

struct ProviderOptions {
  AmqpOptions amqp;
  std::string exchange = "betcore.feed";
  // When set, the customer's queue is declared (durable) and bound to every
  // message, so nothing is lost before the adapter first connects.
  std::string queue;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: any free port, printed at start
  double selections_per_s = 1000;
  int alive_interval_ms = 1000;
  WorldOptions world;
};

// Runs until SIGINT or SIGTERM. Returns the process exit code.
int run_provider(const ProviderOptions& options);

}  // namespace betcore::feed
