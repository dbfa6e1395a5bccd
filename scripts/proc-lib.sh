# Shared by scripts/feed.sh and scripts/payments.sh (sourced, not run):
# background processes kept by pid files.

# alive PIDFILE: the process in PIDFILE is running.
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid PIDFILE NAME: SIGTERM, up to 10 s to exit, then SIGKILL.
stop_pid() {
  if alive "$1"; then
    kill -TERM "$(cat "$1")"
    for _ in $(seq 1 100); do alive "$1" || break; sleep 0.1; done
    alive "$1" && kill -KILL "$(cat "$1")"
    echo "$2 stopped"
  fi
  rm -f "$1"
}
