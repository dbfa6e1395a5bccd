#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: all of them in the
# normal build (-Wall -Wextra -Werror), a short run of every fuzz target
# (scripts/fuzz.sh), the Debian package and its checks (scripts/package.sh),
# then the in-process tests, the
# simulator and the API tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer. Prints each phase's time.
# Usage: scripts/test.sh [--no-sanitizers]
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizers=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitizers) sanitizers=0 ;;
    *) echo "usage: $0 [--no-sanitizers]" >&2; exit 2 ;;
  esac
done

started=$SECONDS
phase_started=$SECONDS
phases=()
phase_done() {  # phase_done NAME: prints and records the time since the last phase
  local took=$((SECONDS - phase_started))
  phases+=("$(printf '%-28s %4d s' "$1" "$took")")
  echo "== $1: ${took} s"
  phase_started=$SECONDS
}

./scripts/install-deps.sh
phase_done "install dependencies"

# Two cores: two compile jobs, but never more than memory allows.
jobs=${BETCORE_BUILD_JOBS:-2}

# ccache (installed by install-deps.sh) makes a rebuild of unchanged sources
# nearly free. Paths are hashed relative to this checkout, so a fresh clone
# in another folder hits the same cache entries.
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

build() {  # build DIR NAME CMAKE_ARGS...
  local dir=$1 name=$2; shift 2
  echo "== configure and build $dir ($*)"
  cmake -S . -B "$dir" -G Ninja -DBETCORE_WERROR=ON "${launcher[@]}" "$@" >/dev/null
  ninja -C "$dir" -j "$jobs"
  phase_done "build $name"
}

run_tests() {  # run_tests DIR NAME CTEST_ARGS...
  local dir=$1 name=$2; shift 2
  # A fresh clone has no record of how long each test takes, so ctest would
  # start the tests in the order they are declared, and the longest ones
  # (the drills, the cluster and payment soaks, declared last) would end the
  # run with one core idle. tests/test-costs.txt (the tests of 2 s or more,
  # with their seconds, from a full run) seeds that record so the longest
  # start first; ctest keeps it up to date from then on.
  local costs="$dir/Testing/Temporary/CTestCostData.txt"
  if [ ! -f "$costs" ]; then
    mkdir -p "$(dirname "$costs")"
    { cat tests/test-costs.txt; echo ---; } > "$costs"
  fi
  echo "== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j 2 --timeout 1200 "$@"
  phase_done "test $name"
}

# Test executables compile as unity batches: a cold build parses gtest and
# our headers once per batch instead of once per file.
build build "normal" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBETCORE_UNITY_TESTS=ON
run_tests build "normal (every test)"

# The libFuzzer targets (fuzz/, docs/testing.md "Fuzzing"): their own clang
# build (build-fuzz/, only the libraries they drive), then 20 s each over a
# copy of the seed corpora. A crash fails CI and says how to reproduce it.
./scripts/fuzz.sh --seconds 20
phase_done "fuzz (short)"

# The Debian package (debian/, docs/operations.md "Install as a service"):
# built in a copy of the tree with ccache, then lintian (no warning, no
# error) and systemd-analyze verify on the unit as installed.
./scripts/package.sh
phase_done "package"

if [ "$sanitizers" = 1 ]; then
  # Where memory errors live: the unit tests of every library, the property
  # test, the simulator (the node's real submitter, applier, file log and
  # snapshot store under faults, 40 seeds and the regression seeds) and the API tests (real sanitized
  # nodes fed garbage over sockets). The process drills (crash, stream,
  # cluster, failover drill) ran once above, in the normal build: under the
  # sanitizers they took half of CI's time and test timing, not memory.
  # No benchmarks: they measure, they do not test.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  build build-asan "ASan+UBSan" -DCMAKE_BUILD_TYPE=Debug -DBETCORE_SANITIZE=ON \
    -DBETCORE_BENCHMARKS=OFF -DBETCORE_PROCESS_DRILLS=OFF -DBETCORE_UNITY_TESTS=ON
  run_tests build-asan "ASan+UBSan"
fi

echo "== phases"
printf '   %s\n' "${phases[@]}"
echo "== all tests passed in $((SECONDS - started)) s"
