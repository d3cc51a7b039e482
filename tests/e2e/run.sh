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
# Media against S3: when tests/e2e/media.test.mjs is among the tests, the run
# also starts OpenStack Swift with s3api (tests/peers/swift-peer.sh, a store that
# checks Signature V4) and a second stack with storage_backend = s3 (another temp
# dir, other ports), runs media.test.mjs against that stack too, then stops both.
#
# Environment:
#   MISSIVE_BIN_DIR   binaries to run (passed through to deploy/stack.sh)
#   KEEP_STACK=1      keep the temp dir (logs, database) after the run
#   E2E_IGNORE_LEAKS=1  do not fail on LeakSanitizer reports
#   E2E_START_TIMEOUT seconds allowed for `stack.sh start` (default 180)
#   E2E_S3=1|0        media tests against Swift's s3api too: 1 = required, 0 = never;
#                     default: when the swift packages are installed (deploy/deps.sh)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

log() { printf 'e2e: %s\n' "$*" >&2; }

if [ ! -f "$here/node_modules/ajv/package.json" ] || [ ! -f "$here/node_modules/yaml/package.json" ]; then
    log "installing tests/e2e dependencies (npm ci)"
    (cd "$here" && npm ci --no-audit --no-fund >&2) || { log "npm ci failed"; exit 1; }
fi

# Four distinct free ports on 127.0.0.1, held open together so they differ: nginx
# and missive-sse of the stack, and of the second (s3 storage) stack if it runs.
read -r http_port sse_port http2_port sse2_port < <(node -e '
  const net = require("node:net");
  const grab = () => new Promise((ok, ko) => { const s = net.createServer(); s.once("error", ko);
    s.listen(0, "127.0.0.1", () => ok(s)); });
  (async () => { const s = [await grab(), await grab(), await grab(), await grab()];
    console.log(s.map((x) => x.address().port).join(" ")); s.forEach((x) => x.close()); })();
') || { log "could not pick free ports"; exit 1; }
if [ -z "${http_port:-}" ] || [ -z "${sse_port:-}" ] || [ -z "${sse2_port:-}" ]; then log "could not pick free ports"; exit 1; fi
export MISSIVE_HTTP_PORT="$http_port" MISSIVE_SSE_PORT="$sse_port"
# Shorter clocks than production so the presence, ticket and media-expiry tests wait
# seconds, not minutes; every program of the stack reads these (MISSIVE_<KEY>
# overrides the file).
export MISSIVE_PRESENCE_GRACE="${MISSIVE_PRESENCE_GRACE:-2}" MISSIVE_TICKET_TTL="${MISSIVE_TICKET_TTL:-5}"
# The suite signs up hundreds of users from one address and sends thousands of
# messages per user: address and send limits are off here (0). The per-username
# sign-in limit and the typing limit stay at their defaults and are tested.
export MISSIVE_RATE_SIGNUP_IP="${MISSIVE_RATE_SIGNUP_IP:-0}" MISSIVE_RATE_LOGIN_IP="${MISSIVE_RATE_LOGIN_IP:-0}"
export MISSIVE_RATE_SEND="${MISSIVE_RATE_SEND:-0}" MISSIVE_RATE_TICKETS="${MISSIVE_RATE_TICKETS:-0}"
export MISSIVE_MEDIA_UPLOAD_TTL="${MISSIVE_MEDIA_UPLOAD_TTL:-5}"

dir="$(mktemp -d "${TMPDIR:-/tmp}/missive-e2e.XXXXXX")" || exit 1
chmod 755 "$dir"
log "stack dir $dir (nginx :$http_port, sse :$sse_port, bin ${MISSIVE_BIN_DIR:-$root/bin})"

# ---- Web Push receiver (tests/peers/push-receiver.mjs; docs/push.md) --------
# A strict push service for push.test.mjs: https on a free loopback port with a
# throwaway self-signed certificate. The stack trusts that certificate
# (MISSIVE_PUSH_CA_FILE) and, for tests only, lets pushes reach loopback
# (MISSIVE_PUSH_ALLOW_PRIVATE=1). The tests find it through PUSH_RECEIVER_URL
# and PUSH_RECEIVER_CA.
push_receiver_pid=
start_push_receiver() {
    local pdir="$dir/push-receiver" port i
    mkdir -p "$pdir" "$dir/log" || return 1
    if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$pdir/key.pem" -out "$pdir/cert.pem" -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 >"$pdir/openssl.log" 2>&1; then
        log "push receiver: openssl could not make a certificate"; cat "$pdir/openssl.log" >&2; return 1
    fi
    port=$(node -e 'const s = require("node:net").createServer();
      s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });') || return 1
    PUSH_PORT="$port" PUSH_TLS_CERT="$pdir/cert.pem" PUSH_TLS_KEY="$pdir/key.pem" \
        node "$root/tests/peers/push-receiver.mjs" >>"$dir/log/push-receiver.log" 2>&1 &
    push_receiver_pid=$!
    for i in $(seq 100); do
        if curl -fs --noproxy '*' --cacert "$pdir/cert.pem" -o /dev/null --max-time 1 \
            "https://127.0.0.1:$port/subscription"; then
            export MISSIVE_PUSH_ALLOW_PRIVATE=1 MISSIVE_PUSH_CA_FILE="$pdir/cert.pem"
            export PUSH_RECEIVER_URL="https://127.0.0.1:$port" PUSH_RECEIVER_CA="$pdir/cert.pem"
            log "push receiver on https://127.0.0.1:$port (pid $push_receiver_pid)"
            return 0
        fi
        kill -0 "$push_receiver_pid" 2>/dev/null || break
        sleep 0.1
    done
    log "push receiver did not start; see $dir/log/push-receiver.log"
    return 1
}
stop_push_receiver() {
    [ -n "$push_receiver_pid" ] || return 0
    kill "$push_receiver_pid" 2>/dev/null && wait "$push_receiver_pid" 2>/dev/null
    push_receiver_pid=
    return 0
}
# ---- end of the Web Push receiver --------------------------------------------

