#!/usr/bin/env bash
# Installs what is missing, builds betcore, and starts the embedded single
# node in the background. Prints the URL, the tokens and a first bet to try.
#   scripts/start.sh            # https://127.0.0.1:8080, state in ./run
#   BETCORE_LISTEN=0.0.0.0:9000 BETCORE_HOME=/srv/betcore scripts/start.sh
#   BETCORE_PLAIN_HTTP=1 scripts/start.sh   # plain HTTP (a trusted network only)
# TLS is on: a private CA and the node's certificate are made in
# $BETCORE_HOME/tls (`betcore certs`); curl trusts it with --cacert (or
# CURL_CA_BUNDLE, as printed at the end).
#   scripts/start.sh --cluster  # a local cluster instead: scripts/cluster.sh start
# Beside the node: the odds feed (RabbitMQ, a provider and the adapter, see
# scripts/feed.sh and docs/integrations.md), so prices move at once; and
# payments (a payment gateway and the adapter, scripts/payments.sh), so a
# withdrawal is paid and a deposit credited by themselves.
# BETCORE_NO_FEED=1 / BETCORE_NO_PAYMENTS=1 leave them out.
# Stop it with scripts/stop.sh (scripts/stop.sh --cluster for the cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --cluster ]; then
  ./scripts/cluster.sh start
  cluster_home=$(realpath -m "${BETCORE_CLUSTER_HOME:-$PWD/run-cluster}")
  cluster_url="https://${BETCORE_LISTEN:-127.0.0.1:8080}"
  if [ "${BETCORE_PLAIN_HTTP:-0}" = 1 ]; then
    cluster_url="http://${BETCORE_LISTEN:-127.0.0.1:8080}"
  else
    export BETCORE_TLS_CA=$cluster_home/tls/ca.pem  # the adapters trust the cluster's CA
  fi
  if [ "${BETCORE_NO_FEED:-0}" != 1 ]; then BETCORE_HOME="$cluster_home" ./scripts/feed.sh start "$cluster_url"; fi
  if [ "${BETCORE_NO_PAYMENTS:-0}" != 1 ]; then BETCORE_HOME="$cluster_home" ./scripts/payments.sh start "$cluster_url"; fi
  exit 0
fi
repo=$PWD
home=${BETCORE_HOME:-$repo/run}
listen=${BETCORE_LISTEN:-127.0.0.1:8080}

./scripts/install-deps.sh
echo "== building (two jobs; the first build takes a few minutes)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "${BETCORE_BUILD_JOBS:-2}" betcore

mkdir -p "$home"
if [ -f "$home/node.pid" ] && kill -0 "$(cat "$home/node.pid")" 2>/dev/null; then
  echo "betcore is already running (pid $(cat "$home/node.pid")); stop it with scripts/stop.sh" >&2
  exit 1
fi

./scripts/write-tokens.sh "$home/tokens" "$home/credentials"
role_token() { awk -v r="$1" '$1==r {print $2; exit}' "$home/credentials"; }

tls_flags=(--plain-http)
url="http://$listen"
if [ "${BETCORE_PLAIN_HTTP:-0}" != 1 ]; then
  # The CA is made once and kept (clients trust it); the node's certificate
  # is issued again on every start, for the listen host too.
  host=${listen%:*}
  hosts=(--host 127.0.0.1 --host localhost)
  case "$host" in 127.0.0.1|localhost|0.0.0.0|'') ;; *) hosts+=(--host "$host") ;; esac
  "$repo/build/betcore" certs --dir "$home/tls" --name node "${hosts[@]}" >/dev/null
  tls_flags=(--tls-cert "$home/tls/node.pem" --tls-key "$home/tls/node.key")
  url="https://$listen"
  export CURL_CA_BUNDLE="$home/tls/ca.pem" BETCORE_TLS_CA="$home/tls/ca.pem"
fi
nohup "$repo/build/betcore" node --data "$home/data" --listen "$listen" --tokens "$home/tokens" \
  "${tls_flags[@]}" >> "$home/node.log" 2>&1 &
echo $! > "$home/node.pid"

for _ in $(seq 1 100); do
  if curl -fsS "$url/health/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$(cat "$home/node.pid")" 2>/dev/null; then
    echo "betcore exited at start; its log says:" >&2
    tail -20 "$home/node.log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS "$url/health/ready" >/dev/null || { echo "betcore did not become ready; see $home/node.log" >&2; exit 1; }
if [ "${BETCORE_NO_FEED:-0}" != 1 ]; then BETCORE_HOME=$home ./scripts/feed.sh start "$url"; fi
if [ "${BETCORE_NO_PAYMENTS:-0}" != 1 ]; then BETCORE_HOME=$home ./scripts/payments.sh start "$url"; fi
gateway=http://${BETCORE_GATEWAY_LISTEN:-127.0.0.1:8091}

cat <<TXT

betcore is running: $url  (pid $(cat "$home/node.pid"), log $home/node.log, data $home/data)
$([ -n "${CURL_CA_BUNDLE:-}" ] && echo "TLS: trust the private CA first (curl reads CURL_CA_BUNDLE):
  export CURL_CA_BUNDLE=$CURL_CA_BUNDLE")
admin token:    $(role_token admin)
trader token:   $(role_token trader)
payments token: $(role_token payments)
feed token:     $(role_token feed)
punter token for account alice: $(role_token punter)
(all tokens: $home/credentials; the node reads only their hashes, $home/tokens)

Prices from the odds feed (scripts/feed.sh; docs/integrations.md):
  curl -s -H "Authorization: Bearer $(role_token feed)" $url/v1/markets/m-1-1

Money through the payment gateway (scripts/payments.sh; docs/integrations.md):
  A="Authorization: Bearer $(role_token admin)"
  curl -s -H "\$A" $url/v1/accounts -d '{"account_id":"bob","currency":"EUR"}'
  curl -s $gateway/control/deposits -d '{"account_id":"bob","amount":5000,"currency":"EUR"}'   # a webhook credits it
  curl -s -H "\$A" $url/v1/withdrawals -d '{"withdrawal_id":"wd-1","account_id":"bob","amount":2000}'
  curl -s -H "\$A" $url/v1/withdrawals/wd-1                                                    # completed, paid by the gateway

A first bet:
  A="Authorization: Bearer $(role_token admin)"; T="Authorization: Bearer $(role_token trader)"; P="Authorization: Bearer $(role_token payments)"
  curl -s -H "\$A" $url/v1/accounts -d '{"account_id":"alice","currency":"EUR"}'
  curl -s -H "\$P" $url/v1/deposits -d '{"payment_ref":"dep-1","account_id":"alice","amount":10000}'
  curl -s -H "\$T" $url/v1/events -d '{"event_id":"ev-1","name":"Home v Away","starts_at":"2026-12-01T20:00:00Z"}'
  curl -s -H "\$T" $url/v1/markets -d '{"market_id":"mk-1","event_id":"ev-1","name":"Match odds","selections":[{"selection_id":"home","name":"Home","odds":"2.10"},{"selection_id":"away","name":"Away","odds":"1.80"}]}'
  curl -s -H "\$T" $url/v1/bets -d '{"bet_id":"bet-1","account_id":"alice","stake":500,"legs":[{"market_id":"mk-1","selection_id":"home","odds":"2.10"}]}'
  curl -s -H "\$A" $url/v1/accounts/alice

Stop it with: scripts/stop.sh
TXT
