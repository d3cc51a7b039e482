#!/usr/bin/env bash
# soak.sh: the whole stack under a steady mixed load for SOAK_SECONDS, sampling the
# memory of every process; fails when a process's memory keeps growing.
#
#   bash bench/soak.sh                      # 10 minutes (make soak)
#   SOAK_SECONDS=120 bash bench/soak.sh     # a short run
#
# Starts a private stack (deploy/stack.sh) on free loopback ports in a fresh temp
# dir and runs build/bench/sse_load (reconnect mode, with its chores) against it:
#   - messages in direct conversations at SOAK_RATE per second (through nginx);
#   - SOAK_STREAMS streams straight to missive-sse, SOAK_RECONNECT_RATE of them
#     dropped and resumed with Last-Event-ID per second;
#   - read and delivered marks at SOAK_READ_RATE per second;
#   - SOAK_POLLERS long-poll loops (GET /v1/events?timeout=5 through nginx);
#   - SOAK_MEDIA_RATE uploads per second: presign, PUT to nginx (local storage),
#     a message holding it, GET /v1/media/{id} and the file.
# Every SOAK_SAMPLE seconds it reads VmRSS and RssAnon (/proc/PID/status) of
# missive-api, missive-sse, missive-worker (each with its children), the nginx
# workers (together) and PostgreSQL (postmaster and every backend, together).
#
# Verdict, per process group, on RssAnon (private anonymous memory: the heap; unlike
# VmRSS it leaves out shared libraries and PostgreSQL's shared buffers, which grow
# as pages are first touched without being a leak): the samples after the warm-up
# (SOAK_WARMUP) are cut into thirds; the group is GROWING when the lowest sample of
# the last third is above the highest of the first third by more than
# max(SOAK_MARGIN_KIB, SOAK_MARGIN_PCT % of that highest). Memory that only
# fluctuates, or rises once and plateaus, never satisfies that; memory that climbs
# all along does. Exit 1 when a group is GROWING, when a process died or was
# replaced, or when the load itself failed (a lost or doubled delivery, or more
# than 1 % of any kind of request failing): then the numbers mean nothing. Exit 0
# otherwise. Prints the load's result lines, a table per process (start, end and
# peak of both measures, the slope) and the verdict. Run it on the release build:
# AddressSanitizer's quarantine and allocator make RSS grow by design.
#
# Environment (defaults):
#   SOAK_SECONDS 600     length of the load (sending) phase
#   SOAK_SAMPLE 5        seconds between samples
#   SOAK_WARMUP          seconds of the load not judged (60, or SOAK_SECONDS / 6 if less)
#   SOAK_MARGIN_KIB 1024 SOAK_MARGIN_PCT 5   allowed rise (see above)
#   SOAK_STREAMS 400     SOAK_PER_USER 2 (streams per user; users in direct pairs)
#   SOAK_RATE 20         SOAK_RECONNECT_RATE 10   SOAK_READ_RATE 10
#   SOAK_POLLERS 4       SOAK_MEDIA_RATE 1
#   MISSIVE_BIN_DIR      binaries to run; unset: `make -s all` builds ./bin first
#   KEEP_STACK=1         keep the temp dir (logs, database, samples) afterwards
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

SOAK_SECONDS=${SOAK_SECONDS:-600}
SAMPLE=${SOAK_SAMPLE:-5}
MARGIN_KIB=${SOAK_MARGIN_KIB:-1024}
MARGIN_PCT=${SOAK_MARGIN_PCT:-5}
STREAMS=${SOAK_STREAMS:-400}
PER_USER=${SOAK_PER_USER:-2}
RATE=${SOAK_RATE:-20}
RC_RATE=${SOAK_RECONNECT_RATE:-10}
READ_RATE=${SOAK_READ_RATE:-10}
POLLERS=${SOAK_POLLERS:-4}
MEDIA_RATE=${SOAK_MEDIA_RATE:-1}
TOOL=$root/build/bench/sse_load

log() { printf 'soak: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 2
}

for v in SOAK_SECONDS SAMPLE MARGIN_KIB MARGIN_PCT STREAMS PER_USER RATE RC_RATE READ_RATE POLLERS MEDIA_RATE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
[ "$SOAK_SECONDS" -ge 30 ] && [ "$SOAK_SECONDS" -le 82800 ] || die "SOAK_SECONDS: from 30 to 82800 (23 h)"
[ "$SAMPLE" -ge 1 ] || die "SOAK_SAMPLE: at least 1"
if [ -z "${SOAK_WARMUP:-}" ]; then
    WARMUP=$((SOAK_SECONDS / 6 < 60 ? SOAK_SECONDS / 6 : 60))
