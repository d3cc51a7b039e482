# stacklib.sh: the private stack of one benchmark run, sourced by bench-send.sh,
# bench-receipts.sh and soak.sh (after they define log and die, from the repo root).
#
#   bench_stack_start PREFIX   a fresh temp dir DIR=$TMPDIR/PREFIX.XXXXXX, the stack
#                              started in it (deploy/stack.sh, on MISSIVE_HTTP_PORT /
#                              MISSIVE_SSE_PORT), $dir and $url set, and traps that
#                              stop it and remove DIR on exit, Ctrl-C or TERM
#                              (KEEP_STACK=1 keeps DIR: logs, database)
#   pid_of NAME                pid of postgres|api|sse|worker|nginx (its pid file)
#
# A caller with something of its own to stop first (a load tool still running)
# defines bench_before_stop.

bench_stack_started=0

bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if declare -F bench_before_stop >/dev/null; then bench_before_stop; fi
    if [ "$bench_stack_started" = 1 ]; then
        log "stopping the stack"
        timeout 120 bash deploy/stack.sh stop "$dir" >&2 || log "stack.sh stop failed"
    fi
    if [ "${KEEP_STACK:-0}" = 1 ]; then log "kept $dir"; else rm -rf -- "$dir"; fi
    exit "$rc"
}

bench_stack_start() {
    dir=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || die "mktemp failed"
    chmod 755 "$dir" # PostgreSQL (user postgres) and nginx workers (nobody) must enter it
    trap bench_cleanup EXIT
    trap 'log "interrupted"; exit 130' INT
    trap 'log "terminated"; exit 143' TERM
    log "stack dir $dir (nginx :$MISSIVE_HTTP_PORT, sse :$MISSIVE_SSE_PORT, bin ${MISSIVE_BIN_DIR:-./bin})"
    bench_stack_started=1 # stop even a half-started stack
    timeout 180 bash deploy/stack.sh start "$dir" >&2 ||
        die "deploy/stack.sh start failed (logs: KEEP_STACK=1)"
    url=$(sed -n "s/^MISSIVE_URL='\(.*\)'$/\1/p" "$dir/stack.env")
    [ -n "$url" ] || die "no MISSIVE_URL in $dir/stack.env"
}

pid_of() { # component -> pid (first line of its pid file)
    local f
    case $1 in
    postgres) f=$dir/pg/postmaster.pid ;;
    *) f=$dir/run/$1.pid ;;
    esac
    head -n 1 "$f" 2>/dev/null | tr -dc 0-9
}
