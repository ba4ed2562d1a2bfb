#!/usr/bin/env bash
# Fails (and cleans up) if any process started from the given bin directory
# is still running after the tests: every suite must stop what it starts.
set -u
bin=${1:?usage: no-leftovers.sh BIN_DIR}
left=$(pgrep -a -f "^${bin}/" || true)
if [ -n "$left" ]; then
  echo "leftover processes from ${bin}:" >&2
  echo "$left" >&2
  pkill -KILL -f "^${bin}/" || true
  exit 1
fi
echo "no-leftovers: no process from ${bin} is running"
