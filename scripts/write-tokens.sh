#!/usr/bin/env bash
# Writes a node's tokens file (hashes only, mode 600) and the matching
# credentials file for clients (the tokens, mode 600), with `betcore token
# add`: one admin, trader, payments, feed and backup token and a punter token
# for alice. Files that exist keep their tokens; a role they lack (one added
# by a newer betcore) gets a token. A tokens file of clear-text tokens (from
# betcore before 0.13) becomes the credentials file, and the tokens file is
# written with their hashes. Used by scripts/start.sh, scripts/cluster.sh and
# the benchmark scripts.
# Usage: write-tokens.sh TOKENS CREDENTIALS   (BETCORE_BIN: the betcore binary)
set -euo pipefail
tokens=${1:?usage: $0 TOKENS CREDENTIALS}
credentials=${2:?usage: $0 TOKENS CREDENTIALS}
betcore=${BETCORE_BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/betcore}
if [ ! -x "$betcore" ]; then
  echo "write-tokens: no betcore binary at $betcore: build it (cmake -S . -B build -G Ninja && ninja -C build betcore) or point BETCORE_BIN at one" >&2
  exit 1
fi
# Runs betcore quietly (`token add` tells a person on stderr where the token
# went); on failure says what failed, with betcore's own words.
run_betcore() {
  local out
  if ! out=$("$betcore" "$@" 2>&1); then
    echo "write-tokens: $betcore $1 $2 failed:" >&2
    echo "$out" >&2
    exit 1
  fi
}
umask 077
if [ -f "$tokens" ] && [ ! -f "$credentials" ] && grep -qvE '^[[:space:]]*(#|$)|sha256:' "$tokens"; then
  echo "write-tokens: $tokens holds clear-text tokens: moving them to $credentials and hashing them"
  mv "$tokens" "$credentials"
  run_betcore token hash --in "$credentials" --out "$tokens"
fi
[ -f "$tokens" ] || echo "# betcore tokens: <role> sha256:<hash> [<account_id>] (betcore token add)" > "$tokens"
[ -f "$credentials" ] || echo "# betcore credentials: <role> <token> [<account_id>] (clients read it with --tokens)" > "$credentials"
for role in admin trader payments feed backup punter; do
  grep -q "^$role " "$tokens" && grep -q "^$role " "$credentials" && continue
  account=()
  [ "$role" = punter ] && account=(alice)
  run_betcore token add "$role" "${account[@]}" --tokens "$tokens" --credentials "$credentials"
done
