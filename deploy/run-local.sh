#!/usr/bin/env bash
# run-local.sh: what `make run` runs. Starts the whole stack in <repo>/var
# (kept between runs), prints where it listens, watches it, and stops it all
# on Ctrl-C or when one of its processes dies.
#
# Knobs: MISSIVE_HTTP_PORT (8080), MISSIVE_SSE_PORT (8081), MISSIVE_HOST,
# MISSIVE_LOG_LEVEL, MISSIVE_BIN_DIR: as for deploy/stack.sh.
set -euo pipefail

REPO=$(cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/.." && pwd)
STACK=$REPO/deploy/stack.sh
DIR=$REPO/var
export MISSIVE_HTTP_PORT=${MISSIVE_HTTP_PORT:-8080}

say() { printf 'run: %s\n' "$*" >&2; }

status=$(bash "$STACK" status "$DIR" 2>/dev/null) || true
if [[ $status == *" running "* ]]; then
    printf '%s\n' "$status" >&2
    say "a stack is already running in var/ (another 'make run'?)."
    say "stop it with: bash deploy/stack.sh stop var"
    exit 1
fi

SLEEPER=
STOPPED=0
cleanup() {
    [ "$STOPPED" = 0 ] || return 0
    STOPPED=1
    [ -z "$SLEEPER" ] || kill "$SLEEPER" 2>/dev/null || true
    say "stopping..."
    bash "$STACK" stop "$DIR" || true
    say "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$STACK" start "$DIR"
URL=$(sed -n "s/^MISSIVE_URL='\(.*\)'$/\1/p" "$DIR/stack.env")
echo
echo "Missive is running: $URL  (logs: var/log/, Ctrl-C to stop)"
echo

# Any process gone: say which, show its log, stop the rest.
watch_stack() {
    local out name
    while :; do
        sleep 2 &
        SLEEPER=$!
        wait "$SLEEPER" || true
        SLEEPER=
        out=$(bash "$STACK" status "$DIR") && continue
        for name in $(awk '$2 != "running" { print $1 }' <<<"$out"); do
            say "$name is not running any more; last lines of its log:"
            bash "$STACK" logs "$DIR" "$name" 20 | sed 's/^/    /' >&2 || true
        done
        return 1
    done
}

watch_stack || exit 1
