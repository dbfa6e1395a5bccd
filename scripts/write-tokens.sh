#!/usr/bin/env bash
# Writes a tokens file with random tokens (mode 600) unless FILE exists:
# one admin, trader, payments and feed token and a punter token for alice.
# Used by scripts/start.sh and scripts/cluster.sh. Usage: write-tokens.sh FILE
set -euo pipefail
file=${1:?usage: $0 FILE}
[ -f "$file" ] && exit 0
token() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
umask 077
{
  echo "# betcore tokens: <role> <token> [<account_id>] (see README, Tokens)"
  echo "admin $(token)"
  echo "trader $(token)"
  echo "payments $(token)"
  echo "feed $(token)"
  echo "punter $(token) alice"
} > "$file"
