#!/usr/bin/env bash
# Measures betcore end to end and prints the figures the README reports:
#   1. apply: Google Benchmark of the state machine (1M accounts, 10k markets)
#   2. end to end: a fresh single node (fsync on) under `betcore bench`, over
#      plain HTTP and then over TLS (the cost of TLS, docs/security.md)
#   3. the cluster: 3 etcd members, 3 nodes and HAProxy (scripts/cluster.sh,
#      plain HTTP) under `betcore bench` with 256 connections
#   4. restart replay speed
#   5. the binary formats: command records, fingerprints, snapshots
#   6. the anchor: the same bet as a PostgreSQL 15 transaction under pgbench,
#      one server (64 connections) and with a synchronous standby (64 and 256)
#      (scripts/pg-anchor.sh)
#   7. failover: ten `kill -9` of the etcd leader under load, the time from
#      each to the first write sent after it and acknowledged (cluster_test)
#   8. write stalls: `betcore drill` pausing, killing and cutting off nodes and
#      the etcd leader under load, the longest time with no write acknowledged
#      per fault kind (needs root: network namespaces)
# Steps 2 and 3 print where the nodes' time went (per stage, from their
# /metrics) and the CPU of every process per 1,000 bets (betcore bench
# --metrics, --process). Step 3 uses the cluster's fixed ports (8080-8083,
# 12379-32380, 8404): stop any other local cluster first.
# Usage: scripts/bench.sh [seconds of load, default 20]
# BETCORE_BENCH_STEPS picks steps (e.g. "2 3"); all eight by default.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
steps=" ${BETCORE_BENCH_STEPS:-1 2 3 4 5 6 7 8} "
step() { [[ $steps == *" $1 "* ]]; }
./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "${BETCORE_BUILD_JOBS:-2}" betcore apply_bench replay_bench codec_bench cluster_test
repo=$PWD

if step 1; then
  echo "== 1. apply (one thread)"
  build/bench/apply_bench --benchmark_filter=Place
fi

dir=$(mktemp -d /tmp/betcore-bench-XXXXXX)
node=
cluster_home=$dir/cluster
cleanup() {
  kill "$node" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -d "$cluster_home" ] && BETCORE_CLUSTER_HOME=$cluster_home BETCORE_BIN=$repo/build/betcore \
    scripts/cluster.sh stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
./scripts/write-tokens.sh "$dir/tokens" "$dir/credentials"
build/betcore certs --dir "$dir/tls" --name node >/dev/null
export CURL_CA_BUNDLE="$dir/tls/ca.pem"
port=18977

end_to_end() {  # end_to_end http|https: a fresh node, then the load
  local scheme=$1 flags=(--plain-http)
  [ "$scheme" = https ] && flags=(--tls-cert "$dir/tls/node.pem" --tls-key "$dir/tls/node.key")
  echo "== 2. end to end ($scheme): one node, fsync on, 64 connections, ${secs} s"
  rm -rf "$dir/data"
  build/betcore node --data "$dir/data" --listen 127.0.0.1:$port --tokens "$dir/tokens" \
    "${flags[@]}" > "$dir/node-$scheme.log" 2>&1 &
  node=$!
  for _ in $(seq 1 50); do curl -fsS "$scheme://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
  build/betcore bench --target "$scheme://127.0.0.1:$port" --tls-ca "$dir/tls/ca.pem" \
    --tokens "$dir/credentials" --connections 64 --duration "$secs" --warmup 3 --accounts 10000 --markets 100 \
    --process "node=$node"
  curl -fsS "$scheme://127.0.0.1:$port/metrics" | grep -E '^betcore_(batch_commands|log_append_seconds)_(sum|count)'
  kill "$node"; wait "$node" 2>/dev/null || true
}
if step 2; then
  end_to_end http
  end_to_end https
fi

if step 3; then
  echo "== 3. the cluster: 3 etcd members, 3 nodes, HAProxy (plain HTTP), 256 connections, ${secs} s"
  export BETCORE_CLUSTER_HOME=$cluster_home BETCORE_BIN=$repo/build/betcore BETCORE_PLAIN_HTTP=1
  scripts/cluster.sh start > "$dir/cluster-start.log" 2>&1 || { tail -30 "$dir/cluster-start.log"; exit 1; }
  processes=(--process "haproxy=$(cat "$cluster_home/haproxy/haproxy.pid")")
  metrics=()
  for n in 1 2 3; do
    processes+=(--process "node-$n=$(cat "$cluster_home/node-$n/node.pid")"
                --process "etcd-$n=$(cat "$cluster_home/etcd-$n/etcd.pid")")
    metrics+=(--metrics "http://127.0.0.1:$((8080 + n))/metrics")
  done
  build/betcore bench --target http://127.0.0.1:8080 --tokens "$cluster_home/credentials" \
    --connections 256 --duration "$secs" --warmup 3 --accounts 10000 --markets 100 "${metrics[@]}" "${processes[@]}"
  for n in 1 2 3; do
    curl -fsS "http://127.0.0.1:$((8080 + n))/metrics" | grep -E '^betcore_batch_commands_(sum|count)' | sed "s/^/node-$n /"
  done
  scripts/cluster.sh stop > /dev/null
  unset BETCORE_CLUSTER_HOME BETCORE_PLAIN_HTTP
fi

if step 4; then
  echo "== 4. restart replay"
  build/bench/replay_bench 1000000 "$dir/replay"
fi

if step 5; then
  echo "== 5. binary formats (command record, fingerprint, snapshot of 100k accounts)"
  build/bench/codec_bench
fi

if step 6; then
  echo "== 6. the anchor: PostgreSQL 15"
  scripts/pg-anchor.sh "$secs" || echo "step 6 failed (above: what pg-anchor.sh said); the other steps go on"
fi

if step 7; then
  echo "== 7. failover: ten kill -9 of the etcd leader under load"
  BETCORE_LEADER_KILLS=10 build/tests/cluster/cluster_test --gtest_filter='*EtcdLeaderKilled*' |
    grep -E '^(etcd leader kill|  retried|\[  )'
fi

if step 8; then
  echo "== 8. write stalls: betcore drill, nodes and the etcd leader paused, killed and cut off under load"
  if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: the drill needs root (network namespaces); run scripts/bench.sh as root, or sudo"
  else
    build/betcore drill --seed 7 --faults 12 --minutes 1 --out build/bench-drill-report \
      --kinds pause_node --kinds kill_node --kinds node_link_down --kinds partition_node_from_etcd \
      --kinds kill_etcd_leader --kinds pause_etcd_leader | sed -n '/^betcore drill:/,$p'
  fi
fi
