#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: once in the normal
# build (-Wall -Wextra -Werror) and once under AddressSanitizer +
# UndefinedBehaviorSanitizer. Usage: scripts/test.sh [--no-sanitizers]
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizers=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitizers) sanitizers=0 ;;
    *) echo "usage: $0 [--no-sanitizers]" >&2; exit 2 ;;
  esac
done

./scripts/install-deps.sh

# Two cores: two compile jobs, but never more than memory allows.
jobs=${BETCORE_BUILD_JOBS:-2}

run_suite() {
  local dir=$1 ctest_extra=$2; shift 2
  echo "== configure $dir ($*)"
  cmake -S . -B "$dir" -G Ninja -DBETCORE_WERROR=ON "$@" >/dev/null
  echo "== build $dir"
  ninja -C "$dir" -j "$jobs"
  echo "== test $dir"
  # shellcheck disable=SC2086
  ctest --test-dir "$dir" --output-on-failure -j 2 --timeout 1200 $ctest_extra
}

run_suite build "" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "$sanitizers" = 1 ]; then
  # The sanitizer build skips the benchmarks (they measure, they do not
  # test) and the failover drill (minutes of real processes; the normal
  # build runs it, and the cluster tests run the sanitized nodes under faults).
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan "-LE drill" -DCMAKE_BUILD_TYPE=Debug -DBETCORE_SANITIZE=ON -DBETCORE_BENCHMARKS=OFF
fi
echo "== all tests passed"
