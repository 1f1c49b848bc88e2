#!/usr/bin/env bash
# Records each call panka makes as one line, `<command> <project> <stack>`
# (the project from ./Pulumi.yaml), in $PULUMI_SPY_LOG, then replaces itself
# with the real pulumi ($PULUMI_SPY_REAL) with the same arguments: the same
# process, environment and signals. A recorder in front of the real CLI for
# the deploy tests, not a double: nothing is answered here.
set -u
words=()
stack=""
prev=""
for a in "$@"; do
  if [ "$prev" = "--stack" ]; then stack="$a"; fi
  prev="$a"
done
for a in "$@"; do
  case "$a" in -*) break ;; *) words+=("$a") ;; esac
done
project=""
if [ -f Pulumi.yaml ]; then
  project=$(sed -n 's/^name: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' Pulumi.yaml | head -n 1)
fi
if [ -n "${PULUMI_SPY_LOG:-}" ]; then
  printf '%s %s %s\n' "${words[*]}" "$project" "$stack" >> "$PULUMI_SPY_LOG"
fi
exec "${PULUMI_SPY_REAL:?PULUMI_SPY_REAL names the real pulumi}" "$@"
