#!/usr/bin/env bash
# bench-receipts.sh: receipt throughput under load. Open-loop delivered/read
# marks (POST /v1/conversations/{id}/delivered|read) at a target rate through
# nginx; marks/s accepted, receipt events emitted, and the lag from a mark to
# the receipt event that covers it (seen by an observer polling /v1/events).
#
#   bash bench/bench-receipts.sh
#   BENCH_RATE=2000 BENCH_DURATION=5 bash bench/bench-receipts.sh
#
# Builds bench/receipts_bench.c into build/bench/, starts a private stack
# (deploy/stack.sh) on two free loopback ports in a fresh temp dir, runs one
# measurement, prints its line and the CPU per process, and stops the stack
# (always, also on failure or Ctrl-C). Prints numbers, asserts nothing; exits
# non-zero only when a step fails. See bench/README.md.
#
# Environment:
#   BENCH_RATE       target marks per second (5000)
#   BENCH_DURATION   measured seconds (15); BENCH_WARMUP seconds before (2)
#   BENCH_CLIENTS    client threads / connections (64)
#   BENCH_USERS (50), BENCH_GROUPS (10), BENCH_GROUP_SIZE (10)
#   MISSIVE_BIN_DIR  binaries to run; unset: `make -s all` builds ./bin first
#   KEEP_STACK=1     keep the temp dir (logs, database) afterwards
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

RATE=${BENCH_RATE:-5000}
DURATION=${BENCH_DURATION:-15}
WARMUP=${BENCH_WARMUP:-2}
CLIENTS=${BENCH_CLIENTS:-64}
USERS=${BENCH_USERS:-50}
GROUPS_=${BENCH_GROUPS:-10}
GSIZE=${BENCH_GROUP_SIZE:-10}
TOOL=$root/build/bench/receipts_bench

log() { printf 'bench-receipts: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for v in RATE DURATION WARMUP; do
    [[ ${!v} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BENCH_$v must be a number (got '${!v}')"
done
for v in CLIENTS USERS GROUPS_ GSIZE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done

log "building build/bench/receipts_bench"
mkdir -p build/bench
cc -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
    -Wformat=2 -Wno-format-nonliteral -pthread -o "$TOOL" bench/receipts_bench.c bench/benchlib.c ||
    die "cannot build bench/receipts_bench.c"

if [ -z "${MISSIVE_BIN_DIR:-}" ]; then
    log "building the stack (make -s all)"
    make -s all >&2 || die "make all failed"
fi

read -r http_port sse_port < <("$TOOL" --free-ports 2) || die "cannot pick free ports"
[ -n "${sse_port:-}" ] || die "cannot pick free ports"
export MISSIVE_HTTP_PORT=$http_port MISSIVE_SSE_PORT=$sse_port
export MISSIVE_ARGON2_MEMORY_KIB=1024 MISSIVE_ARGON2_ITERATIONS=1
export MISSIVE_RATE_SIGNUP_IP=0 MISSIVE_RATE_LOGIN_IP=0 MISSIVE_RATE_SEND=0 MISSIVE_RATE_TICKETS=0 MISSIVE_RATE_MEDIA=0

. bench/stacklib.sh
bench_stack_start missive-bench

watch=()
for name in nginx api postgres sse worker; do
    pid=$(pid_of "$name")
    [ -z "$pid" ] || watch+=(--watch "$name=$pid")
done

echo "receipts benchmark: delivered/read marks through nginx at $url"
echo "  target ${RATE} marks/s, ${WARMUP}s warmup + ${DURATION}s measured, $CLIENTS clients;"
echo "  $USERS users in $GROUPS_ groups of $GSIZE (+ an observer in every group, polling /v1/events every 20 ms);"
echo "  this machine has $(nproc 2>/dev/null || echo '?') cores, shared by the tool and the whole stack"
rc=0
out=$(timeout "$(awk -v w="$WARMUP" -v d="$DURATION" 'BEGIN { printf "%d", w + d + 180 }')" \
    "$TOOL" --url "$url" --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" \
    --clients "$CLIENTS" --users "$USERS" --groups "$GROUPS_" --group-size "$GSIZE" \
    "${watch[@]}") || rc=$?
if [ "$rc" -ne 0 ] || ! grep -q '^receipts ' <<<"$out"; then
    [ -z "$out" ] || printf '%s\n' "$out" >&2
    die "receipts_bench failed (rc=$rc)"
fi
echo
grep '^receipts ' <<<"$out" | tr ' ' '\n' | sed '1d; s/^/  /' | paste -sd' ' | fold -s -w 100
echo
echo "cpu (cores during the measured window):"
echo "  $(grep '^cpu ' <<<"$out" || echo '(none)')"
echo
echo "rate: 204 answers completed per second in the window (wall clock); events: receipt events read"
echo "in the window; lag: request start of a mark -> poll answer with the first event covering"
echo "it (includes up to 20 ms of poll interval); late: how far behind schedule marks started;"
echo "unsent: marks still queued when the window closed (the tool stops then). A large late or"
echo "unsent means the stack could not take the target rate: rate is then its ceiling."
other=$(grep '^cpu ' <<<"$out" | sed -n 's/.* other=\([0-9.]*\).*/\1/p')
if awk -v o="${other:-0}" 'BEGIN { exit !(o >= 0.25) }'; then
    echo "note: something outside the stack used ${other} cores during the window: numbers are lower"
    echo "than a quiet machine gives; rerun for clean numbers."
fi
