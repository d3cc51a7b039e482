#!/usr/bin/env bash
# Runs the end-to-end tests against a private Missive stack.
#
#   bash tests/e2e/run.sh                       # all tests/e2e/*.test.mjs
#   bash tests/e2e/run.sh tests/e2e/users.test.mjs
#
# Starts the stack with deploy/stack.sh on two free loopback ports in a fresh
# temp dir, runs node's test runner with MISSIVE_STACK_ENV=DIR/stack.env,
# stops the stack (always, also on failure or Ctrl-C), and fails if any
# stack log holds an AddressSanitizer, LeakSanitizer or UBSan report.
#
# Environment:
#   MISSIVE_BIN_DIR   binaries to run (passed through to deploy/stack.sh)
#   KEEP_STACK=1      keep the temp dir (logs, database) after the run
#   E2E_IGNORE_LEAKS=1  do not fail on LeakSanitizer reports
#   E2E_START_TIMEOUT seconds allowed for `stack.sh start` (default 180)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

log() { printf 'e2e: %s\n' "$*" >&2; }

if [ ! -f "$here/node_modules/ajv/package.json" ] || [ ! -f "$here/node_modules/yaml/package.json" ]; then
    log "installing tests/e2e dependencies (npm ci)"
    (cd "$here" && npm ci --no-audit --no-fund >&2) || { log "npm ci failed"; exit 1; }
fi

# Two distinct free ports on 127.0.0.1, held open together so they differ.
read -r http_port sse_port < <(node -e '
  const net = require("node:net");
  const grab = () => new Promise((ok, ko) => { const s = net.createServer(); s.once("error", ko);
    s.listen(0, "127.0.0.1", () => ok(s)); });
  (async () => { const a = await grab(), b = await grab();
    console.log(a.address().port, b.address().port); a.close(); b.close(); })();
') || { log "could not pick free ports"; exit 1; }
if [ -z "${http_port:-}" ] || [ -z "${sse_port:-}" ]; then log "could not pick free ports"; exit 1; fi
export MISSIVE_HTTP_PORT="$http_port" MISSIVE_SSE_PORT="$sse_port"
# Shorter clocks than production so the presence and ticket tests wait seconds, not
# minutes; every program of the stack reads these (MISSIVE_<KEY> overrides the file).
export MISSIVE_PRESENCE_GRACE="${MISSIVE_PRESENCE_GRACE:-2}" MISSIVE_TICKET_TTL="${MISSIVE_TICKET_TTL:-5}"

dir="$(mktemp -d "${TMPDIR:-/tmp}/missive-e2e.XXXXXX")" || exit 1
chmod 755 "$dir"
log "stack dir $dir (nginx :$http_port, sse :$sse_port, bin ${MISSIVE_BIN_DIR:-$root/bin})"

stack_started=0
stopped=0
print_log_tails() {
    local f
    shopt -s nullglob
    for f in "$dir"/log/*.log; do
        printf '\n===== tail -n 60 %s =====\n' "$f" >&2
        tail -n 60 "$f" >&2
    done
    shopt -u nullglob
}
stop_stack() {
    [ "$stopped" = 1 ] && return 0
    stopped=1
    if [ "$stack_started" = 1 ]; then
        log "stopping the stack"
        timeout 120 bash deploy/stack.sh stop "$dir" >&2 || log "stack.sh stop failed (rc=$?)"
    fi
}
cleanup() {
    stop_stack
    if [ "${KEEP_STACK:-0}" = 1 ]; then
        log "kept $dir"
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

stack_started=1 # stop even a half-started stack
if ! timeout "${E2E_START_TIMEOUT:-180}" bash deploy/stack.sh start "$dir"; then
    log "deploy/stack.sh start failed"
    print_log_tails
    exit 1
fi
if [ ! -f "$dir/stack.env" ]; then
    log "deploy/stack.sh start did not write $dir/stack.env"
    print_log_tails
    exit 1
fi

if [ "$#" -gt 0 ]; then
    tests=("$@")
else
    tests=(tests/e2e/*.test.mjs)
fi

MISSIVE_STACK_ENV="$dir/stack.env" node --test --test-concurrency=1 --test-timeout=120000 "${tests[@]}"
status=$?

# Sanitizer reports (LeakSanitizer in particular) are written at process exit.
stop_stack

shopt -s nullglob
logs=("$dir"/log/*.log)
shopt -u nullglob
pattern='ERROR: AddressSanitizer|runtime error:'
[ "${E2E_IGNORE_LEAKS:-0}" = 1 ] || pattern="$pattern|ERROR: LeakSanitizer"
sanitizer=0
if [ "${#logs[@]}" -gt 0 ] && grep -E -l "$pattern" "${logs[@]}" >/dev/null 2>&1; then
    sanitizer=1
    log "sanitizer reports found in the stack logs:"
    for f in "${logs[@]}"; do
        grep -E -q "$pattern" "$f" || continue
        printf '\n===== %s =====\n' "$f" >&2
        grep -E -n -A 30 "$pattern" "$f" | head -n 200 >&2
    done
fi

if [ "$status" -ne 0 ]; then
    log "tests failed (rc=$status)"
    print_log_tails
elif [ "$sanitizer" -ne 0 ]; then
    status=1
fi
[ "$status" -eq 0 ] && log "all passed" || log "FAILED"
exit "$status"