else
    WARMUP=$SOAK_WARMUP
    [[ $WARMUP =~ ^[0-9]+$ ]] && [ "$WARMUP" -lt "$SOAK_SECONDS" ] || die "SOAK_WARMUP: below SOAK_SECONDS"
fi
[ $(((SOAK_SECONDS - WARMUP) / SAMPLE)) -ge 6 ] || die "fewer than 6 samples to judge: lower SOAK_SAMPLE"

# ---------------------------------------------------------------- build

log "building build/bench/sse_load"
make -s build/bench/sse_load >&2 || die "cannot build build/bench/sse_load"
if [ -z "${MISSIVE_BIN_DIR:-}" ]; then
    log "building the stack (make -s all)"
    make -s all >&2 || die "make all failed"
fi
BIN_DIR=${MISSIVE_BIN_DIR:-$root/bin}
[ -x "$BIN_DIR/missive-sse" ] || die "no $BIN_DIR/missive-sse"

# ---------------------------------------------------------------- stack

read -r -a ports < <("$TOOL" --free-ports 2) || die "cannot pick free ports"
[ "${#ports[@]}" -eq 2 ] || die "cannot pick free ports"
export MISSIVE_HTTP_PORT=${ports[0]} MISSIVE_SSE_PORT=${ports[1]}
# Signing up is not what is measured (cheap Argon2), and one address sending all
# day is the load, not an attack (limits off).
export MISSIVE_ARGON2_MEMORY_KIB=1024 MISSIVE_ARGON2_ITERATIONS=1
export MISSIVE_RATE_SIGNUP_IP=0 MISSIVE_RATE_LOGIN_IP=0 MISSIVE_RATE_LOGIN_USER=0 MISSIVE_RATE_SEND=0
export MISSIVE_RATE_TICKETS=0 MISSIVE_RATE_MEDIA=0
# The load signs in once: its access tokens must outlive the run (at most a day).
export MISSIVE_ACCESS_TTL=$((SOAK_SECONDS + 3600 < 86400 ? SOAK_SECONDS + 3600 : 86400))

tool_pid=""
bench_before_stop() { # the load tool first, so it does not see the stack go
    if [ -n "$tool_pid" ]; then
        kill "$tool_pid" 2>/dev/null || true
        wait "$tool_pid" 2>/dev/null || true
    fi
}
. bench/stacklib.sh
bench_stack_start missive-soak

GROUPS_=(api sse worker nginx postgres)
declare -A PID0
for g in "${GROUPS_[@]}"; do
    PID0[$g]=$(pid_of "$g")
    [ -n "${PID0[$g]}" ] && kill -0 "${PID0[$g]}" 2>/dev/null || die "$g is not running"
done

# The processes of a group: nginx = its workers; the others = the process and its children.
group_pids() {
    local p=${PID0[$1]}
    case $1 in
    nginx) ps -o pid= --ppid "$p" 2>/dev/null | xargs ;;
    *) echo "$p $(ps -o pid= --ppid "$p" 2>/dev/null | xargs)" ;;
    esac
}

samples=$dir/samples.tsv # t group procs rss_kib anon_kib
per_proc=$dir/samples-per-process.tsv # t group pid rss_kib anon_kib
: >"$samples"
: >"$per_proc"
take_sample() { # t
    local g p files
    for g in "${GROUPS_[@]}"; do
        files=()
        for p in $(group_pids "$g"); do files+=("/proc/$p/status"); done
        [ "${#files[@]}" -gt 0 ] || { printf '%s\t%s\t0\t0\t0\n' "$1" "$g" >>"$samples"; continue; }
        # a process that ended between ps and cat is left out
        cat "${files[@]}" 2>/dev/null | awk -v t="$1" -v g="$g" -v per="$per_proc" '
            function flush() { if (pid != "") { printf "%s\t%s\t%s\t%d\t%d\n", t, g, pid, pr, pa >>per; n++ } }
            /^Pid:/ { flush(); pid = $2; pr = pa = 0 }
            /^VmRSS:/ { r += $2; pr = $2 } /^RssAnon:/ { a += $2; pa = $2 }
            END { flush(); printf "%s\t%s\t%d\t%d\t%d\n", t, g, n, r, a }' >>"$samples"
    done
}

# ---------------------------------------------------------------- load

out=$dir/sse_load.out
watch=()
for g in nginx api postgres sse worker; do watch+=(--watch "$g=${PID0[$g]}"); done
log "load for ${SOAK_SECONDS}s: $STREAMS streams ($PER_USER per user), $RATE msgs/s, $RC_RATE reconnects/s," \
    "$READ_RATE marks/s, $POLLERS long-pollers, $MEDIA_RATE uploads/s; samples every ${SAMPLE}s, first ${WARMUP}s not judged"
