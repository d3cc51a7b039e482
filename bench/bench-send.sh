#!/usr/bin/env bash
# bench-send.sh: throughput and latency of POST /v1/conversations/{id}/messages
# through nginx, with the batched send writer on and then off.
#
#   bash bench/bench-send.sh
#   BENCH_DURATION=3 BENCH_WARMUP=1 bash bench/bench-send.sh
#
# Builds bench/send_bench.c into build/bench/, starts a private stack
# (deploy/stack.sh) on two free loopback ports in a fresh temp dir, runs
# send_bench for each client count with MISSIVE_SEND_BATCHING=1, restarts the
# api with MISSIVE_SEND_BATCHING=0 and runs them again, prints a table and the
# batched/unbatched ratios, and stops the stack (always, also on failure or
# Ctrl-C). Prints numbers, asserts nothing; exits non-zero only when a step
# fails. See bench/README.md for how to read the output.
#
# Environment:
#   BENCH_DURATION   measured seconds per run (10)
#   BENCH_WARMUP     seconds run before measuring (2)
#   BENCH_CLIENTS    client counts (concurrent connections), "1 16 64"
#   BENCH_USERS      users per run (16); BENCH_CONVERSATIONS groups per run (4)
#   MISSIVE_BIN_DIR  binaries to run; unset: `make -s all` builds ./bin first
#   MISSIVE_API_THREADS  passed through to missive-api (its default: 16)
#   KEEP_STACK=1     keep the temp dir (logs, database) afterwards
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CLIENTS=${BENCH_CLIENTS:-1 16 64}
USERS=${BENCH_USERS:-16}
CONVS=${BENCH_CONVERSATIONS:-4}
TOOL=$root/build/bench/send_bench

