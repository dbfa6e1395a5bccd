#!/usr/bin/env bash
# Writes a tokens file with random tokens (mode 600): one admin, trader,
# payments, feed and backup token and a punter token for alice. A file that
# exists keeps its tokens; a role it lacks (one added by a newer betcore)
# gets a token appended. Used by scripts/start.sh and scripts/cluster.sh.
# Usage: write-tokens.sh FILE
set -euo pipefail
file=${1:?usage: $0 FILE}
token() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
umask 077
[ -f "$file" ] || echo "# betcore tokens: <role> <token> [<account_id>] (see README, Tokens)" > "$file"
for role in admin trader payments feed backup punter; do
  grep -q "^$role " "$file" && continue
  if [ "$role" = punter ]; then echo "punter $(token) alice"; else echo "$role $(token)"; fi >> "$file"
done
