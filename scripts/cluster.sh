#!/usr/bin/env bash
# A real betcore cluster on this machine: 3 etcd members (the command log),
# 3 betcore nodes on that log, HAProxy in front. Layout, ports and the same
# pieces on several machines: docs/cluster.md.
#   scripts/cluster.sh start            # installs what is missing, builds, starts it all, prints URLs and tokens
#   scripts/cluster.sh stop             # HAProxy, then the nodes, then the etcd members
#   scripts/cluster.sh status           # what runs; exit 0 when every process runs, 3 otherwise
#   scripts/cluster.sh restart-node N   # stop node-N, start it, wait until it is ready and back in HAProxy
#   scripts/cluster.sh restart-etcd N   # stop etcd-N, start it, wait until the etcd cluster and the nodes are healthy
# Environment: BETCORE_CLUSTER_HOME (state, default ./run-cluster), BETCORE_LISTEN
# (HAProxy, default 127.0.0.1:8080), BETCORE_CLUSTER_NODES (betcore nodes, 1-9,
# default 3), BETCORE_BIN (a betcore binary to use instead of building one),
# BETCORE_BUILD_JOBS, BETCORE_READY_TIMEOUT_S (default 60), BETCORE_RESTORE
# (on a new cluster only: `betcore restore` arguments, e.g. "--archive A --key K
# [--to-position N]"; the new etcd is loaded from the archive before any node
# starts, node-1 starts on the restored data, the others load its snapshot;
# docs/runbooks/restore-from-archive.md), BETCORE_PLAIN_HTTP=1 (no TLS: a
# trusted network only), BETCORE_ETCD_HEARTBEAT_MS / BETCORE_ETCD_ELECTION_MS
# (etcd's timing; defaults and why: docs/cluster.md, "etcd settings").
# TLS is on every link by default: a private CA in $BETCORE_CLUSTER_HOME/tls
# (betcore certs), etcd with client and peer certificates, the nodes on
# etcds:// serving HTTPS, HAProxy terminating TLS and speaking TLS to them.
# curl and etcdctl find the CA and client certificate through CURL_CA_BUNDLE
# and ETCDCTL_CACERT/CERT/KEY (the summary prints the lines to paste).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
home=$(realpath -m "${BETCORE_CLUSTER_HOME:-$repo/run-cluster}")
listen=${BETCORE_LISTEN:-127.0.0.1:8080}
stats=127.0.0.1:8404
nodes=${BETCORE_CLUSTER_NODES:-3}
betcore=${BETCORE_BIN:-$repo/build/betcore}
ready_timeout_s=${BETCORE_READY_TIMEOUT_S:-60}
cluster_name=local
export ETCDCTL_API=3
tls_dir=$home/tls
if [ "${BETCORE_PLAIN_HTTP:-0}" = 1 ]; then
  s=http
  etcd_tls=() node_tls=(--plain-http) bind_tls="" server_tls=""
else
  s=https
  export CURL_CA_BUNDLE=$tls_dir/ca.pem ETCDCTL_CACERT=$tls_dir/ca.pem
  export ETCDCTL_CERT=$tls_dir/node.pem ETCDCTL_KEY=$tls_dir/node.key
  etcd_tls=(--cert-file "$tls_dir/node.pem" --key-file "$tls_dir/node.key" --client-cert-auth
            --trusted-ca-file "$tls_dir/ca.pem" --peer-cert-file "$tls_dir/node.pem"
            --peer-key-file "$tls_dir/node.key" --peer-client-cert-auth
            --peer-trusted-ca-file "$tls_dir/ca.pem")
  node_tls=(--tls-cert "$tls_dir/node.pem" --tls-key "$tls_dir/node.key" --tls-ca "$tls_dir/ca.pem")
  bind_tls="ssl crt $tls_dir/node.bundle.pem"
  server_tls="ssl verify required ca-file $tls_dir/ca.pem crt $tls_dir/node.bundle.pem"
fi

[[ $nodes =~ ^[1-9]$ ]] || { echo "BETCORE_CLUSTER_NODES=$nodes: expected 1 to 9" >&2; exit 2; }