log() { printf 'bench-send: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for v in DURATION WARMUP; do
    [[ ${!v} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BENCH_$v must be a number of seconds (got '${!v}')"
done
[[ $CLIENTS =~ ^[0-9\ ]+$ && -n ${CLIENTS// /} ]] || die "BENCH_CLIENTS must be numbers (got '$CLIENTS')"

# ---------------------------------------------------------------- build

log "building build/bench/send_bench"
mkdir -p build/bench
cc -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
    -Wformat=2 -Wno-format-nonliteral -pthread -o "$TOOL" bench/send_bench.c bench/benchlib.c ||
    die "cannot build bench/send_bench.c"

if [ -z "${MISSIVE_BIN_DIR:-}" ]; then
    log "building the stack (make -s all)"
    make -s all >&2 || die "make all failed"
fi

# ---------------------------------------------------------------- stack

read -r http_port sse_port < <("$TOOL" --free-ports 2) || die "cannot pick free ports"
[ -n "${sse_port:-}" ] || die "cannot pick free ports"
export MISSIVE_HTTP_PORT=$http_port MISSIVE_SSE_PORT=$sse_port
# Signing up is not what is measured: cheap Argon2 keeps the setup short.
export MISSIVE_ARGON2_MEMORY_KIB=1024 MISSIVE_ARGON2_ITERATIONS=1
# A load test is one address sending far more than a person: limits off.
export MISSIVE_RATE_SIGNUP_IP=0 MISSIVE_RATE_LOGIN_IP=0 MISSIVE_RATE_SEND=0 MISSIVE_RATE_TICKETS=0 MISSIVE_RATE_MEDIA=0
export MISSIVE_SEND_BATCHING=1

. bench/stacklib.sh
bench_stack_start missive-bench

# What the running api was really started with (its environment).
api_batching() {
    local pid v
    pid=$(pid_of api)
    v=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^MISSIVE_SEND_BATCHING=//p')
    echo "${v:-1}" # unset: the config default, 1
}

# ---------------------------------------------------------------- runs

results=() # "batching clients <send_bench line> | <cpu line>"
failed=0

run_one() { # batching clients
    local b=$1 n=$2 out rc=0 watch=() name pid
    for name in nginx api postgres sse worker; do
        pid=$(pid_of "$name")
        [ -z "$pid" ] || watch+=(--watch "$name=$pid")
    done
    out=$(timeout "$(awk -v w="$WARMUP" -v d="$DURATION" 'BEGIN { printf "%d", w + d + 90 }')" \
        "$TOOL" --url "$url" --clients "$n" --duration "$DURATION" --warmup "$WARMUP" \
        --users "$USERS" --conversations "$CONVS" "${watch[@]}") || rc=$?
    if [ "$rc" -ne 0 ] || ! grep -q '^clients=' <<<"$out"; then
        log "send_bench failed (rc=$rc) at batching=$b clients=$n"
        [ -z "$out" ] || printf '%s\n' "$out" >&2
        failed=1
        return 0
    fi
    printf '  batching=%s %s\n' "$b" "$(grep '^clients=' <<<"$out")"
    printf '             %s\n' "$(grep '^cpu ' <<<"$out" || true)"
    results+=("$b $n $(grep '^clients=' <<<"$out") | $(grep '^cpu ' <<<"$out" || true)")
}

nproc_=$(nproc 2>/dev/null || echo '?')
echo "send benchmark: POST /v1/conversations/{id}/messages through nginx at $url"
echo "  ${WARMUP}s warmup + ${DURATION}s measured per run; $USERS users, $CONVS groups of all of them;"
echo "  api_threads=${MISSIVE_API_THREADS:-16 (default)}; this machine has $nproc_ cores, shared by the"
echo "  benchmark tool, nginx, missive-api and PostgreSQL (fsync and synchronous_commit on)"

for phase in 1 0; do
    if [ "$phase" = 0 ]; then
        log "restarting the api with MISSIVE_SEND_BATCHING=0"
        MISSIVE_SEND_BATCHING=0 timeout 60 bash deploy/stack.sh restart-one "$dir" api >&2 ||
            die "restart-one api failed"
    fi
    [ "$(api_batching)" = "$phase" ] ||
        die "missive-api runs with MISSIVE_SEND_BATCHING=$(api_batching), wanted $phase"
    echo
    echo "batching=$phase ($([ "$phase" = 1 ] && echo 'batched writer: concurrent sends share one transaction' ||
        echo 'one transaction per send'))"
    for n in $CLIENTS; do run_one "$phase" "$n"; done
done

# ---------------------------------------------------------------- summary

field() { # "line" key -> value with its unit stripped
    awk -v k="$2" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) {
        v = a[2]; sub(/(\/s|ms|s)$/, "", v); print v; exit } } }' <<<"$1"
}

echo
echo "summary (rate = 201 answers per second; latency of 201 answers; cpu in cores of $nproc_, measured window)"
printf '%-9s %7s %10s %9s %9s %7s   %5s %5s %5s %5s %5s %5s  %s\n' \
    batching clients rate/s p50_ms p99_ms errors tool nginx api pg other idle top_other
declare -A rate p50 p99
noisy=()
for r in "${results[@]}"; do
    read -r b n line <<<"$r"
    main=${line%%|*}
    cpu=${line#*|}
    rate[$b.$n]=$(field "$main" rate)
    p50[$b.$n]=$(field "$main" p50)
    p99[$b.$n]=$(field "$main" p99)
    printf '%-9s %7s %10s %9s %9s %7s   %5s %5s %5s %5s %5s %5s  %s\n' \
        "$([ "$b" = 1 ] && echo on || echo off)" "$n" "${rate[$b.$n]}" "${p50[$b.$n]}" \
        "${p99[$b.$n]}" "$(field "$main" errors)" "$(field "$cpu" tool)" "$(field "$cpu" nginx)" \
        "$(field "$cpu" api)" "$(field "$cpu" postgres)" "$(field "$cpu" other)" \
        "$(field "$cpu" idle)" "$(field "$cpu" top_other)"
    if awk -v o="$(field "$cpu" other)" 'BEGIN { exit !(o != "" && o + 0 >= 0.25) }'; then
        noisy+=("$([ "$b" = 1 ] && echo on || echo off)/$n")
    fi
done

echo
echo "batched / unbatched"
printf '%7s %10s %10s\n' clients rate_x p99_x
for n in $CLIENTS; do
    if [ -n "${rate[1.$n]:-}" ] && [ -n "${rate[0.$n]:-}" ]; then
        awk -v n="$n" -v r1="${rate[1.$n]}" -v r0="${rate[0.$n]}" -v l1="${p99[1.$n]}" \
            -v l0="${p99[0.$n]}" 'BEGIN {
            printf "%7s %10s %10s\n", n, (r0 > 0 ? sprintf("%.2f", r1 / r0) : "-"),
                (l0 > 0 ? sprintf("%.2f", l1 / l0) : "-") }'
    else
        printf '%7s %10s %10s\n' "$n" - -
    fi
done
echo "(rate_x > 1: batching sends more per second; p99_x < 1: batching answers faster at the 99th percentile)"
echo "cpu columns: cores used during the measured window by the tool, nginx (master+workers),"
echo "missive-api, PostgreSQL (postmaster+backends), everything else on the machine, and idle;"
echo "top_other: the busiest long-lived process outside the stack (comm[pid]:cores); short-lived"
echo "ones (another test's builds, initdb, ...) show only in 'other'."
echo "missive-sse and missive-worker are in the per-run cpu lines above."
if [ "${#noisy[@]}" -gt 0 ]; then
    echo "note: something outside the stack used >= 0.25 cores during ${noisy[*]} (batching/clients):"
    echo "those numbers are lower than a quiet machine gives; rerun for clean numbers."
fi

[ "$failed" = 0 ] || die "some runs failed (see above)"
