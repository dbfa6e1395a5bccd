#!/usr/bin/env bash
# The PostgreSQL anchor of the README's performance tables: the same bet,
# placed as a PostgreSQL 15 transaction by pgbench, on the same machine.
#   1. one server, fsync and synchronous_commit on, 64 connections
#      (against betcore's embedded node)
#   2. the same server with a synchronous standby (synchronous_commit on:
#      an answer waits for the standby's flush), 256 connections (against
#      betcore's cluster)
# Each run prints transactions per second, latency p50 / p99 (from pgbench's
# per-transaction log) and the CPU seconds per 1,000 transactions of the
# PostgreSQL servers (every postgres process of the primary and the standby)
# and of pgbench, as `betcore bench` counts its processes.
#
# The transaction does what betcore does for a single bet: read the
# selection's price (open markets only), debit the punter's wallet if the
# balance covers the stake, add the market's liability, record the bet under
# a unique client reference (the idempotency check), and write both legs of
# the ledger entry. 10,000 accounts, 100 markets of 3 selections, as
# `betcore bench --accounts 10000 --markets 100`.
#
# Usage: scripts/pg-anchor.sh [seconds per run, default 20]
# Needs root (installs postgresql-15 with apt-get if missing; the servers run
# as the postgres user on ports 15432-15433, in a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
pgbin=/usr/lib/postgresql/15/bin

./scripts/install-deps.sh postgresql-15  # as betcore's own: no system cluster started

