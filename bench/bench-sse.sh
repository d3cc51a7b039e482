#!/usr/bin/env bash
# bench-sse.sh: live delivery (missive-sse) under load: idle streams and their
# memory, send -> receive latency, fan-out to a big group, resumption after
# reconnects with Last-Event-ID, and fan-out to many groups at a high rate.
#
#   bash bench/bench-sse.sh
#   BENCH_BIG=1 bash bench/bench-sse.sh          # 50,000 idle streams, 10,000-stream latency,
#                                                # 100 groups of 100 at 1,500 msgs/s
#   BENCH_ONLY="idle latency" bash bench/bench-sse.sh
#
# Builds bench/sse_load.c into build/bench/sse_load, starts a private stack
# (deploy/stack.sh) on free loopback ports in a fresh temp dir, and runs:
#   (a) idle       N streams held open; missive-sse RSS before/after -> bytes per stream
#   (b) latency    one stream per user, users in direct pairs, an open-loop sender at
#                  R msgs/s through nginx; send -> receive latency of every delivery
#   (c) group      one group of G members, one stream each, M messages; time until all
#                  G streams had each message
#   (d) reconnect  N streams dropped and resumed (Last-Event-ID) at X/s while messages
#                  flow; nothing sent during a gap may be lost
#   (e) groups     C groups of G members (consecutive users), one stream per user; message
#                  i goes at R msgs/s to group i % C from a random member (R x G deliveries/s);
#                  send -> receive latency, and per message until all G streams had it
# Each scenario runs on a fresh missive-sse (a clean process: its RSS, its
# counters); after it, missive-sse is stopped with SIGTERM and the time it takes
# to exit is reported (SIGKILL after 30 s). Streams go straight to missive-sse
# (not through nginx); BENCH_BIG's idle run adds BENCH_SSE_EXTRA more
# missive-sse processes on their own ports (a process may hold at most 20,000
# files here). A default run takes ~5 minutes (groups adds under one), BENCH_BIG=1 15-20
# (groups adds a few: 10,000 sign-ups and streams before it sends). Prints every result line,
# then a summary and how the machine's cores were shared, and stops everything
# it started (always, also on failure or Ctrl-C). Prints numbers, asserts
# nothing; exits non-zero only when a step fails. See bench/README.md.
#
# Environment (defaults; BENCH_BIG=1 defaults in brackets):
#   BENCH_ONLY               scenarios to run ("idle latency group reconnect groups")
#   BENCH_IDLE_STREAMS       5000 [50000]     BENCH_IDLE_PER_USER  5 [10]
#   BENCH_IDLE_HOLD          seconds held open (20; > 15 so every stream sees a heartbeat)
#   BENCH_SSE_EXTRA          extra missive-sse processes for the idle run (0 [3])
#   BENCH_LAT_STREAMS        2000 [10000]     BENCH_LAT_RATE  200 [1000] msgs/s
#   BENCH_LAT_DURATION       20 s             BENCH_SENDERS   16 [32] sender connections
#   BENCH_GROUP_SIZE         1000             BENCH_GROUP_MESSAGES 20   BENCH_GROUP_RATE 5
#   BENCH_GROUP_SETTLE       longest wait for the members' presence notices to end before
#                            sending (120 s; 0: send into the wave, see bench/README.md)
#   BENCH_RECONNECT_STREAMS  1000             BENCH_RECONNECT_RATE 200 reconnects/s
#   BENCH_RECONNECT_DURATION 20 s             BENCH_RECONNECT_MSG_RATE 100 msgs/s
#   BENCH_RECONNECT_GAP_MS   250 (a dropped stream reconnects after this long)
#   BENCH_GROUPS_COUNT       20 [100] groups  BENCH_GROUPS_SIZE 50 [100] members each
#                            (streams = COUNT x SIZE, one per user)
#   BENCH_GROUPS_RATE        300 [1500] msgs/s                BENCH_GROUPS_DURATION 20 s
#   BENCH_GROUPS_SENDERS     16 [48] sender connections (48 keep up with 1,500/s while a POST
#                            takes under 32 ms)
#   BENCH_GROUPS_SETTLE      longest wait for the members' presence notices to end before
#                            sending (120 s)
#   MISSIVE_BIN_DIR          binaries to run; unset: `make -s all` builds ./bin first
#   KEEP_STACK=1             keep the temp dir (logs, database) afterwards
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