# etcd member N: client port N2379, peer port N2380 (not 2379/2380: Debian's
# own etcd service may hold those). betcore node N: port 8080+N.
etcd_ids=(1 2 3)
etcd_client() { echo "127.0.0.1:${1}2379"; }
etcd_peer() { echo "127.0.0.1:${1}2380"; }
etcd_endpoints=127.0.0.1:12379,127.0.0.1:22379,127.0.0.1:32379
initial_cluster=etcd-1=$s://127.0.0.1:12380,etcd-2=$s://127.0.0.1:22380,etcd-3=$s://127.0.0.1:32380
node_addr() { echo "127.0.0.1:$((8080 + $1))"; }
# HAProxy's agent check on each node (betcore node --agent-listen).
agent_addr() { echo "127.0.0.1:$((9080 + $1))"; }
if [ "$s" = https ]; then log_url="etcds://$etcd_endpoints/$cluster_name"; else log_url="etcd://$etcd_endpoints/$cluster_name"; fi

etcd_flags=(
  --initial-cluster "$initial_cluster"
  --initial-cluster-token "betcore-$cluster_name"
)

# The pid in pid file $1 if that process runs and is one of ours: its command
# line names this cluster home, so a stale pid reused by another program never counts.
live_pid() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$home/" || return 1
  echo "$pid"
}

# Starts a process detached (its own session: a Ctrl-C in this terminal does
# not reach it), output appended to log $1, pid written to $2.
spawn() {
  local log=$1 pidfile=$2
  shift 2
  setsid "$@" >> "$log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
}

# Sends signal $1 to every live process of the pid files that follow, waits up
# to 10 s for them all to exit, then SIGKILLs what is left.
stop_pids() {
  local sig=$1 f pid left
  shift
  local -A running=()
  for f in "$@"; do
    if pid=$(live_pid "$f"); then
      running[$f]=$pid
      kill "-$sig" "$pid" 2>/dev/null || true
    else
      rm -f "$f"
    fi
  done
  for _ in $(seq 1 100); do
    left=0
    for f in "${!running[@]}"; do kill -0 "${running[$f]}" 2>/dev/null && left=1; done
    [ "$left" -eq 0 ] && break
    sleep 0.1
  done
  for f in "${!running[@]}"; do
    pid=${running[$f]}
    if kill -0 "$pid" 2>/dev/null; then
      echo "  $(basename "$(dirname "$f")") (pid $pid) did not stop in 10 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    fi
    rm -f "$f"
  done
}