stack_started=0
stopped=0
# The s3 part: Swift in $swift_root, the second stack in $dir2 (set when it runs).
swift_root="" dir2="" stack2_started=0 s3_stopped=0
print_log_tails() {
    local f
    shopt -s nullglob
    for f in "${1:-$dir}"/log/*.log; do
        printf '\n===== tail -n 60 %s =====\n' "$f" >&2
        tail -n 60 "$f" >&2
    done
    shopt -u nullglob
}
stop_s3() {
    [ "$s3_stopped" = 1 ] && return 0
    s3_stopped=1
    if [ "$stack2_started" = 1 ]; then
        log "stopping the s3 stack"
        timeout 120 bash deploy/stack.sh stop "$dir2" >&2 || log "stack.sh stop (s3) failed (rc=$?)"
    fi
    if [ -n "$swift_root" ]; then
        SWIFT_ROOT="$swift_root" bash tests/peers/swift-peer.sh stop >&2 || log "swift-peer.sh stop failed"
    fi
}
stop_stack() {
    stop_s3
    [ "$stopped" = 1 ] && return 0
    stopped=1
    if [ "$stack_started" = 1 ]; then
        log "stopping the stack"
        timeout 120 bash deploy/stack.sh stop "$dir" >&2 || log "stack.sh stop failed (rc=$?)"
    fi
}
cleanup() {
    stop_stack
    stop_push_receiver
    if [ "${KEEP_STACK:-0}" = 1 ]; then
        log "kept $dir${dir2:+ and $dir2}${swift_root:+ and $swift_root}"
    else
        rm -rf "$dir"
        [ -z "$dir2" ] || rm -rf "$dir2"
        [ -z "$swift_root" ] || rm -rf "$swift_root"
    fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

start_push_receiver || exit 1

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

MISSIVE_STACK_ENV="$dir/stack.env" node --test --test-concurrency=1 --test-timeout=600000 "${tests[@]}"
status=$?

# ---- the media tests again, against the s3 storage backend (Swift's s3api)
swift_installed() { [ -x /usr/bin/swift-ring-builder ] && /usr/bin/python3 -c 'import swift' 2>/dev/null; }
# A base port P with P..P+5 free (Swift uses P, P+2..P+5, and P+9 for UDP logs).
swift_port() {
    local p i busy
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 9990))
        busy=0
        for i in 0 1 2 3 4 5 9; do
            [ -z "$(ss -Hlntu "sport = :$((p + i))" 2>/dev/null)" ] || busy=1
        done
        [ "$busy" = 1 ] || { echo "$p"; return 0; }
    done
    return 1
}
run_s3() {
    local port
    swift_root="$(mktemp -d "${TMPDIR:-/tmp}/missive-swift.XXXXXX")" || return 1
    port=$(swift_port) || { log "no free ports for Swift"; return 1; }
    log "s3: starting Swift (s3api) on 127.0.0.1:$port in $swift_root"
    if ! SWIFT_ROOT="$swift_root" SWIFT_PORT="$port" SWIFT_WAIT=600 bash tests/peers/swift-peer.sh start >&2 ||
        ! SWIFT_ROOT="$swift_root" SWIFT_PORT="$port" bash tests/peers/swift-peer.sh bucket media >&2; then
        log "s3: Swift did not start"
        tail -n 40 "$swift_root"/run/*.log >&2 2>/dev/null
        return 1
    fi
    dir2="$(mktemp -d "${TMPDIR:-/tmp}/missive-e2e-s3.XXXXXX")" || return 1
    chmod 755 "$dir2"
    log "s3: second stack in $dir2 (nginx :$http2_port, sse :$sse2_port), storage_backend = s3"
    stack2_started=1
    if ! MISSIVE_HTTP_PORT="$http2_port" MISSIVE_SSE_PORT="$sse2_port" \
        MISSIVE_STORAGE_BACKEND=s3 MISSIVE_STORAGE_S3_ENDPOINT="http://127.0.0.1:$port" \
        MISSIVE_STORAGE_S3_REGION=us-east-1 MISSIVE_STORAGE_S3_BUCKET=media \
        MISSIVE_STORAGE_S3_ACCESS_KEY=test:tester MISSIVE_STORAGE_S3_SECRET_KEY=testing \
        MISSIVE_STORAGE_S3_PATH_STYLE=1 \
        timeout "${E2E_START_TIMEOUT:-180}" bash deploy/stack.sh start "$dir2"; then
        log "s3: deploy/stack.sh start failed"
        print_log_tails "$dir2"
        return 1
    fi
    MISSIVE_STACK_ENV="$dir2/stack.env" node --test --test-concurrency=1 --test-timeout=600000 \
        tests/e2e/media.test.mjs || { log "s3: media tests failed"; print_log_tails "$dir2"; return 1; }
}
media_selected=0
for t in "${tests[@]}"; do [ "$(basename "$t")" = media.test.mjs ] && media_selected=1; done
want_s3=0
case "${E2E_S3:-auto}" in
1)
    want_s3=1
    swift_installed || { log "E2E_S3=1 but Swift is not installed (deploy/deps.sh installs it)"; status=1; want_s3=0; }
    ;;
0) ;;
*) swift_installed && want_s3=1 ;;
esac
if [ "$media_selected" = 1 ] && [ "$want_s3" = 1 ]; then
    run_s3 || status=1
    stop_s3
elif [ "$media_selected" = 1 ]; then
    log "s3: media tests against Swift's s3api skipped (E2E_S3=${E2E_S3:-auto}; swift packages: $(swift_installed && echo installed || echo missing))"
fi

# Sanitizer reports (LeakSanitizer in particular) are written at process exit.
stop_stack

shopt -s nullglob
logs=("$dir"/log/*.log)
[ -z "$dir2" ] || logs+=("$dir2"/log/*.log)
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
