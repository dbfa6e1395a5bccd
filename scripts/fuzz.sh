#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, build-fuzz/) and runs each one over a
# copy of its seed corpus (docs/testing.md, "Fuzzing").
#
# Usage: scripts/fuzz.sh [--seconds N] [--runs N] [--seeds] [TARGET...]
#   --seconds N  fuzz each target for N seconds (default 20: CI's short run)
#   --runs N     fuzz each target for N executions instead (the long run:
#                --runs 10000000), however long that takes
#   --seeds      regenerate fuzz/corpus/ with fuzz/make_seeds.cc and stop
#   TARGET...    some of: http_request json_request command_codec batch_codec
#                snapshot log_recovery (default: all, two at a time;
#                BETCORE_FUZZ_JOBS=1 for one after the other)
#
# The checked-in seeds (fuzz/corpus/<target>/) are never written: each run
# starts from a fresh copy in build-fuzz/corpus-work/<target>/. Prints per
# target the executions, exec/s, coverage (libFuzzer's cov: and ft:), the
# corpus size and the crashes; exits 1 on any crash, with where the input
# was saved and how to reproduce it.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(http_request json_request command_codec batch_codec snapshot log_recovery)
seconds=20
runs=""
seeds=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --seeds) seeds=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "usage: $0 [--seconds N] [--runs N] [--seeds] [TARGET...]" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if [[ " ${all_targets[*]} " != *" $t "* ]]; then
    echo "fuzz: unknown target $t (${all_targets[*]})" >&2
    exit 2
  fi
done

# The largest input each target tries: room for its biggest seeds, and small
# enough to keep executions fast.
max_len() {
  case "$1" in
    http_request) echo 8192 ;;
    json_request) echo 4096 ;;
    command_codec) echo 2048 ;;
    batch_codec) echo 16384 ;;
    snapshot) echo 16384 ;;
    log_recovery) echo 32768 ;;
  esac
}
dict() {
  case "$1" in
    http_request) echo fuzz/http.dict ;;
    json_request) echo fuzz/json.dict ;;
    *) echo "" ;;
  esac
}

# The build: clang with libFuzzer, only the libraries the targets drive.
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
build_started=$SECONDS
cmake -S . -B build-fuzz -G Ninja -DBETCORE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-15 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
ninja -C build-fuzz -j "${BETCORE_BUILD_JOBS:-2}"
echo "== fuzz build: $((SECONDS - build_started)) s"

if [ "$seeds" = 1 ]; then
  build-fuzz/fuzz/make_seeds fuzz/corpus
  exit 0
fi

# Sanitizer reports must stop the run (libFuzzer then saves the input).
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# One target's run; its summary line goes to build-fuzz/summary-TARGET.txt.
# Exits 1 on a crash.
fuzz_one() {
  local t=$1
  local work=build-fuzz/corpus-work/$t
  local artifacts=build-fuzz/artifacts/$t
  local log=build-fuzz/fuzz-$t.log
  rm -rf "$work"
  mkdir -p "$work" "$artifacts"
  cp fuzz/corpus/"$t"/* "$work"/
  local args=(-max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  if [ -n "$runs" ]; then args+=(-runs="$runs"); else args+=(-max_total_time="$seconds"); fi
  local d
  d=$(dict "$t")
  [ -n "$d" ] && args+=(-dict="$d")
  echo "== fuzz $t: build-fuzz/fuzz/$t ${args[*]} $work"
  local started=$SECONDS status=0
  build-fuzz/fuzz/"$t" "${args[@]}" "$work" >"$log" 2>&1 || status=$?
  local took=$((SECONDS - started))
  local execs rate last cov ft corpus crash_file crashes=0
  execs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec:/ {print $2}' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(find "$work" -type f | wc -l)
  crash_file=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
  if [ "$status" != 0 ] || [ -n "$crash_file" ]; then
    crashes=1
    echo "!! $t FAILED (exit $status); the libFuzzer log is $log:"
    grep -E 'ERROR|SUMMARY|assertion|Assertion|failed|runtime error' "$log" | head -20 || true
    if [ -n "$crash_file" ]; then
      echo "!! the input was saved to $crash_file"
      echo "!! reproduce: build-fuzz/fuzz/$t $crash_file"
      echo "!! (see docs/testing.md, \"Fuzzing\", for turning it into a regression test)"
    fi
  fi
  local line
  line=$(printf '%-14s execs %10s  exec/s %7s  cov %5s  ft %6s  corpus %5s  crashes %s  (%d s)' \
    "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$crashes" "$took")
  echo "== $line"
  echo "$line" >"build-fuzz/summary-$t.txt"
  return "$crashes"
}

# Two targets at a time (each is one process on one core): the machine's
# two cores, and half the wall time of one after the other.
jobs=${BETCORE_FUZZ_JOBS:-2}
crashed=0
running=0
for t in "${targets[@]}"; do
  rm -f "build-fuzz/summary-$t.txt"
  if [ "$running" -ge "$jobs" ]; then
    wait -n || crashed=1
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || crashed=1
  running=$((running - 1))
done
summary=()
for t in "${targets[@]}"; do
  summary+=("$(cat "build-fuzz/summary-$t.txt" 2>/dev/null || echo "$t: no summary (the run died)")")
done

echo "== fuzz summary ($( [ -n "$runs" ] && echo "$runs runs" || echo "$seconds s") per target)"
printf '   %s\n' "${summary[@]}"
exit "$crashed"