BIG=${BENCH_BIG:-0}
big() { if [ "$BIG" = 1 ]; then echo "$2"; else echo "$1"; fi; }
ONLY=${BENCH_ONLY:-idle latency group reconnect groups}
IDLE_STREAMS=${BENCH_IDLE_STREAMS:-$(big 5000 50000)}
IDLE_PER_USER=${BENCH_IDLE_PER_USER:-$(big 5 10)}
IDLE_HOLD=${BENCH_IDLE_HOLD:-20}
SSE_EXTRA=${BENCH_SSE_EXTRA:-$(big 0 3)}
LAT_STREAMS=${BENCH_LAT_STREAMS:-$(big 2000 10000)}
LAT_RATE=${BENCH_LAT_RATE:-$(big 200 1000)}
LAT_DURATION=${BENCH_LAT_DURATION:-20}
SENDERS=${BENCH_SENDERS:-$(big 16 32)}
GROUP_SIZE=${BENCH_GROUP_SIZE:-1000}
GROUP_MESSAGES=${BENCH_GROUP_MESSAGES:-20}
GROUP_RATE=${BENCH_GROUP_RATE:-5}
GROUP_SETTLE=${BENCH_GROUP_SETTLE:-120}
RC_STREAMS=${BENCH_RECONNECT_STREAMS:-1000}
RC_RATE=${BENCH_RECONNECT_RATE:-200}
RC_DURATION=${BENCH_RECONNECT_DURATION:-20}
RC_MSG_RATE=${BENCH_RECONNECT_MSG_RATE:-100}
RC_GAP=${BENCH_RECONNECT_GAP_MS:-250}
GROUPS_COUNT=${BENCH_GROUPS_COUNT:-$(big 20 100)}
GROUPS_SIZE=${BENCH_GROUPS_SIZE:-$(big 50 100)}
GROUPS_RATE=${BENCH_GROUPS_RATE:-$(big 300 1500)}
GROUPS_DURATION=${BENCH_GROUPS_DURATION:-20}
GROUPS_SENDERS=${BENCH_GROUPS_SENDERS:-$(big 16 48)}
GROUPS_SETTLE=${BENCH_GROUPS_SETTLE:-120}
TOOL=$root/build/bench/sse_load

log() { printf 'bench-sse: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for v in IDLE_STREAMS IDLE_PER_USER IDLE_HOLD SSE_EXTRA LAT_STREAMS LAT_RATE LAT_DURATION SENDERS \
    GROUP_SIZE GROUP_MESSAGES GROUP_RATE GROUP_SETTLE RC_STREAMS RC_RATE RC_DURATION RC_MSG_RATE RC_GAP \
    GROUPS_COUNT GROUPS_SIZE GROUPS_RATE GROUPS_DURATION GROUPS_SENDERS GROUPS_SETTLE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "BENCH_$v must be a whole number (got '${!v}')"
done
[ "$SSE_EXTRA" -le 12 ] || die "BENCH_SSE_EXTRA: at most 12"
[ "$GROUPS_SIZE" -ge 2 ] || die "BENCH_GROUPS_SIZE: 2 to 1024"
[ "$GROUPS_SIZE" -le 1024 ] || die "BENCH_GROUPS_SIZE: 2 to 1024"
[ "$GROUPS_COUNT" -ge 1 ] || die "BENCH_GROUPS_COUNT: at least 1"
for s in $ONLY; do
    case $s in idle | latency | group | reconnect | groups) ;; *) die "BENCH_ONLY: unknown scenario '$s'" ;; esac
done

# ---------------------------------------------------------------- build

