#!/usr/bin/env bash
# The backup's figures, on real processes (docs/backup.md):
#   1. the archiver's cost: `betcore bench` bets/s on a fresh node (fsync on)
#      without, then with `betcore backup run` following it;
#   2. the RPO: p50/p99 of betcore_backup_archive_lag_seconds (batch stamp ->
#      its segment durable in the archive) under that load;
#   3. restore speed: `betcore restore` of everything archived, replayed from
#      the log's start (no snapshot within the run): commands/s, and the time
#      for a million commands when there are that many.
# A benchmark, not a test. Usage: scripts/backup-bench.sh [SECONDS of load, default 45]
# BETCORE_BENCH_KEEP=1 keeps its directory (the archive, to profile a restore);
# BETCORE_ARCHIVER_NICE=N runs the archiver at that nice level (default 0).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-45}
bin=${BETCORE_BIN:-build/betcore}
dir=$(mktemp -d /tmp/betcore-backup-bench.XXXXXX)
base=${BETCORE_BENCH_PORT_BASE:-23600}
if [ -n "${BETCORE_BENCH_KEEP:-}" ]; then
  trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; echo "kept: $dir"' EXIT
else
  trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
fi
BETCORE_BIN=$bin ./scripts/write-tokens.sh "$dir/tokens" "$dir/credentials"
"$bin" backup keygen --out "$dir/key" >/dev/null

start_node() {  # start_node NAME PORT
  "$bin" node --data "$dir/$1" --listen "127.0.0.1:$2" --tokens "$dir/tokens" --plain-http > "$dir/$1.log" 2>&1 &
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$2/health/ready" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "node $1 did not start: $(tail -5 "$dir/$1.log")" >&2; exit 1
}
bench() {  # bench PORT RUN_ID: prints the bench's summary, returns bets/s in $rate
  "$bin" bench --target "http://127.0.0.1:$1" --tokens "$dir/credentials" --connections 64 --duration "$secs" \
    --warmup 3 --accounts 10000 --markets 100 --run-id "$2" | tee "$dir/bench-$2.txt" | grep -E '^(throughput|latency)' || true
  rate=$(awk '$1=="throughput"{print $2; exit}' "$dir/bench-$2.txt")
}

echo "== 1a. without the archiver: one node, fsync on, 64 connections, $secs s"
start_node plain $base
bench $base plain
plain=$rate
kill %1; wait %1 2>/dev/null || true

echo "== 1b. with \`betcore backup run\` following the node (segments every 1 s, snapshots every 600 s: the defaults)"
start_node archived $((base + 1))
nice -n "${BETCORE_ARCHIVER_NICE:-0}" "$bin" backup run --node "http://127.0.0.1:$((base + 1))" --tokens "$dir/credentials" --archive "$dir/archive" \
  --key "$dir/key" --metrics-listen "127.0.0.1:$((base + 2))" > "$dir/archiver.log" 2>&1 &
sleep 1
bench $((base + 1)) archived
with=$rate
python3 - "$plain" "$with" <<'PY'
import sys
plain, with_ = float(sys.argv[1] or 0), float(sys.argv[2] or 0)
if plain > 0: print(f"archiver cost: {plain:,.0f} -> {with_:,.0f} bets/s ({(plain - with_) / plain * 100:+.1f}% slower)")
PY

echo "== 2. RPO: archive lag (batch stamp -> durable in the archive)"
head=$(curl -fsS -H "Authorization: Bearer $(awk '$1=="admin"{print $2; exit}' "$dir/credentials")" \
  "http://127.0.0.1:$((base + 1))/v1/cluster" | python3 -c 'import json,sys; print(json.load(sys.stdin)["applied_index"])')
for _ in $(seq 1 600); do
  a=$(curl -fsS "http://127.0.0.1:$((base + 2))/metrics" | awk '$1=="betcore_backup_archived_position"{print $2}')
  [ "${a%.*}" -ge "$head" ] && break; sleep 0.1
done
curl -fsS "http://127.0.0.1:$((base + 2))/metrics" > "$dir/archiver.metrics"
python3 - "$dir/archiver.metrics" <<'PY'
import re, sys
buckets, count = [], 0
for line in open(sys.argv[1]):
    m = re.match(r'betcore_backup_archive_lag_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
    if m: buckets.append((float('inf') if m.group(1) == '+Inf' else float(m.group(1)), float(m.group(2))))
    m = re.match(r'betcore_backup_archive_lag_seconds_count (\S+)', line)
    if m: count = float(m.group(1))
def q(p):
    for le, c in buckets:
        if c >= p * count: return le
print(f"archive lag over {count:,.0f} batches: p50 <= {q(0.5)} s, p99 <= {q(0.99)} s (histogram bucket bounds)")
PY
kill %2 2>/dev/null; wait %2 2>/dev/null || true

echo "== 3. restore everything archived"
/usr/bin/time -f '%e s wall, %M KiB max RSS' "$bin" restore --archive "$dir/archive" --key "$dir/key" \
  --data-dir "$dir/restored" 2>"$dir/restore.err" > "$dir/restore.json" || { cat "$dir/restore.err"; exit 1; }
tail -1 "$dir/restore.err"
python3 - "$dir/restore.json" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
cps = r['commands_replayed'] / r['seconds'] if r['seconds'] > 0 else 0
print(f"restored position {r['position']}: {r['commands_replayed']:,} commands in {r['batches_replayed']:,} batches "
      f"replayed in {r['seconds']:.2f} s = {cps:,.0f} commands/s; digest checked: {r['digest_checked']}")
if r['commands_replayed'] >= 1_000_000:
    print(f"time to restore 1,000,000 commands: {1_000_000 / cps:.2f} s")
PY