"$TOOL" reconnect --api "$url" --sse "127.0.0.1:$MISSIVE_SSE_PORT/${PID0[sse]}" \
    --streams "$STREAMS" --per-user "$PER_USER" --rate "$RATE" --duration "$SOAK_SECONDS" \
    --reconnect-rate "$RC_RATE" --gap-ms 250 --read-rate "$READ_RATE" --pollers "$POLLERS" \
    --media-rate "$MEDIA_RATE" --drain 30 --max-time $((SOAK_SECONDS + 600)) "${watch[@]}" \
    >"$out" 2>"$dir/sse_load.err" &
tool_pid=$!

# t = 0 when sending starts (after sign-ups and the streams' opening)
until grep -q '^settle ' "$out" 2>/dev/null; do
    kill -0 "$tool_pid" 2>/dev/null || { cat "$out" "$dir/sse_load.err" >&2; die "sse_load ended before the load began"; }
    sleep 0.2
done
t0=$(date +%s%N)
next=0
while kill -0 "$tool_pid" 2>/dev/null; do
    now=$(date +%s%N)
    t=$(((now - t0) / 1000000000))
    if [ "$t" -ge "$next" ]; then
        [ "$t" -le "$SOAK_SECONDS" ] && take_sample "$t"
        next=$((next + SAMPLE))
        if [ $((next % 60)) -lt "$SAMPLE" ] && [ "$t" -le "$SOAK_SECONDS" ]; then
            log "t=${t}s $(tail -n 5 "$samples" | awk '{ printf "%s=%.1fMiB ", $2, $5 / 1024 }')"
        fi
    fi
    sleep 0.2
done
tool_rc=0
wait "$tool_pid" || tool_rc=$?
tool_pid=""
declare -A CMD # pid -> command line (PostgreSQL backends: their last query), for the report
for g in "${GROUPS_[@]}"; do
    for p in $(group_pids "$g"); do CMD[$p]=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-70); done
done
while IFS='|' read -r p q; do
    [ -n "$p" ] && CMD[$p]="backend, last query: $q"
