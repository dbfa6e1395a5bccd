#!/usr/bin/env bash
# The odds feed's figures, end to end on real processes: a RabbitMQ broker,
# a betcore node (fsync on), `betcore feed-provider` publishing at a rate,
# and `betcore feed` applying it. Prints selection prices applied per second
# and the latency from the provider's time stamp to betcore's acknowledgement
# (p50, p99), read from the adapter's /metrics. A benchmark, not a test.
#   scripts/feed-bench.sh [SECONDS] [SELECTIONS_PER_S] [WORKERS]
# Default: 30 s at 60,000 selections/s offered, 16 workers. BETCORE_BIN picks
# the binary (default build/betcore); BETCORE_FEED_ARGS adds adapter flags
# (e.g. "--batch 1"). BETCORE_URL=http://127.0.0.1:8080 BETCORE_TOKENS=FILE:
# through a running node or cluster (scripts/cluster.sh start) instead of a
# new node (its markets must not exist yet: use a fresh cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
rate=${2:-60000}
workers=${3:-16}
repo=$PWD
bin=${BETCORE_BIN:-$repo/build/betcore}
dir=$(mktemp -d /tmp/betcore-feed-bench.XXXXXX)
base=${BETCORE_BENCH_PORT_BASE:-23400}
node=127.0.0.1:$base; provider=127.0.0.1:$((base + 1)); metrics=127.0.0.1:$((base + 2))
trap 'BETCORE_HOME=$dir BETCORE_AMQP_PORT=$((base + 3)) ./scripts/feed.sh stop >/dev/null; kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

if [ -n "${BETCORE_URL:-}" ]; then
  node=${BETCORE_URL#http://}
  cp "${BETCORE_TOKENS:?BETCORE_TOKENS: the credentials file of that node or cluster}" "$dir/credentials"
else
  BETCORE_BIN=$bin ./scripts/write-tokens.sh "$dir/tokens" "$dir/credentials"
  "$bin" node --data "$dir/data" --listen "$node" --tokens "$dir/tokens" --http-threads 2 --plain-http > "$dir/node.log" 2>&1 &
fi
for _ in $(seq 1 100); do curl -fsS "http://$node/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
# The broker (scripts/feed.sh), a provider at the asked rate, the adapter.
BETCORE_HOME=$dir BETCORE_AMQP_PORT=$((base + 3)) ./scripts/feed.sh broker
amqp=amqp://guest:guest@127.0.0.1:$((base + 3))
"$bin" feed-provider --amqp "$amqp" --queue bench --listen "$provider" --rate "$rate" \
  --events 200 --markets-per-event 10 > "$dir/provider.log" 2>&1 &
"$bin" feed --amqp "$amqp" --queue bench --betcore "http://$node" --tokens "$dir/credentials" \
  --provider "http://$provider" --workers "$workers" --metrics-listen "$metrics" ${BETCORE_FEED_ARGS:-} > "$dir/adapter.log" 2>&1 &
echo "== warming up 5 s (fixtures: 200 events, 2,000 markets)"
sleep 5
scrape() { curl -fsS "http://$metrics/metrics"; }
scrape > "$dir/before"
echo "== measuring ${seconds} s at ${rate} selections/s offered, ${workers} workers"
sleep "$seconds"
scrape > "$dir/after"
python3 - "$dir/before" "$dir/after" "$seconds" <<'PY'
import re, sys
def read(path):
    out = {}
    for line in open(path):
        if line.startswith('#') or not line.strip(): continue
        name, value = line.rsplit(' ', 1)
        out[name] = float(value)
    return out
a, b, secs = read(sys.argv[1]), read(sys.argv[2]), float(sys.argv[3])
d = lambda k: b.get(k, 0) - a.get(k, 0)
prices = d('betcore_feed_prices_applied_total')
msgs = sum(d(k) for k in b if k.startswith('betcore_feed_messages_total'))
buckets = sorted(((float('inf') if m.group(1) == '+Inf' else float(m.group(1))), d(k))
                 for k in b for m in [re.match(r'betcore_feed_apply_latency_seconds_bucket\{le="([^"]+)"\}', k)] if m)
total = buckets[-1][1] if buckets else 0
def q(p):
    want, prev_le, prev_n = p * total, 0.0, 0.0
    for le, n in buckets:
        if n >= want:
            if le == float('inf'): return prev_le
            return prev_le + (le - prev_le) * ((want - prev_n) / max(n - prev_n, 1))
        prev_le, prev_n = le, n
    return prev_le
print(f"selection prices applied: {prices / secs:,.0f}/s ({msgs / secs:,.0f} messages/s)")
print(f"provider time stamp -> betcore acknowledged: p50 {q(0.5) * 1000:.1f} ms, p99 {q(0.99) * 1000:.1f} ms")
dead = d('betcore_feed_messages_total{outcome="dead_letter"}')
print(f"dead letters: {dead:.0f}, retries: {d('betcore_feed_retries_total'):.0f}")
PY
