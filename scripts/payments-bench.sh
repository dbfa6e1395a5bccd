#!/usr/bin/env bash
# Payouts per second through `betcore payments`, end to end on real
# processes: a betcore node (fsync on), `betcore payment-gateway` (no faults,
# payouts settle after --settle-ms) and the adapter. N withdrawals are
# requested first, with the adapter stopped; then the adapter starts and the
# time until betcore has every outcome is its drain rate: payouts/s. Also the
# adapter's payout latency (p50, p99, from its /metrics; it includes the wait
# in the backlog). A benchmark, not a test.
#   scripts/payments-bench.sh [WITHDRAWALS] [WORKERS] [SETTLE_MS]
# Default: 5,000 withdrawals, 32 adapter workers, 50 ms settlement.
# BETCORE_URL=http://127.0.0.1:8080 BETCORE_TOKENS=run-cluster/tokens: through
# a running node or cluster (scripts/cluster.sh start) instead of a new node.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
workers=${2:-32}
settle=${3:-50}
repo=$PWD
dir=$(mktemp -d /tmp/betcore-payments-bench.XXXXXX)
base=${BETCORE_BENCH_PORT_BASE:-23500}
node=127.0.0.1:$base; gateway=127.0.0.1:$((base + 1)); adapter=127.0.0.1:$((base + 2))
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

printf 'api_key sk_bench\nwebhook_secret whsec_bench\n' > "$dir/secrets"
if [ -n "${BETCORE_URL:-}" ]; then
  node=${BETCORE_URL#http://}
  cp "${BETCORE_TOKENS:?BETCORE_TOKENS: the credentials file of that node or cluster}" "$dir/credentials"
else
  ./scripts/write-tokens.sh "$dir/tokens" "$dir/credentials"
  "$repo/build/betcore" node --data "$dir/data" --listen "$node" --tokens "$dir/tokens" --plain-http > "$dir/node.log" 2>&1 &
fi
for _ in $(seq 1 100); do curl -fsS "http://$node/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
"$repo/build/betcore" payment-gateway --listen "$gateway" --secrets "$dir/secrets" --settle-ms "$settle" \
  --webhook-url "http://$adapter/webhooks/gateway" > "$dir/gateway.log" 2>&1 &
echo "== $n withdrawals, $workers adapter workers, payouts settle after $settle ms"
python3 - "$node" "$dir/credentials" "$n" "http://$adapter/metrics" "$dir/adapter.log" \
  "$repo/build/betcore" payments --betcore "http://$node" --tokens "$dir/credentials" --gateway "http://$gateway" \
  --secrets "$dir/secrets" --listen "$adapter" --workers "$workers" --reconcile-interval-s 0 <<'PY'
import http.client, json, re, subprocess, sys, threading, time, urllib.request
node, tokens, n, metrics_url, adapter_log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
adapter_cmd = sys.argv[6:]
admin = payments = None
for line in open(tokens):
    f = line.split()
    if len(f) >= 2 and f[0] == 'admin' and not admin: admin = f[1]
    if len(f) >= 2 and f[0] == 'payments' and not payments: payments = f[1]
host, port = node.split(':')
def conn(): return http.client.HTTPConnection(host, int(port), timeout=30)
def call(c, method, path, body, token):
    c.request(method, path, json.dumps(body) if body is not None else None,
              {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'})
    r = c.getresponse(); data = r.read()
    return r.status, data
c = conn()
accounts = 100
run = f'{int(time.time()) % 100000}'  # ids of this run, so a shared node can be reused
for i in range(accounts):
    call(c, 'POST', '/v1/accounts', {'account_id': f'pb{run}-{i}', 'currency': 'EUR'}, admin)
    call(c, 'POST', '/v1/deposits', {'payment_ref': f'seed-{run}-{i}', 'account_id': f'pb{run}-{i}', 'amount': 10**9}, payments)
t0 = time.monotonic()
def requester(k):
    c = conn()
    for i in range(k, n, 8):
        s, d = call(c, 'POST', '/v1/withdrawals', {'withdrawal_id': f'w{run}-{i}', 'account_id': f'pb{run}-{i % accounts}', 'amount': 100 + i % 900}, admin)
        if s != 201: print('withdrawal', i, s, d, file=sys.stderr); sys.exit(1)
ts = [threading.Thread(target=requester, args=(k,)) for k in range(8)]
for t in ts: t.start()
for t in ts: t.join()
requested = time.monotonic() - t0
print(f'requested {n} withdrawals in {requested:.1f} s; starting the adapter', flush=True)
start = time.monotonic()
adapter = subprocess.Popen(adapter_cmd, stdout=open(adapter_log, 'w'), stderr=subprocess.STDOUT)
while True:
    s, d = call(c, 'GET', '/v1/ledger/balance', None, admin)
    eur = [x for x in json.loads(d)['currencies'] if x['currency'] == 'EUR'][0]
    if eur['pending_withdrawals'] == 0: break
    time.sleep(0.05)
    if time.monotonic() - start > 600: print('not finished in 600 s', file=sys.stderr); sys.exit(1)
elapsed = time.monotonic() - start
text = urllib.request.urlopen(metrics_url).read().decode()
adapter.terminate(); adapter.wait()
buckets = sorted((float('inf') if m.group(1) == '+Inf' else float(m.group(1)), float(v))
                 for m, v in ((re.match(r'betcore_payments_payout_seconds_bucket\{le="([^"]+)"\}', l.rsplit(' ', 1)[0]), l.rsplit(' ', 1)[1])
                              for l in text.splitlines() if l.startswith('betcore_payments_payout_seconds_bucket')) if m)
total = buckets[-1][1] if buckets else 0
def q(p):
    want, prev_le, prev_n = p * total, 0.0, 0.0
    for le, cnt in buckets:
        if cnt >= want:
            return prev_le if le == float('inf') else prev_le + (le - prev_le) * ((want - prev_n) / max(cnt - prev_n, 1))
        prev_le, prev_n = le, cnt
    return prev_le
print(f'the adapter paid or failed all {n} in {elapsed:.1f} s from its start')
print(f'payouts/s: {n / elapsed:,.0f}   payout latency p50 {q(0.5) * 1000:.0f} ms  p99 {q(0.99) * 1000:.0f} ms (read to outcome in betcore)')
PY
