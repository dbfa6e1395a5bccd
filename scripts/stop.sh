#!/usr/bin/env bash
# Stops the node started by scripts/start.sh (SIGTERM: answers in flight finish first).
# scripts/stop.sh --cluster stops the local cluster instead (scripts/cluster.sh stop).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --cluster ]; then
  BETCORE_HOME=$(realpath -m "${BETCORE_CLUSTER_HOME:-$PWD/run-cluster}") ./scripts/payments.sh stop
  BETCORE_HOME=$(realpath -m "${BETCORE_CLUSTER_HOME:-$PWD/run-cluster}") ./scripts/feed.sh stop
  exec ./scripts/cluster.sh stop
fi
home=${BETCORE_HOME:-$PWD/run}
BETCORE_HOME=$home ./scripts/payments.sh stop
BETCORE_HOME=$home ./scripts/feed.sh stop
if [ ! -f "$home/node.pid" ] || ! kill -0 "$(cat "$home/node.pid")" 2>/dev/null; then
  echo "betcore is not running (no live pid in $home/node.pid)"
  rm -f "$home/node.pid"
  exit 0
fi
pid=$(cat "$home/node.pid")
kill -TERM "$pid"
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || { rm -f "$home/node.pid"; echo "betcore stopped"; exit 0; }
  sleep 0.1
done
echo "betcore (pid $pid) did not stop in 10 s; sending SIGKILL (the log is safe: every acknowledged write is fsynced)"
kill -KILL "$pid" || true
rm -f "$home/node.pid"
