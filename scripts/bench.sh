#!/usr/bin/env bash
# Measures betcore end to end and prints the figures the README reports:
#   1. apply: Google Benchmark of the state machine (1M accounts, 10k markets)
#   2. end to end: a fresh single node (fsync on) under `betcore bench`, over
#      plain HTTP and then over TLS (the cost of TLS, docs/security.md)
#   3. restart replay speed
#   4. the binary formats: command records, fingerprints, snapshots
# Usage: scripts/bench.sh [seconds of load, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "${BETCORE_BUILD_JOBS:-2}" betcore apply_bench replay_bench codec_bench

echo "== 1. apply (one thread)"
build/bench/apply_bench --benchmark_filter=Place

dir=$(mktemp -d /tmp/betcore-bench-XXXXXX)
node=
trap 'kill "$node" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
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
    --tokens "$dir/credentials" --connections 64 --duration "$secs" --warmup 3 --accounts 10000 --markets 100
  curl -fsS "$scheme://127.0.0.1:$port/metrics" | grep -E '^betcore_(batch_commands|log_append_seconds)_(sum|count)'
  kill "$node"; wait "$node" 2>/dev/null || true
}
end_to_end http
end_to_end https

echo "== 3. restart replay"
build/bench/replay_bench 1000000 "$dir/replay"

echo "== 4. binary formats (command record, fingerprint, snapshot of 100k accounts)"
build/bench/codec_bench