fail_with_log() {  # message, log file
  echo "$1; the end of $2:" >&2
  tail -20 "$2" >&2 || true
  echo "(the rest of the cluster is left as it is: scripts/cluster.sh status, scripts/cluster.sh stop)" >&2
  exit 1
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" 2>/dev/null || true; }

# Waits until $1 answers 200 while the process of pid file $3 runs (log $4);
# $2 names it in messages.
wait_http_ready() {
  local url=$1 name=$2 pidfile=$3 log=$4 code=""
  for _ in $(seq 1 $((ready_timeout_s * 5))); do
    code=$(http_code "$url")
    [ "$code" = 200 ] && return 0
    live_pid "$pidfile" >/dev/null || fail_with_log "$name exited" "$log"
    sleep 0.2
  done
  fail_with_log "$name did not answer 200 on $url in ${ready_timeout_s} s (last: ${code:-no answer})" "$log"
}

# --- etcd -------------------------------------------------------------------

# The flags production runs etcd with (compaction, quotas, timing, ...), from
# `betcore etcd-flags` (docs/cluster.md, "etcd settings", says why each) into
# etcd_tuning; before any member is stopped or started.
etcd_tuning=()
load_etcd_tuning() {
  local out
  if ! out=$("$betcore" etcd-flags --heartbeat-ms "${BETCORE_ETCD_HEARTBEAT_MS:-50}" \
               --election-ms "${BETCORE_ETCD_ELECTION_MS:-500}"); then
    echo "cannot get etcd's flags from $betcore etcd-flags (above: why); check BETCORE_ETCD_HEARTBEAT_MS" \
         "and BETCORE_ETCD_ELECTION_MS, and BETCORE_BIN" >&2
    exit 2
  fi
  mapfile -t etcd_tuning <<< "$out"
}

start_etcd() {
  local n=$1 dir=$home/etcd-$1 state=new
  mkdir -p "$dir"
  # An existing member restarts from its data (etcd then ignores the initial-cluster flags).
  [ -d "$dir/data/member" ] && state=existing
  spawn "$dir/etcd.log" "$dir/etcd.pid" /usr/bin/etcd --name "etcd-$n" --data-dir "$dir/data" \
    --listen-client-urls "$s://$(etcd_client "$n")" --advertise-client-urls "$s://$(etcd_client "$n")" \
    --listen-peer-urls "$s://$(etcd_peer "$n")" --initial-advertise-peer-urls "$s://$(etcd_peer "$n")" \
    --initial-cluster-state "$state" "${etcd_flags[@]}" "${etcd_tuning[@]}" "${etcd_tls[@]}"
}

# True when every member answers a quorum read (etcdctl endpoint health).
etcd_healthy() { etcdctl --endpoints "$etcd_endpoints" --command-timeout=2s endpoint health >/dev/null 2>&1; }

wait_etcd_healthy() {
  local n
  for _ in $(seq 1 $((ready_timeout_s * 2))); do
    etcd_healthy && return 0
    for n in "${etcd_ids[@]}"; do
      live_pid "$home/etcd-$n/etcd.pid" >/dev/null || fail_with_log "etcd-$n exited" "$home/etcd-$n/etcd.log"
    done
    sleep 0.5
  done
  etcdctl --endpoints "$etcd_endpoints" --command-timeout=2s endpoint health >&2 || true
  fail_with_log "the etcd cluster is not healthy after ${ready_timeout_s} s" "$home/etcd-1/etcd.log"
}

# --- betcore nodes ------------------------------------------------------------

start_node() {
  local n=$1 dir=$home/node-$1 addr
  addr=$(node_addr "$n")
  mkdir -p "$dir"
  spawn "$dir/node.log" "$dir/node.pid" "$betcore" node --data "$dir/data" --listen "$addr" \
    --advertise "$addr" --agent-listen "$(agent_addr "$n")" --node-id "node-$n" --tokens "$home/tokens" --credentials "$home/credentials" \
    --log "$log_url" "${node_tls[@]}"
}

wait_node_ready() {
  wait_http_ready "$s://$(node_addr "$1")/health/ready" "node-$1" "$home/node-$1/node.pid" "$home/node-$1/node.log"
}

# The node numbers of this cluster home (from its directories: stop and status
# find every node even when BETCORE_CLUSTER_NODES differs from the start).
existing_nodes() {
  local d
  for d in "$home"/node-*/; do
    [ -d "$d" ] && basename "$d" | sed 's/^node-//'
  done | sort -n
}

# --- HAProxy ------------------------------------------------------------------

write_haproxy_cfg() {
  local servers="" n
  for n in $(seq 1 "$nodes"); do
    servers+="    server node-$n $(node_addr "$n") agent-port $(agent_addr "$n" | cut -d: -f2)"$'\n'
  done
  mkdir -p "$home/haproxy"
  awk -v listen="$listen" -v stats="$stats" -v servers="$servers" -v bind_tls="$bind_tls" \
      -v server_tls="$server_tls" '
    $0 == "@SERVERS@" { printf "%s", servers; next }
    /^[ \t]*#/ { print; next }
    { gsub(/@LISTEN@/, listen); gsub(/@STATS@/, stats); gsub(/@BIND_TLS@/, bind_tls);
      gsub(/@SERVER_TLS@/, server_tls); print }
  ' "$repo/deploy/haproxy/betcore.cfg.in" > "$home/haproxy/haproxy.cfg"
  local out
  out=$(/usr/sbin/haproxy -c -f "$home/haproxy/haproxy.cfg" 2>&1) ||
    { echo "$out" >&2; echo "HAProxy rejects $home/haproxy/haproxy.cfg (from deploy/haproxy/betcore.cfg.in)" >&2; exit 1; }
}

start_haproxy() {
  spawn "$home/haproxy/haproxy.log" "$home/haproxy/haproxy.pid" \
    /usr/sbin/haproxy -db -f "$home/haproxy/haproxy.cfg"
}

# HAProxy's view of node-$1 in the api backend (UP, DOWN, "UP 1/2", MAINT...), from the stats CSV.
haproxy_server_status() {
  curl -s --max-time 1 "http://$stats/;csv" 2>/dev/null |
    awk -F, -v s="node-$1" '$1 == "api" && $2 == s { print $18 }'
}

# --- commands -----------------------------------------------------------------

all_pidfiles() {
  local n
  echo "$home/haproxy/haproxy.pid"
  for n in $(existing_nodes); do echo "$home/node-$n/node.pid"; done
  for n in "${etcd_ids[@]}"; do echo "$home/etcd-$n/etcd.pid"; done
}

port_busy() { [ -n "$(ss -Hltn "sport = :${1##*:}" 2>/dev/null)" ]; }

elapsed_s() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)); }

cmd_start() {
  local f pid already="" n busy="" pidfiles
  mapfile -t pidfiles < <(all_pidfiles)
  for f in "${pidfiles[@]}"; do
    if pid=$(live_pid "$f"); then already+=" $(basename "$(dirname "$f")") (pid $pid)"; fi
  done
  if [ -n "$already" ]; then
    echo "the cluster in $home is already running:$already" >&2
    echo "see scripts/cluster.sh status; stop it with scripts/cluster.sh stop" >&2
    exit 1
  fi
  for n in $(seq 1 "$nodes"); do
    [ "$(node_addr "$n")" = "$listen" ] && { echo "BETCORE_LISTEN=$listen is node-$n's address" >&2; exit 2; }
  done
  for f in $(for n in "${etcd_ids[@]}"; do etcd_client "$n"; etcd_peer "$n"; done) \
           $(for n in $(seq 1 "$nodes"); do node_addr "$n"; done) "$listen" "$stats"; do
    port_busy "$f" && busy+=" $f"
  done
  if [ -n "$busy" ]; then
    echo "ports already in use:$busy (ss -ltnp shows by whom)" >&2
    exit 1
  fi
  # A member without data while others have some cannot simply start: it must
  # be removed and added again (docs/cluster.md, "Replacing an etcd member").
  local with_data=0
  for n in "${etcd_ids[@]}"; do [ -d "$home/etcd-$n/data/member" ] && with_data=$((with_data + 1)); done
  if [ "$with_data" -ne 0 ] && [ "$with_data" -ne ${#etcd_ids[@]} ]; then
    echo "only $with_data of ${#etcd_ids[@]} etcd members in $home have data; see docs/cluster.md, \"Replacing an etcd member\"" >&2
    exit 1
  fi

  ./scripts/install-deps.sh
  if [ -z "${BETCORE_BIN:-}" ]; then
    echo "== building (two jobs; the first build takes a few minutes)"
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    ninja -C build -j "${BETCORE_BUILD_JOBS:-2}" betcore
  fi

  mkdir -p "$home"
  BETCORE_BIN=$betcore ./scripts/write-tokens.sh "$home/tokens" "$home/credentials"
  if [ "$s" = https ]; then
    # The CA is made once and kept; the certificate (etcd, nodes, HAProxy) is
    # issued again at every start.
    "$betcore" certs --dir "$tls_dir" --name node --host 127.0.0.1 --host localhost >/dev/null
  fi

  if [ "$with_data" -eq 0 ]; then echo "== etcd: a new 3-member cluster"; else echo "== etcd: restarting the 3 members"; fi
  load_etcd_tuning
  for n in "${etcd_ids[@]}"; do start_etcd "$n"; done
  wait_etcd_healthy
  if [ -n "${BETCORE_RESTORE:-}" ]; then
    if [ "$with_data" -ne 0 ] || [ -e "$home/node-1/data" ]; then
      echo "BETCORE_RESTORE loads only a new cluster, and $home holds one: move it aside first" >&2
      cmd_stop
      exit 1
    fi
    echo "== restoring from the archive into etcd and node-1 (betcore restore $BETCORE_RESTORE)"
    mkdir -p "$home/node-1"
    # shellcheck disable=SC2086 # the arguments are words on purpose
    if ! "$betcore" restore $BETCORE_RESTORE --data-dir "$home/node-1/data" --etcd "$log_url" \
        > "$home/restore.json"; then
      echo "the restore failed (above); the etcd members are stopped again" >&2
      cmd_stop
      exit 1
    fi
    echo "restored: $(cat "$home/restore.json")"
  fi
  echo "== betcore: $nodes nodes on $log_url"
  for n in $(seq 1 "$nodes"); do start_node "$n"; done
  for n in $(seq 1 "$nodes"); do wait_node_ready "$n"; done
  echo "== HAProxy on $listen"
  write_haproxy_cfg
  start_haproxy
  wait_http_ready "$s://$listen/health/ready" HAProxy "$home/haproxy/haproxy.pid" "$home/haproxy/haproxy.log"
  print_summary
}

print_summary() {
  local n admin
  role_token() { awk -v r="$1" '$1==r {print $2; exit}' "$home/credentials"; }
  admin=$(role_token admin)
  echo
  echo "betcore cluster is running: $s://$listen (HAProxy)"
  for n in $(seq 1 "$nodes"); do
    echo "  node-$n  $s://$(node_addr "$n")  pid $(cat "$home/node-$n/node.pid")  log $home/node-$n/node.log"
  done
  for n in "${etcd_ids[@]}"; do
    echo "  etcd-$n  $s://$(etcd_client "$n")  pid $(cat "$home/etcd-$n/etcd.pid")  log $home/etcd-$n/etcd.log"
  done
  echo "  HAProxy stats: http://$stats/  Prometheus: http://$stats/metrics  log $home/haproxy/haproxy.log"
  echo "  etcdctl: ETCDCTL_API=3 etcdctl --endpoints $etcd_endpoints endpoint status -w table"
  if [ "$s" = https ]; then
    echo "  TLS (CA and client certificate in $tls_dir): first paste"
    echo "    export CURL_CA_BUNDLE=$CURL_CA_BUNDLE ETCDCTL_CACERT=$ETCDCTL_CACERT ETCDCTL_CERT=$ETCDCTL_CERT ETCDCTL_KEY=$ETCDCTL_KEY"
  fi
  cat <<TXT
admin token:    $admin
trader token:   $(role_token trader)
payments token: $(role_token payments)
punter token for account alice: $(role_token punter)
(all tokens: $home/credentials; the nodes read only their hashes, $home/tokens)

Try:
  curl -s -H "Authorization: Bearer $admin" $s://$listen/v1/cluster

Status: scripts/cluster.sh status   Stop: scripts/cluster.sh stop
TXT
}

cmd_stop() {
  local n nodes_pids=() etcd_pids=()
  if [ ! -d "$home" ]; then echo "no cluster in $home"; return 0; fi
  for n in $(existing_nodes); do nodes_pids+=("$home/node-$n/node.pid"); done
  for n in "${etcd_ids[@]}"; do etcd_pids+=("$home/etcd-$n/etcd.pid"); done
  # HAProxy first (SIGUSR1: stop accepting, finish what is in flight), so no
  # request reaches a node that is stopping; then the nodes (SIGTERM: answers in
  # flight finish); then the log they write to.
  echo "== stopping HAProxy"
  stop_pids USR1 "$home/haproxy/haproxy.pid"
  echo "== stopping the betcore nodes"
  [ ${#nodes_pids[@]} -eq 0 ] || stop_pids TERM "${nodes_pids[@]}"
  echo "== stopping the etcd members"
  stop_pids TERM "${etcd_pids[@]}"
  echo "stopped (state kept in $home)"
}

cmd_status() {
  local n pid all=0 code health table
  if [ ! -d "$home" ]; then echo "no cluster in $home"; return 3; fi
  for n in "${etcd_ids[@]}"; do
    if pid=$(live_pid "$home/etcd-$n/etcd.pid"); then
      health=$(etcdctl --endpoints "$(etcd_client "$n")" --command-timeout=1s endpoint health >/dev/null 2>&1 && echo healthy || echo UNHEALTHY)
      printf '%-8s running  pid %-7s %s://%s  %s\n' "etcd-$n" "$pid" "$s" "$(etcd_client "$n")" "$health"
    else
      printf '%-8s stopped\n' "etcd-$n"; all=1
    fi
  done
  for n in $(existing_nodes); do
    if pid=$(live_pid "$home/node-$n/node.pid"); then
      code=$(http_code "$s://$(node_addr "$n")/health/ready")
      case $code in 200) health=ready ;; 503) health="NOT READY (503)" ;; *) health="no answer on /health/ready" ;; esac
      printf '%-8s running  pid %-7s %s://%s  %s\n' "node-$n" "$pid" "$s" "$(node_addr "$n")" "$health"
    else
      printf '%-8s stopped\n' "node-$n"; all=1
    fi
  done
  if pid=$(live_pid "$home/haproxy/haproxy.pid"); then
    code=$(http_code "$s://$listen/health/ready")
    printf '%-8s running  pid %-7s %s://%s  /health/ready: %s  stats http://%s/\n' haproxy "$pid" "$s" "$listen" "${code:-none}" "$stats"
    for n in $(existing_nodes); do echo "         node-$n in HAProxy: $(haproxy_server_status "$n")"; done
  else
    printf '%-8s stopped\n' haproxy; all=1
  fi
  if table=$(etcdctl --endpoints "$etcd_endpoints" --command-timeout=1s endpoint status -w table 2>/dev/null); then
    echo "$table"
  fi
  [ "$all" -eq 0 ] || return 3
}

cmd_restart_node() {
  local n=$1 m start_ns code
  [ -d "$home/node-$n" ] || { echo "no node-$n in $home" >&2; exit 2; }
  etcd_healthy || { echo "the etcd cluster is not healthy: fix it first (scripts/cluster.sh status)" >&2; exit 1; }
  for m in $(existing_nodes); do
    [ "$m" = "$n" ] && continue
    [ "$(http_code "$s://$(node_addr "$m")/health/ready")" = 200 ] ||
      echo "warning: node-$m is not ready; while node-$n restarts the API may be unavailable" >&2
  done
  start_ns=$(date +%s%N)
  echo "== stopping node-$n"
  stop_pids TERM "$home/node-$n/node.pid"
  echo "== starting node-$n"
  start_node "$n"
  wait_node_ready "$n"
  echo "node-$n ready again after $(elapsed_s "$start_ns") s"
  if live_pid "$home/haproxy/haproxy.pid" >/dev/null; then
    # Do not move on (to the next node of a rolling restart) before HAProxy sends traffic here again.
    for _ in $(seq 1 50); do
      [ "$(haproxy_server_status "$n")" = UP ] && break
      sleep 0.2
    done
    code=$(haproxy_server_status "$n")
    [ "$code" = UP ] || { echo "HAProxy still reports node-$n as '$code'" >&2; exit 1; }
    echo "node-$n is UP in HAProxy"
  fi
}

cmd_restart_etcd() {
  local n=$1 m start_ns
  [[ $n =~ ^[1-3]$ ]] || { echo "restart-etcd: N is 1, 2 or 3" >&2; exit 2; }
  for m in "${etcd_ids[@]}"; do
    [ "$m" = "$n" ] && continue
    # Stopping a member while another one is down would leave no quorum.
    etcdctl --endpoints "$(etcd_client "$m")" --command-timeout=2s endpoint health >/dev/null 2>&1 ||
      { echo "etcd-$m is not healthy: restarting etcd-$n now would lose the quorum" >&2; exit 1; }
  done
  load_etcd_tuning
  start_ns=$(date +%s%N)
  echo "== stopping etcd-$n"
  stop_pids TERM "$home/etcd-$n/etcd.pid"
  echo "== starting etcd-$n"
  start_etcd "$n"
  wait_etcd_healthy
  echo "etcd cluster healthy again after $(elapsed_s "$start_ns") s"
  for m in $(existing_nodes); do
    live_pid "$home/node-$m/node.pid" >/dev/null && wait_node_ready "$m"
  done
  echo "every running node is ready"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart-node)
    [[ ${2:-} =~ ^[1-9]$ ]] || { echo "usage: scripts/cluster.sh restart-node N" >&2; exit 2; }
    cmd_restart_node "$2" ;;
  restart-etcd)
    [ -n "${2:-}" ] || { echo "usage: scripts/cluster.sh restart-etcd N" >&2; exit 2; }
    cmd_restart_etcd "$2" ;;
  *)
    echo "usage: scripts/cluster.sh start|stop|status|restart-node N|restart-etcd N" >&2
    exit 2 ;;
esac