log "building build/bench/sse_load"
mkdir -p build/bench
cc -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
    -Wformat=2 -Wno-format-nonliteral -pthread -o "$TOOL" bench/sse_load.c ||
    die "cannot build bench/sse_load.c"

if [ -z "${MISSIVE_BIN_DIR:-}" ]; then
    log "building the stack (make -s all)"
    make -s all >&2 || die "make all failed"
fi
BIN_DIR=${MISSIVE_BIN_DIR:-$root/bin}
[ -x "$BIN_DIR/missive-sse" ] || die "no $BIN_DIR/missive-sse"

# ---------------------------------------------------------------- stack

read -r -a ports < <("$TOOL" --free-ports $((2 + SSE_EXTRA))) || die "cannot pick free ports"
[ "${#ports[@]}" -eq $((2 + SSE_EXTRA)) ] || die "cannot pick free ports"
export MISSIVE_HTTP_PORT=${ports[0]} MISSIVE_SSE_PORT=${ports[1]}
extra_ports=("${ports[@]:2}")
# Signing up is not what is measured: cheap Argon2 keeps the setup short, and the
# sign-up / sign-in rate limits (per address: every user here comes from 127.0.0.1)
# are lifted. The per-user send limit stays: no user here sends anywhere near it.
export MISSIVE_ARGON2_MEMORY_KIB=1024 MISSIVE_ARGON2_ITERATIONS=1
export MISSIVE_RATE_SIGNUP_IP=0 MISSIVE_RATE_LOGIN_IP=0 MISSIVE_RATE_LOGIN_USER=0
# A load test is one address sending far more than a person: limits off.
export MISSIVE_RATE_SIGNUP_IP=0 MISSIVE_RATE_LOGIN_IP=0 MISSIVE_RATE_SEND=0 MISSIVE_RATE_TICKETS=0 MISSIVE_RATE_MEDIA=0

dir=$(mktemp -d "${TMPDIR:-/tmp}/missive-bsse.XXXXXX") || die "mktemp failed"
chmod 755 "$dir" # PostgreSQL (user postgres) and nginx workers (nobody) must enter it
stack_started=0
extra_pids=()

now_ms() { date +%s%3N; }

# SIGTERM to the given pids together; each gets SHUTDOWN_WAIT seconds before a SIGKILL.
# Sets STOP_OUT to one "NAMEi:SECONDS" (or "NAMEi:SIGKILL") per pid. $1: name prefix.
STOP_OUT=""
SHUTDOWN_WAIT=30
stop_pids() {
    local prefix=$1 p i=0 t0 left out=()
    shift
    t0=$(now_ms)
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    declare -A done_at=()
    while :; do
        left=0
        for p in "$@"; do
            [ -z "${done_at[$p]:-}" ] || continue
            if kill -0 "$p" 2>/dev/null && [ "$(ps -o stat= -p "$p" 2>/dev/null | cut -c1)" != Z ]; then
                left=1
            else
                done_at[$p]=$(($(now_ms) - t0))
            fi
        done
        [ "$left" = 1 ] || break
        [ $(($(now_ms) - t0)) -lt $((SHUTDOWN_WAIT * 1000)) ] || break
        sleep 0.05
    done
    for p in "$@"; do
        if [ -z "${done_at[$p]:-}" ]; then
            kill -KILL "$p" 2>/dev/null || true
            out+=("$prefix$i:SIGKILL")
        else
            out+=("$prefix$i:$(awk -v m="${done_at[$p]}" 'BEGIN { printf "%.1fs", m / 1000 }')")
        fi
        wait "$p" 2>/dev/null || true
        i=$((i + 1))
    done
    STOP_OUT="${out[*]}"
}