as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
dir=$(mktemp -d /tmp/betcore-pg-XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
primary=$dir/primary standby=$dir/standby
keep=
cleanup() {
  for d in "$standby" "$primary"; do
    [ -f "$d/postmaster.pid" ] && "${as_pg[@]}" "$pgbin/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  [ -n "$keep" ] || rm -rf "$dir"
}
trap cleanup EXIT
psql() { "${as_pg[@]}" "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p 15432 -U postgres -d postgres "$@"; }

echo "== PostgreSQL 15: a server with fsync on (initdb, load)"
"${as_pg[@]}" "$pgbin/initdb" -D "$primary" -U postgres --auth=trust -E UTF8 >/dev/null
# A server set up for this load, not the defaults: 1 GiB of shared buffers,
# room for 256 clients, WAL sized so no checkpoint falls inside a run.
cat >> "$primary/postgresql.conf" <<EOF
port = 15432
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 320
shared_buffers = 1GB
wal_buffers = 16MB
max_wal_size = 8GB
checkpoint_timeout = 30min
fsync = on
synchronous_commit = on
wal_level = replica
max_wal_senders = 4
EOF
echo "host replication postgres 127.0.0.1/32 trust" >> "$primary/pg_hba.conf"
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$primary" -l "$dir/primary.log" -w start >/dev/null
psql <<'EOF'
CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE markets (id bigint PRIMARY KEY, open boolean NOT NULL, liability bigint NOT NULL);
CREATE TABLE selections (id bigint PRIMARY KEY, market_id bigint NOT NULL REFERENCES markets,
                         price_milli bigint NOT NULL);
CREATE TABLE bets (id bigserial PRIMARY KEY, client_ref bigint NOT NULL UNIQUE,
                   account_id bigint NOT NULL, selection_id bigint NOT NULL,
                   stake bigint NOT NULL, price_milli bigint NOT NULL,
                   placed_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE ledger (id bigserial PRIMARY KEY, bet_id bigint NOT NULL, account_id bigint NOT NULL,
                     amount bigint NOT NULL);
INSERT INTO accounts SELECT g, 1000000000 FROM generate_series(1, 10000) g;
INSERT INTO markets SELECT g, true, 0 FROM generate_series(1, 100) g;
INSERT INTO selections SELECT g, (g - 1) / 3 + 1, 1500 + (g % 3) * 500 FROM generate_series(1, 300) g;
VACUUM ANALYZE;
EOF

cat > "$dir/place_bet.sql" <<'EOF'
\set acc random(1, 10000)
\set sel random(1, 300)
\set stake random(100, 1000)
\set ref random(1, 1000000000000)
-- Each \gset needs exactly one row: a closed market, a short balance or a
-- missing row stops that client with an error and the run fails, loudly.
BEGIN;
SELECT s.market_id, s.price_milli FROM selections s JOIN markets m ON m.id = s.market_id
  WHERE s.id = :sel::bigint AND m.open \gset
UPDATE accounts SET balance = balance - :stake::bigint WHERE id = :acc::bigint AND balance >= :stake::bigint
  RETURNING balance \gset
UPDATE markets SET liability = liability + :stake::bigint * (:price_milli::bigint - 1000) / 1000
  WHERE id = :market_id::bigint RETURNING liability \gset
INSERT INTO bets (client_ref, account_id, selection_id, stake, price_milli)
  VALUES (:client_id::bigint * 1000000000000 + :ref::bigint, :acc, :sel, :stake, :price_milli)
  RETURNING id AS bet_id \gset
INSERT INTO ledger (bet_id, account_id, amount) VALUES (:bet_id, :acc, -(:stake::bigint)), (:bet_id, 0, :stake);
COMMIT;
EOF
chmod 644 "$dir/place_bet.sql"

# Clock ticks of CPU the PostgreSQL servers used so far: each postmaster's
# own, its reaped children's (the backends of closed connections) and its
# live children's (background processes, open backends).
pg_ticks() {
  local total=0 pm c
  for pm in $(head -qn1 "$primary/postmaster.pid" "$standby/postmaster.pid" 2>/dev/null); do
    total=$((total + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")))
    for c in $(pgrep -P "$pm" || true); do
      total=$((total + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
    done
  done
  echo "$total"
}
# ... and this script's reaped children (pgbench among them).
own_children_ticks() { awk '{print $16 + $17}' "/proc/$$/stat"; }

run() {  # run LABEL CONNECTIONS
  local label=$1 conns=$2 pg_before pg_after bench_before bench_after txns
  rm -f "$dir"/pgbench_log.*
  echo "== PostgreSQL 15, $label: pgbench, $conns connections, ${secs} s (after 3 s of warm-up)"
  "${as_pg[@]}" "$pgbin/pgbench" -h "$dir" -p 15432 -U postgres -n -M prepared -c "$conns" -j 2 -T 3 \
    -f "$dir/place_bet.sql" postgres >/dev/null
  sleep 0.5  # the warm-up's backends gone
  pg_before=$(pg_ticks) bench_before=$(own_children_ticks)
  if ! (cd "$dir" && "${as_pg[@]}" "$pgbin/pgbench" -h "$dir" -p 15432 -U postgres -n -M prepared \
          -c "$conns" -j 2 -T "$secs" -P 5 -l -f "$dir/place_bet.sql" postgres) 2>&1 |
       tee "$dir/pgbench.out" |
       grep -E '^(progress|number of transactions actually|number of failed|latency average|tps)'; then
    echo "pg-anchor: pgbench failed:" >&2
    grep -v '^progress' "$dir/pgbench.out" | tail -20 >&2
    echo "pg-anchor: the servers' logs are in $dir (primary.log, standby.log)" >&2
    keep=1
    exit 1
  fi
  sleep 0.5  # its backends reaped
  pg_after=$(pg_ticks) bench_after=$(own_children_ticks)
  # pgbench -l: one line per transaction, its latency in µs (3rd field) and
  # when it ended (5th and 6th). pgbench's own tps counts the time its 256
  # clients take to connect (seconds on two cores); the rate from the first
  # answer on is the server's.
  cat "$dir"/pgbench_log.* > "$dir/transactions"
  awk '{print $3}' "$dir/transactions" | sort -n > "$dir/latencies"
  txns=$(wc -l < "$dir/latencies")
  awk '{t = $5 + $6 / 1e6; if (NR == 1 || t < first) first = t; if (t > last) last = t}
       END {if (NR < 2 || last <= first) print "  from the first answer to the last: too few answers (run longer)";
            else printf "  from the first answer to the last: %.0f transactions/s\n", (NR - 1) / (last - first)}' \
    "$dir/transactions"
  if [ "$txns" -eq 0 ]; then
    echo "  no transaction finished in ${secs} s: run longer"
    return
  fi
  awk -v n="$txns" -v pg="$((pg_after - pg_before))" -v bench="$((bench_after - bench_before))" \
      -v hz="$(getconf CLK_TCK)" '
    NR == int(n * 0.50) + 1 { p50 = $1 } NR == int(n * 0.99) + 1 { p99 = $1 }
    END { printf "  latency p50 %.1f ms, p99 %.1f ms\n", p50 / 1000, p99 / 1000
          printf "  CPU per 1,000 transactions: PostgreSQL %.3f s, pgbench %.3f s, both %.3f s\n",
                 pg / hz / (n / 1000), bench / hz / (n / 1000), (pg + bench) / hz / (n / 1000) }' \
    "$dir/latencies"
}
run "one server" 64

echo "== PostgreSQL 15: a synchronous standby (pg_basebackup, synchronous_standby_names = '*')"
"${as_pg[@]}" "$pgbin/pg_basebackup" -h 127.0.0.1 -p 15432 -U postgres -D "$standby" -R -X stream \
  --checkpoint=fast >/dev/null
sed -i 's/^port = 15432$/port = 15433/' "$standby/postgresql.conf"
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$standby" -l "$dir/standby.log" -w start >/dev/null
psql -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 50); do
  [ "$(psql -tAc "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] && break
  sleep 0.2
done
[ "$(psql -tAc "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] ||
  { echo "pg-anchor: the standby never became synchronous; see $dir/standby.log" >&2; keep=1; exit 1; }
run "with a synchronous standby" 64
run "with a synchronous standby" 256

# Both runs' bets are in the book and the ledger balances: the figures are of
# transactions that did their work.
bets=$(psql -tAc "SELECT count(*) FROM bets")
sum=$(psql -tAc "SELECT coalesce(sum(amount), 0) FROM ledger")
echo "bets placed: $bets; ledger sum: $sum"
if [ "$bets" -eq 0 ] || [ "$sum" -ne 0 ]; then
  echo "pg-anchor: the runs placed no bet or the ledger does not sum to 0; see $dir/primary.log" >&2
  keep=1
  exit 1
fi
