#!/usr/bin/env bash
# Payments beside a running node: `betcore payment-gateway` playing a payment
# service provider, and `betcore payments`, the adapter (docs/integrations.md).
# scripts/start.sh and scripts/stop.sh call it.
#   scripts/payments.sh start URL   # URL: the node (or HAProxy), e.g. http://127.0.0.1:8080
#   scripts/payments.sh stop
# Ports: BETCORE_GATEWAY_LISTEN (127.0.0.1:8091), BETCORE_PAYMENTS_LISTEN
# (127.0.0.1:9103: webhooks and /metrics). The secrets (API key, webhook
# secret) are made once, at random, in $BETCORE_HOME/gateway.secrets.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
home=${BETCORE_HOME:-$repo/run}
gateway_listen=${BETCORE_GATEWAY_LISTEN:-127.0.0.1:8091}
adapter_listen=${BETCORE_PAYMENTS_LISTEN:-127.0.0.1:9103}

. "$repo/scripts/proc-lib.sh"

start() {
  local betcore_url=$1 secrets=$home/gateway.secrets
  mkdir -p "$home"
  if [ ! -f "$secrets" ]; then
    (umask 077; printf 'api_key sk_%s\nwebhook_secret whsec_%s\n' \
      "$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
      "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$secrets")
  fi
  if ! alive "$home/payment-gateway.pid"; then
    nohup "$repo/build/betcore" payment-gateway --listen "$gateway_listen" --secrets "$secrets" \
      --webhook-url "http://$adapter_listen/webhooks/gateway" >> "$home/payment-gateway.log" 2>&1 &
    echo $! > "$home/payment-gateway.pid"
  fi
  if ! alive "$home/payments.pid"; then
    nohup "$repo/build/betcore" payments --betcore "$betcore_url" --tokens "$home/credentials" \
      --gateway "http://$gateway_listen" --secrets "$secrets" --listen "$adapter_listen" \
      --state-file "$home/payments.state" >> "$home/payments.log" 2>&1 &
    echo $! > "$home/payments.pid"
  fi
  for _ in $(seq 1 50); do
    curl -fsS "http://$adapter_listen/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done
  for f in payment-gateway payments; do
    alive "$home/$f.pid" || { echo "betcore $f exited at start; see $home/$f.log" >&2; tail -5 "$home/$f.log" >&2; exit 1; }
  done
  echo "payments: gateway http://$gateway_listen, adapter http://$adapter_listen (metrics at /metrics)"
}

case "${1:-}" in
  start) start "${2:?usage: scripts/payments.sh start BETCORE_URL}" ;;
  stop)
    stop_pid "$home/payments.pid" "payments adapter"
    stop_pid "$home/payment-gateway.pid" "payment gateway"
    ;;
  *) echo "usage: scripts/payments.sh start BETCORE_URL | stop" >&2; exit 2 ;;
esac