stop_extras() {
    STOP_OUT=""
    [ "${#extra_pids[@]}" -gt 0 ] || return 0
    stop_pids extra "${extra_pids[@]}"
    extra_pids=()
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_extras
    if [ "$stack_started" = 1 ]; then
        log "stopping the stack"
        timeout 120 bash deploy/stack.sh stop "$dir" >&2 || log "stack.sh stop failed"
    fi
    if [ "${KEEP_STACK:-0}" = 1 ]; then log "kept $dir"; else rm -rf -- "$dir"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

log "stack dir $dir (nginx :$MISSIVE_HTTP_PORT, sse :$MISSIVE_SSE_PORT${extra_ports[*]:+, extra sse :${extra_ports[*]}})"
stack_started=1
timeout 180 bash deploy/stack.sh start "$dir" >&2 || die "deploy/stack.sh start failed (logs: KEEP_STACK=1)"
url=$(sed -n "s/^MISSIVE_URL='\(.*\)'$/\1/p" "$dir/stack.env")
conf=$(sed -n "s/^MISSIVE_CONF='\(.*\)'$/\1/p" "$dir/stack.env")
[ -n "$url" ] && [ -n "$conf" ] || die "no MISSIVE_URL / MISSIVE_CONF in $dir/stack.env"

pid_of() {
    local f
    case $1 in
    postgres) f=$dir/pg/postmaster.pid ;;
    *) f=$dir/run/$1.pid ;;
    esac
    head -n 1 "$f" 2>/dev/null | tr -dc 0-9
}

start_sse() {
    timeout 60 bash deploy/stack.sh start-one "$dir" sse >&2 || die "start-one sse failed"
}

# Stops the stack's missive-sse (SIGTERM, as stack.sh would, but waiting up to
# SHUTDOWN_WAIT s and timing it); STOP_OUT: "sse:SECONDS" or "sse:SIGKILL".
stop_sse() {
    local pid
    STOP_OUT=""
    pid=$(pid_of sse)
    [ -n "$pid" ] || return 0
    stop_pids sse "$pid"
    STOP_OUT=${STOP_OUT/sse0/sse}
    rm -f -- "$dir/run/sse.pid"
}

start_extras() { # N: that many more missive-sse processes on extra_ports
    local i p
    for ((i = 0; i < $1; i++)); do
        MISSIVE_SSE_LISTEN=127.0.0.1:${extra_ports[$i]} "$BIN_DIR/missive-sse" -c "$conf" \
            </dev/null >>"$dir/log/sse-extra-$i.log" 2>&1 &
        extra_pids+=($!)
    done
    for ((i = 0; i < $1; i++)); do
        p=${extra_ports[$i]}
        for _ in $(seq 100); do
            curl -fs --noproxy '*' -o /dev/null --max-time 1 "http://127.0.0.1:$p/healthz" && break
            kill -0 "${extra_pids[$i]}" 2>/dev/null || die "extra missive-sse on :$p exited (log: $dir/log/sse-extra-$i.log)"
            sleep 0.1
        done
        curl -fs --noproxy '*' -o /dev/null --max-time 1 "http://127.0.0.1:$p/healthz" ||
            die "extra missive-sse on :$p not ready"
    done
}

watch_args() {
    local name pid out=()
    for name in nginx api postgres sse worker; do
        pid=$(pid_of "$name")
        [ -z "$pid" ] || out+=(--watch "$name=$pid")
    done
    for pid in "${extra_pids[@]}"; do out+=(--watch "sse=$pid"); done
    printf '%s\n' "${out[@]}"
}

# ---------------------------------------------------------------- scenarios

declare -A OUT  # scenario -> its result lines
declare -A NOTE # scenario -> what the sse logs and processes showed
failed=()
nproc_=$(nproc 2>/dev/null || echo '?')

