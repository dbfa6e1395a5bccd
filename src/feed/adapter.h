// `betcore feed`: the odds feed adapter. Consumes the provider's messages
// from a durable RabbitMQ queue (manual acks, a prefetch), applies each to
// betcore through its API, and acks it only once betcore has acknowledged
// its effect. Malformed or refused messages go to `<queue>.dead` with their
// reason. Heartbeats keep the producers' markets open; after a gap it asks
// the provider for what it missed and reopens them only once that is applied.
#pragma once
#include <cstdint>
#include <string>

#include "feed/amqp.h"
#include "tools/http_client.h"

namespace betcore::feed {

struct AdapterOptions {
  AmqpOptions amqp;
  std::string exchange = "betcore.feed";
  std::string queue = "betcore.feed.customer";
  std::string binding_key = "#";
  int prefetch = 1024;
  tools::Url betcore;        // a node, or HAProxy in front of a cluster
  std::string token;         // role feed
  tools::Url provider;       // the provider's recovery API
  int limit_ms = 5000;       // each alive keeps a producer's markets open this long
  int workers = 8;           // parallel requests to betcore (one order per event)
  // Odds changes waiting in a worker's queue sent in one POST /v1/feed-prices,
  // at most (1..256, the node's kFeedBatchChangesMax); 1: each alone, as
  // POST /v1/markets/{id}/feed-prices.
  int batch = 64;
  // An alive older than this when it reaches the adapter is not passed on:
  // the adapter is behind, and the producer's markets must not stay open on
  // prices that late. It also bounds how late markets shut after a producer
  // falls silent: limit_ms + alive_max_lag_ms.
  int alive_max_lag_ms = 1000;
  int recovery_timeout_ms = 30000;
  std::string state_file;    // last applied time stamp per producer; "" keeps none
  std::string metrics_host = "127.0.0.1";
  uint16_t metrics_port = 0;  // GET /metrics here; 0: any free port, printed at start
};

// Runs until SIGINT or SIGTERM. Returns the process exit code.
int run_adapter(const AdapterOptions& options);

}  // namespace betcore::feed
