#!/usr/bin/env bash
# The odds feed beside a running node: a RabbitMQ broker of our own (state
# in $BETCORE_HOME/rabbitmq), `betcore feed-provider` playing the provider,
# and `betcore feed`, the adapter. scripts/start.sh and scripts/stop.sh call it.
#   scripts/feed.sh start URL   # URL: the node (or HAProxy), e.g. http://127.0.0.1:8080
#   scripts/feed.sh broker      # the broker alone (scripts/feed-bench.sh)
#   scripts/feed.sh stop
# Ports: BETCORE_AMQP_PORT (5673), BETCORE_PROVIDER_LISTEN (127.0.0.1:8090),
# BETCORE_FEED_METRICS (127.0.0.1:9102).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
home=${BETCORE_HOME:-$repo/run}
amqp_port=${BETCORE_AMQP_PORT:-5673}
provider_listen=${BETCORE_PROVIDER_LISTEN:-127.0.0.1:8090}
metrics_listen=${BETCORE_FEED_METRICS:-127.0.0.1:9102}
rmq=$home/rabbitmq

. "$repo/scripts/proc-lib.sh"

start_broker() {
  if alive "$rmq/pid"; then return; fi
  mkdir -p "$rmq"
  printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$amqp_port" > "$rmq/rabbitmq.conf"
  echo '[].' > "$rmq/enabled_plugins"
  echo "== starting RabbitMQ on 127.0.0.1:$amqp_port (Erlang takes a few seconds)"
  # RUNNING_UNDER_SYSTEMD makes the start script exec the broker itself, so
  # the pid we keep is the broker's.
  HOME=$rmq RABBITMQ_NODENAME=betcore-$amqp_port@localhost RABBITMQ_DIST_PORT=$((amqp_port + 20000)) \
    RABBITMQ_MNESIA_BASE=$rmq/mnesia RABBITMQ_LOG_BASE=$rmq/log RABBITMQ_CONFIG_FILE=$rmq/rabbitmq.conf \
    RABBITMQ_ENABLED_PLUGINS_FILE=$rmq/enabled_plugins RUNNING_UNDER_SYSTEMD=true \
    nohup /usr/lib/rabbitmq/bin/rabbitmq-server >> "$rmq/rabbitmq.out" 2>&1 &
  echo $! > "$rmq/pid"
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$amqp_port") 2>/dev/null; then return; fi
    if ! alive "$rmq/pid"; then
      echo "RabbitMQ exited at start; its log says:" >&2
      tail -20 "$rmq/rabbitmq.out" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "RabbitMQ did not take connections in 60 s; see $rmq/rabbitmq.out" >&2
  exit 1
}

start() {
  local betcore_url=$1 amqp=amqp://guest:guest@127.0.0.1:$amqp_port
  start_broker
  if ! alive "$home/feed-provider.pid"; then
    nohup "$repo/build/betcore" feed-provider --amqp "$amqp" --queue betcore.feed.customer \
      --listen "$provider_listen" --rate 200 >> "$home/feed-provider.log" 2>&1 &
    echo $! > "$home/feed-provider.pid"
  fi
  if ! alive "$home/feed.pid"; then
    nohup "$repo/build/betcore" feed --amqp "$amqp" --queue betcore.feed.customer \
      --betcore "$betcore_url" --tokens "$home/credentials" --provider "http://$provider_listen" \
      --state-file "$home/feed.state" --metrics-listen "$metrics_listen" >> "$home/feed.log" 2>&1 &
    echo $! > "$home/feed.pid"
  fi
  sleep 1
  for f in feed-provider feed; do
    alive "$home/$f.pid" || { echo "betcore $f exited at start; see $home/$f.log" >&2; tail -5 "$home/$f.log" >&2; exit 1; }
  done
  echo "odds feed: RabbitMQ 127.0.0.1:$amqp_port, provider http://$provider_listen, adapter metrics http://$metrics_listen/metrics"
}

case "${1:-}" in
  start) start "${2:?usage: scripts/feed.sh start BETCORE_URL}" ;;
  broker) start_broker ;;
  stop)
    stop_pid "$home/feed.pid" "feed adapter"
    stop_pid "$home/feed-provider.pid" "feed provider"
    stop_pid "$rmq/pid" "RabbitMQ"
    ;;
  *) echo "usage: scripts/feed.sh start BETCORE_URL | broker | stop" >&2; exit 2 ;;
esac