# What missive-sse said during a scenario: warnings, errors, libmicrohttpd's own lines.
sse_log_mark() { wc -c <"$dir/log/sse.log" 2>/dev/null || echo 0; }
sse_log_note() { # from-offset, shutdown times
    local new warn err mhd crash="" f
    new=$(tail -c +$(($1 + 1)) "$dir/log/sse.log" 2>/dev/null || true)
    for f in "$dir"/log/sse-extra-*.log; do
        [ -f "$f" ] || continue
        new+=$'\n'$(cat "$f")
        mv -f -- "$f" "${f%.log}.done" # counted once
    done
    warn=$(grep -c '"level":"warn"' <<<"$new" || true)
    err=$(grep -c '"level":"error"' <<<"$new" || true)
    mhd=$(grep -vc '^{\|^$' <<<"$new" || true)
    local top
    top=$(grep -v '^$' <<<"$new" | grep -v '"level":"info"' | sed 's/"ts":"[^"]*",//' | sort | uniq -c |
        sort -rn | head -n 3 | sed 's/^ */    /' || true)
    [ -n "$2" ] || crash=" MISSIVE-SSE IS GONE"
    printf 'sse_log warn=%s error=%s libmicrohttpd_lines=%s shutdown=%s%s\n' "$warn" "$err" "$mhd" \
        "$(tr ' ' , <<<"$2")" "$crash"
    [ -z "$top" ] || printf '%s\n' "$top"
}

run_tool() { # name, then sse_load arguments
    local name=$1 out rc=0 mark
    shift
    mark=$(sse_log_mark)
    local watch=()
    mapfile -t watch < <(watch_args)
    log "run $name: sse_load $*"
    out=$(timeout 900 "$TOOL" "$@" --api "$url" "${watch[@]}") || rc=$?
    printf '%s\n' "$out" | sed "s/^/  [$name] /"
    # The streams are gone; how long do the missive-sse processes take to stop now?
    local note down="" alive=1
    kill -0 "$(pid_of sse)" 2>/dev/null || alive=0
    stop_sse
    down=$STOP_OUT
    stop_extras
    down=$(xargs <<<"$down $STOP_OUT")
    [ "$alive" = 1 ] || down=""
    note=$(sse_log_note "$mark" "$down")
    printf '%s\n' "$note" | sed "s/^/  [$name] /"
    OUT[$name]=$out
    NOTE[$name]=$note
    if [ "$rc" -ne 0 ]; then
        log "$name: sse_load failed (rc=$rc)"
        failed+=("$name")
    fi
}

sse_target() { echo "127.0.0.1:$MISSIVE_SSE_PORT/$(pid_of sse)"; }

echo "live-delivery benchmark: missive-sse at 127.0.0.1:$MISSIVE_SSE_PORT, REST via nginx at $url"
echo "  this machine has $nproc_ cores, shared by the load tool, nginx, missive-api, PostgreSQL,"
echo "  missive-sse and missive-worker (and whatever else runs here: see 'other' in the cpu lines)"

for s in $ONLY; do
    echo
    start_sse # a fresh process for each scenario (the previous one was stopped and timed)
    case $s in
    idle)
        echo "(a) idle: $IDLE_STREAMS streams, $IDLE_PER_USER per user, held ${IDLE_HOLD}s, over $((1 + SSE_EXTRA)) missive-sse process(es)"
        [ "$SSE_EXTRA" = 0 ] || start_extras "$SSE_EXTRA"
        targets=(--sse "$(sse_target)")
        for ((i = 0; i < SSE_EXTRA; i++)); do targets+=(--sse "127.0.0.1:${extra_ports[$i]}/${extra_pids[$i]}"); done
        run_tool idle idle "${targets[@]}" --streams "$IDLE_STREAMS" --per-user "$IDLE_PER_USER" \
            --hold "$IDLE_HOLD" --sources 4 --max-time 600
        ;;
    latency)
        echo "(b) latency: $LAT_STREAMS streams (one per user, users in direct pairs), $LAT_RATE msgs/s for ${LAT_DURATION}s"
        run_tool latency latency --sse "$(sse_target)" --streams "$LAT_STREAMS" --rate "$LAT_RATE" \
            --duration "$LAT_DURATION" --senders "$SENDERS" --conv pairs --max-time 600
        ;;
    group)
        echo "(c) group: one group of $GROUP_SIZE members, one stream each, $GROUP_MESSAGES messages at $GROUP_RATE/s"
        run_tool group latency --sse "$(sse_target)" --streams "$GROUP_SIZE" --conv group \
            --messages "$GROUP_MESSAGES" --rate "$GROUP_RATE" --senders 4 --settle "$GROUP_SETTLE" \
            --drain 60 --max-time 600
        ;;
    reconnect)
        echo "(d) reconnect: $RC_STREAMS streams, $RC_RATE drops+resumes/s (gap ${RC_GAP}ms) for ${RC_DURATION}s, $RC_MSG_RATE msgs/s meanwhile"
        run_tool reconnect reconnect --sse "$(sse_target)" --streams "$RC_STREAMS" \
            --reconnect-rate "$RC_RATE" --gap-ms "$RC_GAP" --duration "$RC_DURATION" \
            --rate "$RC_MSG_RATE" --senders "$SENDERS" --conv pairs --max-time 600
        ;;
    groups)
        echo "(e) groups: $GROUPS_COUNT groups of $GROUPS_SIZE members ($((GROUPS_COUNT * GROUPS_SIZE)) streams, one per user), $GROUPS_RATE msgs/s for ${GROUPS_DURATION}s ($((GROUPS_RATE * GROUPS_SIZE)) deliveries/s)"
        run_tool groups latency --sse "$(sse_target)" --streams $((GROUPS_COUNT * GROUPS_SIZE)) \
            --conv groups --group-size "$GROUPS_SIZE" --rate "$GROUPS_RATE" \
            --duration "$GROUPS_DURATION" --senders "$GROUPS_SENDERS" --settle "$GROUPS_SETTLE" \
            --drain 60 --max-time 600
        ;;
    esac