done < <( (set -a && . "$dir/stack.env" && psql -X -A -t -F '|' -c "SELECT pid,
    left(regexp_replace(query, '\s+', ' ', 'g'), 70) FROM pg_stat_activity
    WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()") 2>/dev/null || true)

# ---------------------------------------------------------------- report

echo "soak: ${SOAK_SECONDS}s, samples every ${SAMPLE}s, judged from t=${WARMUP}s (RssAnon);" \
    "GROWING = min(last third) > max(first third) + max(${MARGIN_KIB} KiB, ${MARGIN_PCT}%)"
echo
echo "load (build/bench/sse_load):"
grep -E '^(setup|open|send|chores|reconnect|deliver|gap|per_stream|cpu) ' "$out" | sed 's/^/  /' || true
echo

failed=()
# load health: what the tool reported
kv() { awk -v p="$1" -v k="$2" '$1 == p { for (i = 2; i <= NF; i++) { n = index($i, "=");
        if (n && substr($i, 1, n - 1) == k) { print substr($i, n + 1); exit } } }' "$out"; }
[ "$tool_rc" = 0 ] || failed+=("load tool exit $tool_rc")
lost=$(kv deliver lost) dup=$(kv deliver dup)
[ "${lost:-x}" = 0 ] || failed+=("lost deliveries: ${lost:-no result}")
[ "${dup:-x}" = 0 ] || failed+=("doubled deliveries: ${dup:-no result}")
check_errors() { # what total errors
    local total=$2 errors=$3
    [ -n "$total" ] && [ -n "$errors" ] || { failed+=("$1: no result"); return; }
    [ "$((errors * 100))" -le "$total" ] || failed+=("$1: $errors of $total failed")
}
check_errors sends "$(kv send msgs)" "$(kv send errors)"
check_errors "read marks" "$(kv chores reads)" "$(kv chores read_errors)"
check_errors long-polls "$(kv chores polls)" "$(kv chores poll_errors)"
check_errors media "$(kv chores media)" "$(kv chores media_errors)"

# the processes: still the same ones?
for g in api sse worker nginx postgres; do
    kill -0 "${PID0[$g]}" 2>/dev/null || failed+=("$g (pid ${PID0[$g]}) died")
    [ "$(pid_of "$g")" = "${PID0[$g]}" ] || failed+=("$g was restarted")
done

printf '%-9s %5s | %9s %9s %9s | %9s %9s %9s | %9s %9s %9s %9s %10s  %s\n' process procs \
    rss_start rss_end rss_peak anon_start anon_end anon_peak first_max last_min growth margin \
    slope verdict
printf '%-9s %5s | %9s %9s %9s | %9s %9s %9s | %9s %9s %9s %9s %10s\n' "" "" MiB MiB MiB MiB MiB MiB \
    MiB MiB MiB MiB KiB/min
growing=()
for g in "${GROUPS_[@]}"; do
    line=$(awk -F'\t' -v g="$g" -v w="$WARMUP" -v mk="$MARGIN_KIB" -v mp="$MARGIN_PCT" '
        BEGIN { n = 0 }
        $2 == g { t[n] = $1; p[n] = $3; r[n] = $4; a[n] = $5; n++ }
        END {
            if (n == 0) { print "none"; exit }
            rp = r[0]; ap = a[0]
            for (i = 0; i < n; i++) { if (r[i] > rp) rp = r[i]; if (a[i] > ap) ap = a[i] }
            m = 0
            for (i = 0; i < n; i++) if (t[i] >= w) { jt[m] = t[i]; ja[m] = a[i]; m++ }
            k = int(m / 3)
            fmax = ja[0]; for (i = 0; i < k; i++) if (ja[i] > fmax) fmax = ja[i]
            lmin = ja[m - 1]; for (i = m - k; i < m; i++) if (ja[i] < lmin) lmin = ja[i]
            margin = fmax * mp / 100; if (margin < mk) margin = mk
            # least-squares slope of RssAnon over the judged samples, KiB per minute
            sx = sy = sxx = sxy = 0
            for (i = 0; i < m; i++) { sx += jt[i]; sy += ja[i]; sxx += jt[i] * jt[i]; sxy += jt[i] * ja[i] }
            d = m * sxx - sx * sx; slope = d > 0 ? (m * sxy - sx * sy) / d * 60 : 0
            v = (k < 2) ? "TOO-SHORT" : (lmin - fmax > margin ? "GROWING" : "ok")
            printf "%d %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.0f %s\n", p[n - 1],
                r[0] / 1024, r[n - 1] / 1024, rp / 1024, a[0] / 1024, a[n - 1] / 1024, ap / 1024,
                fmax / 1024, lmin / 1024, (lmin - fmax) / 1024, margin / 1024, slope, v
        }' "$samples")
    if [ "$line" = none ]; then
        printf '%-9s no samples\n' "$g"
        failed+=("$g: no samples")
        continue
    fi
    read -r procs rs re rp as ae ap fmax lmin gr mg sl verdict <<<"$line"
    printf '%-9s %5s | %9s %9s %9s | %9s %9s %9s | %9s %9s %9s %9s %10s  %s\n' "$g" "$procs" \
        "$rs" "$re" "$rp" "$as" "$ae" "$ap" "$fmax" "$lmin" "$gr" "$mg" "$sl" "$verdict"
    case $verdict in
    GROWING) growing+=("$g") ;;
    ok) ;;
    *) failed+=("$g: $verdict") ;;
    esac
done
echo "(procs: at the end; rss = VmRSS, anon = RssAnon, summed over the group; first_max / last_min:"
echo " of RssAnon over the first / last third of the judged samples; slope: least squares, judged samples)"
# Where a group of several processes grew: its three processes whose RssAnon rose
# most (by 128 KiB at least) from the first judged sample to the last.
for g in "${GROUPS_[@]}"; do
    top=$(awk -F'\t' -v g="$g" -v w="$WARMUP" '$2 == g && $1 >= w {
            if (!($3 in first)) first[$3] = $5; last[$3] = $5; seen[$3] = 1 }
        END { n = 0; for (p in seen) n++; if (n < 2) exit
              for (p in seen) if (last[p] - first[p] >= 128)
                  printf "%d %s %.1f %.1f\n", last[p] - first[p], p, first[p] / 1024, last[p] / 1024 }' "$per_proc" |
        sort -rn | head -n 3)
    [ -n "$top" ] || continue
    echo "$g, most grown (RssAnon from t=${WARMUP}s to the end):"
    while read -r d p a b; do
        printf '  pid %-7s %7.1f -> %7.1f MiB  %s\n' "$p" "$a" "$b" "${CMD[$p]:-?}"
    done <<<"$top"
done
[ "${KEEP_STACK:-0}" = 1 ] && echo "samples: $samples, $per_proc"

echo
if [ "${#growing[@]}" -gt 0 ]; then
    echo "verdict: FAIL: memory keeps growing: ${growing[*]}"
fi
if [ "${#failed[@]}" -gt 0 ]; then
    echo "verdict: FAIL: $(printf '%s; ' "${failed[@]}")"
fi
if [ "${#growing[@]}" -gt 0 ] || [ "${#failed[@]}" -gt 0 ]; then
    exit 1
fi
echo "verdict: PASS: no process's memory kept growing over ${SOAK_SECONDS}s"
