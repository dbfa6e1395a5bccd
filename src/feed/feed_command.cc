// The command lines of `betcore feed` and `betcore feed-provider`.
#include "feed/feed_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>

#include "feed/adapter.h"
#include "feed/provider.h"
#include "tools/server_process.h"
#include "tools/tls_flags.h"

namespace betcore::feed {
namespace {

AmqpOptions amqp_or_exit(const std::string& url) {
  std::optional<AmqpOptions> o = parse_amqp_url(url);
  if (!o) {
    spdlog::error("--amqp {} is not an amqp://user:password@host:port/vhost URL", url);
    std::exit(2);
  }
  return *o;
}

void add_provider(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "feed-provider",
      "Play an odds provider on RabbitMQ (fixtures, odds, alives, settlements, recovery), "
      "misbehaving when told; see docs/feed-protocol.md");
  auto o = std::make_shared<ProviderOptions>();
  auto amqp = std::make_shared<std::string>("amqp://guest:guest@127.0.0.1:5672");
  auto listen = std::make_shared<std::string>("127.0.0.1:0");
  cmd->add_option("--amqp", *amqp, "RabbitMQ to publish to")->capture_default_str();
  cmd->add_option("--exchange", o->exchange, "The topic exchange")->capture_default_str();
  cmd->add_option("--queue", o->queue,
                  "Also declare this customer queue, bound to everything (so nothing is lost "
                  "before the adapter first connects)");
  cmd->add_option("--listen", *listen, "HOST:PORT of the recovery and control API (port 0: any)")
      ->capture_default_str();
  cmd->add_option("--rate", o->selections_per_s, "Selection prices changed per second")
      ->capture_default_str();
  cmd->add_option("--alive-interval-ms", o->alive_interval_ms, "One alive per producer this often")
      ->capture_default_str()->check(CLI::Range(100, 60000));
  cmd->add_option("--events", o->world.events, "Fixtures")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--markets-per-event", o->world.markets_per_event, "Markets of each fixture")
      ->capture_default_str()->check(CLI::Range(1, 100));
  cmd->add_option("--seed", o->world.seed, "Seed of the prices")->capture_default_str();
  cmd->callback([o, amqp, listen] {
    o->amqp = amqp_or_exit(*amqp);
    tools::listen_flag_or_exit("--listen", *listen, o->listen_host, o->listen_port);
    std::exit(run_provider(*o));
  });
}

void add_adapter(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "feed",
      "The odds feed adapter: consume a provider's RabbitMQ queue and apply it to betcore, "
      "exactly once and in order; see docs/integrations.md");
  auto o = std::make_shared<AdapterOptions>();
  auto amqp = std::make_shared<std::string>("amqp://guest:guest@127.0.0.1:5672");
  auto betcore = std::make_shared<std::string>("https://127.0.0.1:8080");
  auto provider = std::make_shared<std::string>();
  auto tokens = std::make_shared<std::string>();
  auto metrics = std::make_shared<std::string>("127.0.0.1:0");
  cmd->add_option("--amqp", *amqp,
                  "RabbitMQ to consume from (its password: give it in BETCORE_AMQP, not on the "
                  "command line, where every local user can read it)")
      ->capture_default_str()
      ->envname("BETCORE_AMQP");
  cmd->add_option("--exchange", o->exchange, "The provider's topic exchange")->capture_default_str();
  cmd->add_option("--queue", o->queue, "Our durable queue (its dead letters go to QUEUE.dead)")
      ->capture_default_str();
  cmd->add_option("--binding-key", o->binding_key, "What of the exchange the queue takes")
      ->capture_default_str();
  cmd->add_option("--prefetch", o->prefetch, "Unacked messages at most")->capture_default_str()
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--betcore", *betcore, "A node, or HAProxy before a cluster")->capture_default_str();
  tools::add_tls_client_flags(cmd);
  cmd->add_option("--tokens", *tokens, "The tokens file; its first feed token is used")->required();
  cmd->add_option("--provider", *provider, "The provider's recovery API, http://HOST:PORT")->required();
  cmd->add_option("--limit-ms", o->limit_ms, "How long each alive keeps a producer's markets open")
      ->capture_default_str()->check(CLI::Range(1000, 600000));
  cmd->add_option("--alive-max-lag-ms", o->alive_max_lag_ms,
                  "An alive older than this is not passed on: markets stay open only while the "
                  "adapter keeps up")
      ->capture_default_str()->check(CLI::Range(100, 600000));
  cmd->add_option("--workers", o->workers, "Requests to betcore in parallel (one event's in order)")
      ->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--batch", o->batch,
                  "Odds changes waiting for one worker sent in one request, at most (1: one "
                  "request each)")
      ->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--state-file", o->state_file,
                  "Where the last applied time stamp of each producer is kept across restarts");
  cmd->add_option("--metrics-listen", *metrics, "HOST:PORT of GET /metrics (port 0: any)")
      ->capture_default_str();
  cmd->callback([o, amqp, betcore, provider, tokens, metrics] {
    o->amqp = amqp_or_exit(*amqp);
    o->betcore = tools::url_flag_or_exit("--betcore", *betcore);
    o->provider = tools::url_flag_or_exit("--provider", *provider);
    o->token = tools::role_token_or_exit(*tokens, "feed");
    tools::listen_flag_or_exit("--metrics-listen", *metrics, o->metrics_host, o->metrics_port);
    std::exit(run_adapter(*o));
  });
}

}  // namespace

void add_feed_commands(CLI::App& app) {
  add_provider(app);
  add_adapter(app);
}

}  // namespace betcore::feed