done

# ---------------------------------------------------------------- summary

kv() { # "lines" prefix key -> value of key= on the first line starting with prefix
    awk -v p="$2" -v k="$3" '$1 == p { for (i = 2; i <= NF; i++) { n = index($i, "=");
        if (n && substr($i, 1, n - 1) == k) { print substr($i, n + 1); exit } } }' <<<"$1"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo
echo "summary"
printf '%-11s %s\n' scenario result
for s in $ONLY; do
    o=${OUT[$s]:-}
    [ -n "$o" ] || {
        printf '%-11s %s\n' "$s" "no result"
        continue
    }
    case $s in
    idle)
        printf '%-11s %s\n' idle "$(kv "$o" open open)/$(kv "$o" open streams) streams open in $(kv "$o" open open_s)s ($(kv "$o" open open_rate)); after $(kv "$o" hold s)s: $(kv "$o" hold open_at_end) still open, $(kv "$o" hold heartbeat_streams) saw a heartbeat, $(kv "$o" hold closed_by_server) closed by the server"
        printf '%-11s %s\n' "" "missive-sse RSS $(mib "$(kv "$o" rss_total before_kib)") -> $(mib "$(kv "$o" rss_total hold_kib)") MiB (all processes): $(kv "$o" rss_total bytes_per_stream) bytes/stream"
        while read -r line; do
            [ -n "$line" ] || continue
            printf '%-11s   %s\n' "" "$(awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^(target|pid|streams|bytes_per_stream)=/) printf "%s ", $i }' <<<"$line")"
        done < <(grep '^rss target=' <<<"$o" || true)
        printf '%-11s %s\n' "" "kernel, not in any RSS (both ends of a stream): slab +$(kv "$o" kernel slab_bytes_per_stream) bytes/stream, TCP buffers +$(kv "$o" kernel tcp_mem_bytes_per_stream); load tool RSS $(mib "$(kv "$o" tool rss_kib)") MiB"
        ;;
    latency | group | reconnect | groups)
        printf '%-11s %s\n' "$s" "sent $(kv "$o" send ok)/$(kv "$o" send msgs) (of $(kv "$o" send planned) planned) at $(kv "$o" send rate) (target $(kv "$o" send target_rate)), POST p50 $(kv "$o" send post_p50) p99 $(kv "$o" send post_p99), sender late by >10ms: $(kv "$o" send late_10ms)"
        printf '%-11s %s\n' "" "delivered $(kv "$o" deliver delivered)/$(kv "$o" deliver expected): lost $(kv "$o" deliver lost), dup $(kv "$o" deliver dup), misdelivered $(kv "$o" deliver misdelivered), out-of-order $(kv "$o" deliver out_of_order)"
        printf '%-11s %s\n' "" "send->receive p50 $(kv "$o" deliver p50) p90 $(kv "$o" deliver p90) p99 $(kv "$o" deliver p99) max $(kv "$o" deliver max)"
        if [ "$s" = group ]; then
            printf '%-11s %s\n' "" "per message, until all $(kv "$o" fanout recipients) had it: p50 $(kv "$o" fanout all_p50) p99 $(kv "$o" fanout all_p99) max $(kv "$o" fanout all_max) ($(kv "$o" fanout complete) complete)"
        fi
        if [ "$s" = groups ]; then
            printf '%-11s %s\n' "" "per message, until all $(kv "$o" fanout recipients) streams of its group ($(kv "$o" fanout groups) groups of $(kv "$o" fanout members)) had it: p50 $(kv "$o" fanout all_p50) p99 $(kv "$o" fanout all_p99) max $(kv "$o" fanout all_max) ($(kv "$o" fanout complete) complete, $(kv "$o" fanout incomplete) incomplete)"
        fi
        printf '%-11s %s\n' "" "before sending: $(kv "$o" settle notices) notices (presence, stream.ready) took $(kv "$o" settle s)s to quiet down (quiet=$(kv "$o" settle quiet))"
        if [ "$s" = reconnect ]; then
            printf '%-11s %s\n' "" "reconnects: $(kv "$o" reconnect resumed) resumed, $(kv "$o" reconnect achieved) achieved (target $(kv "$o" reconnect target_rate)), reconnect->200 p50 $(kv "$o" reconnect p50) p99 $(kv "$o" reconnect p99)"
            printf '%-11s %s\n' "" "sent while disconnected: $(kv "$o" gap delivered)/$(kv "$o" gap expected) arrived after resuming (lost $(kv "$o" gap lost)); deliveries that crossed a drop: $(kv "$o" gap crossed)"
        fi
        printf '%-11s %s\n' "" "missive-sse streams gauge at the end $(kv "$o" server streams_gauge) (open in the tool: $(kv "$o" server tool_open)), its fds $(kv "$o" server server_fds); during the run it counted up to $(kv "$o" server gauge_excess_max) streams more than the tool held"
        ;;
    esac
    printf '%-11s %s\n' "" "$(head -n 1 <<<"${NOTE[$s]}")"
    while read -r line; do
        [ -n "$line" ] && printf '%-11s   %s\n' "" "$line"
    done < <(tail -n +2 <<<"${NOTE[$s]}" | grep -v 'Failed to send' || true)
done

echo
echo "cpu: cores used (CPU seconds per second of the window) out of $nproc_"
printf '%-20s %6s %6s %6s %6s %6s %6s %6s %6s %6s\n' window wall_s tool nginx api postgres sse worker other idle
for s in $ONLY; do
    while read -r line; do
        [ -n "$line" ] || continue
        w=$(kv "$line" cpu window)
        printf '%-20s %6s %6s %6s %6s %6s %6s %6s %6s %6s\n' "$s:$w" "$(kv "$line" cpu wall | tr -d s)" \
            "$(kv "$line" cpu tool)" "$(kv "$line" cpu nginx)" "$(kv "$line" cpu api)" \
            "$(kv "$line" cpu postgres)" "$(kv "$line" cpu sse)" "$(kv "$line" cpu worker)" \
            "$(kv "$line" cpu other)" "$(kv "$line" cpu idle)"
    done < <(grep '^cpu ' <<<"${OUT[$s]:-}" || true)
done
echo "tool = sse_load and its receiver processes; sse = every missive-sse process; postgres = the"
echo "postmaster and its backends; other = everything else on the machine (other tests, builds)."

[ "${#failed[@]}" = 0 ] || die "failed: ${failed[*]}"
