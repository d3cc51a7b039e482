#!/usr/bin/env bash
# stack.sh: run a complete private Missive stack (PostgreSQL, missive-api,
# missive-sse, missive-worker, nginx) out of one directory.
#
#   stack.sh start DIR             start everything, return once it answers
#   stack.sh stop DIR              stop everything (safe when half-started)
#   stack.sh status DIR            one line per component; exit 0 if all run
#   stack.sh start-one DIR NAME    start one of postgres|api|sse|worker|nginx
#   stack.sh restart-one DIR NAME  SIGTERM it, then start it again
#   stack.sh kill-one DIR NAME     SIGKILL it (its process group), no restart
#   stack.sh logs DIR NAME [N]     last N (20) lines of its log
#   stack.sh restart-pg-immediate DIR  crash-restart PostgreSQL (pg_ctl restart
#                                  -m immediate: no checkpoint, WAL replay), as the
#                                  cluster's owner; returns once it accepts connections
#
# Layout of DIR: run/*.pid and sockets, log/*.log, secrets/ (db password,
# token secret; kept across starts), pg/ (the cluster), nginx/ (rendered
# nginx.conf, temp dirs), missive.conf and stack.env (rewritten on each start).
# Environment knobs and the stack.env keys are documented in docs/operations.md.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true
umask 022

REPO=$(cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/.." && pwd)
PG_BIN=${MISSIVE_PG_BIN:-/usr/lib/postgresql/15/bin}
HTTP_PORT=${MISSIVE_HTTP_PORT:-8080}
SSE_PORT=${MISSIVE_SSE_PORT:-8081}
BIN_DIR=${MISSIVE_BIN_DIR:-$REPO/bin}
HOST=${MISSIVE_HOST:-127.0.0.1}
LOG_LEVEL=${MISSIVE_LOG_LEVEL:-info}
ONLY_PG=${MISSIVE_STACK_ONLY_PG:-0}
TIMEOUT=${MISSIVE_START_TIMEOUT:-10}
PG_PORT=5432
COMPONENTS=(postgres api sse worker nginx)
# Variables that must not leak into the programs: stack knobs, and keys that
# this script owns in missive.conf (MISSIVE_<KEY> would override the file).
CHILD_UNSET=(MISSIVE_HTTP_PORT MISSIVE_SSE_PORT MISSIVE_BIN_DIR MISSIVE_HOST
    MISSIVE_LOG_LEVEL MISSIVE_STACK_ONLY_PG MISSIVE_START_TIMEOUT MISSIVE_PG_BIN
    MISSIVE_KEEP_ON_FAILURE MISSIVE_URL MISSIVE_SSE_URL MISSIVE_CONF MISSIVE_DIR
    MISSIVE_DB_URL MISSIVE_TOKEN_SECRET MISSIVE_API_LISTEN MISSIVE_API_SOCKET_MODE
    MISSIVE_SSE_LISTEN MISSIVE_PUBLIC_URL MISSIVE_STORAGE_LOCAL_DIR
    MISSIVE_STORAGE_LOCAL_BASE_URL)

say() { printf 'stack: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
usage() {
    sed -n '5,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}
is_root() { [ "$(id -u)" = 0 ]; }
rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
now_ms() { date +%s%3N; }
proc_state() { sed 's/^.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null; }

# Runs a command as the OS user that owns the cluster (initdb refuses root).
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}
own_pg() { if is_root; then chown postgres:postgres -- "$@"; fi; }

set_dir() {
    [ -n "${1:-}" ] || usage
    DIR=$(realpath -m -- "$1")
    case $DIR in
    *[[:space:]\'\"\\\$]*) die "DIR must not contain spaces, quotes, '\\' or '\$': $DIR" ;;
    esac
    RUN=$DIR/run
    LOG=$DIR/log
    SEC=$DIR/secrets
    PGDATA=$DIR/pg
    PGSOCK=$RUN/pg
    CONF=$DIR/missive.conf
    API_SOCK=$RUN/api.sock
    HTTP_URL=http://$HOST:$HTTP_PORT
    SSE_URL=http://$HOST:$SSE_PORT
}

# The *-one commands reuse the URLs of the running stack, not the env knobs.
load_env() {
    [ -f "$DIR/stack.env" ] || die "no stack in $DIR (run: stack.sh start $DIR)"
    HTTP_URL=$(sed -n "s/^MISSIVE_URL='\(.*\)'$/\1/p" "$DIR/stack.env")
    SSE_URL=$(sed -n "s/^MISSIVE_SSE_URL='\(.*\)'$/\1/p" "$DIR/stack.env")
}

# ---------------------------------------------------------------- processes

pidfile_of() {
    case $1 in
    postgres) echo "$PGDATA/postmaster.pid" ;;
    api | sse | worker | nginx) echo "$RUN/$1.pid" ;;
    *) die "unknown component '$1' (postgres|api|sse|worker|nginx)" ;;
    esac
}

log_of() {
    case $1 in
    nginx) echo "$LOG/nginx-error.log" ;;
    *) echo "$LOG/$1.log" ;;
    esac
}

# Prints the pid if the component runs. A pid counts only if that process's
# command line names DIR (guards against stale pid files and reused pids).
pid_of() {
    local f pid cmd
    f=$(pidfile_of "$1")
    [ -r "$f" ] || return 1
    read -r pid <"$f" 2>/dev/null || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    local try
    for try in $(seq 100); do
        cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
        [ -z "$cmd" ] || break
        # Empty: a zombie, or a process in the middle of execve (which can take
        # a while on a loaded machine, and twice for a sanitizer build): wait.
        [ "$(proc_state "$pid")" != Z ] || return 1
        sleep 0.01
    done
    [[ $cmd == *"$DIR/"* ]] || return 1
    echo "$pid"
}

running() { pid_of "$1" >/dev/null; }

tail_log() {
    local f
    f=$(log_of "$1")
    [ -f "$f" ] || return 0
    say "last lines of ${f#"$DIR"/}:"
    tail -n "${2:-20}" -- "$f" | sed 's/^/    /' >&2
}

die_log() {
    tail_log "$1"
    die "$2"
}

# Signals the process group when the process leads one (all ours do).
signal() {
    local sig=$1 pid=$2 pgid
    pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') || true
    if [ "$pgid" = "$pid" ]; then
        kill "-$sig" -- "-$pid" 2>/dev/null || true
    else
        kill "-$sig" "$pid" 2>/dev/null || true
    fi
}

wait_gone() { # NAME SECONDS
    local deadline=$(($(now_ms) + $2 * 1000))
    while running "$1"; do
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

port_busy() {
    command -v ss >/dev/null || return 1
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

check_port() { # NAME PORT
    port_busy "$2" || return 0
    ss -ltnp "sport = :$2" >&2 2>/dev/null || true
    die "$1: port $2 is already in use (set MISSIVE_HTTP_PORT / MISSIVE_SSE_PORT)"
}

http_ok() { curl -fs --noproxy '*' -o /dev/null --max-time 2 "$1"; }

ready() {
    case $1 in
    api) [ -S "$API_SOCK" ] ;;
    sse) http_ok "$SSE_URL/healthz" ;;
    nginx) http_ok "$HTTP_URL/healthz" ;;
    *) true ;;
    esac
}

wait_ready() {
    local name=$1 deadline=$(($(now_ms) + TIMEOUT * 1000))
    until ready "$name"; do
        # Asked twice, a moment apart: one look at /proc can catch a process
        # mid-exec; a process that really exited stays gone.
        running "$name" || { sleep 0.2 && running "$name"; } ||
            die_log "$name" "$name exited during start-up"
        [ "$(now_ms)" -lt "$deadline" ] || die_log "$name" "$name not ready after ${TIMEOUT}s"
        sleep 0.05
    done
}

# ---------------------------------------------------------------- postgres

check_traverse() { # USER PATH: every directory on the way must allow o+x
    local user=$1 cur=""
    runuser -u "$user" -- test -x "$2" 2>/dev/null && return 0
    local part parts
    IFS=/ read -ra parts <<<"${2#/}"
    for part in "${parts[@]}"; do
        cur=$cur/$part
        [ -d "$cur" ] || break
        runuser -u "$user" -- test -x "$cur" 2>/dev/null ||
            die "user '$user' cannot enter $cur; run: chmod o+x $cur (or use a DIR elsewhere, e.g. under /tmp)"
    done
    die "user '$user' cannot enter $2"
}

check_access() {
    is_root || return 0
    id postgres >/dev/null 2>&1 || die "OS user 'postgres' is missing: run deploy/deps.sh"
    check_traverse postgres "$RUN"
    [ "$ONLY_PG" = 1 ] && return 0
    check_traverse nobody "$RUN"
    runuser -u nobody -- test -r "$REPO/web" 2>/dev/null ||
        say "warning: nginx workers (nobody) cannot read $REPO/web: static files will fail"
}

pg_init() {
    [ -f "$PGDATA/PG_VERSION" ] && return 0
    local tmp=$DIR/pg.init pwfile=$SEC/db_password
    say "initializing PostgreSQL cluster in $PGDATA"
    (umask 077 && rand_hex 24 >"$SEC/db_password")
    rm -rf -- "$tmp"
    mkdir -m 700 -- "$tmp"
    own_pg "$tmp"
    if is_root; then # secrets/ is root-only: hand initdb a copy it can read
        pwfile=$RUN/.pwfile.$$
        install -m 600 -o postgres -g postgres -- "$SEC/db_password" "$pwfile"
    fi
    if ! as_pg "$PG_BIN/initdb" -D "$tmp" -U missive --auth=scram-sha-256 \
        --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >"$LOG/initdb.log" 2>&1; then
        [ "$pwfile" = "$SEC/db_password" ] || rm -f -- "$pwfile"
        die_log initdb "initdb failed"
    fi
    [ "$pwfile" = "$SEC/db_password" ] || rm -f -- "$pwfile"
    printf "\ninclude_if_exists = 'missive.conf'\n" >>"$tmp/postgresql.conf"
    rm -rf -- "$PGDATA"
    mv -- "$tmp" "$PGDATA"
}

# Server settings, rewritten on each start (DIR may have moved).
pg_write_conf() {
    cat >"$PGDATA/missive.conf" <<EOF
# Written by deploy/stack.sh on every start.
listen_addresses = ''
port = $PG_PORT
unix_socket_directories = '$PGSOCK'
max_connections = 200
shared_buffers = 128MB
fsync = on
synchronous_commit = on
full_page_writes = on
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    chmod 644 "$PGDATA/missive.conf"
}

# After a crash postmaster.pid names a dead postmaster. PostgreSQL removes it
# itself, unless that pid is still a zombie (not yet reaped: kill -0 works).
pg_clear_stale_lock() {
    local f=$PGDATA/postmaster.pid pid st deadline=$(($(now_ms) + 3000))
    [ -f "$f" ] || return 0
    read -r pid <"$f" || return 0
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    while st=$(proc_state "$pid") && [ "$st" = Z ]; do
        if [ "$(now_ms)" -ge "$deadline" ]; then
            say "postgres: removing postmaster.pid of dead postmaster $pid"
            rm -f -- "$f"
            return 0
        fi
        sleep 0.05
    done
}

pg_start() {
    running postgres && return 0
    pg_clear_stale_lock
    mkdir -p -- "$PGSOCK"
    chmod 755 -- "$PGSOCK"
    touch -- "$LOG/postgres.log"
    own_pg "$PGSOCK" "$LOG/postgres.log"
    as_pg "$PG_BIN/pg_ctl" start -w -t 60 -s -D "$PGDATA" -l "$LOG/postgres.log" \
        </dev/null >/dev/null 2>&1 || die_log postgres "PostgreSQL did not start"
}

pg_stop() {
    running postgres || return 0
    as_pg "$PG_BIN/pg_ctl" stop -w -t 30 -s -m fast -D "$PGDATA" >/dev/null 2>&1 && return 0
    say "postgres: fast stop failed, using immediate"
    as_pg "$PG_BIN/pg_ctl" stop -w -t 10 -s -m immediate -D "$PGDATA" >/dev/null 2>&1 || true
}

# A database crash and recovery in one step: the server stops without a checkpoint
# (as after a power cut) and the start replays the WAL. The log goes on into
# postgres.log (-l; pg_ctl restart would otherwise keep the server's output).
pg_restart_immediate() {
    running postgres || die "postgres is not running"
    as_pg "$PG_BIN/pg_ctl" restart -m immediate -w -t 60 -s -D "$PGDATA" -l "$LOG/postgres.log" \
        </dev/null >/dev/null 2>&1 || die_log postgres "pg_ctl restart -m immediate failed"
}

psql_() {
    PGPASSWORD=$(<"$SEC/db_password") "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$PGSOCK" -p "$PG_PORT" -U missive "$@"
}

pg_ensure_db() {
    local have
    have=$(psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'missive'") ||
        die_log postgres "cannot connect to PostgreSQL at $PGSOCK"
    [ "$have" = 1 ] || psql_ -d postgres -c 'CREATE DATABASE missive OWNER missive' >/dev/null
}

# ---------------------------------------------------------------- config

prepare_dirs() {
    mkdir -p -- "$RUN" "$LOG" "$SEC" "$DIR/nginx" "$DIR/media"
    chmod 755 -- "$DIR" "$RUN" "$LOG"
    chmod 700 -- "$SEC"
    # Media files (local storage backend): written and read by nginx's workers only
    # (the API stats them, the sweep deletes them, both as this user or root).
    chmod 700 -- "$DIR/media"
    if is_root; then chown nobody:nogroup -- "$DIR/media"; fi
    local a=$API_SOCK s=$PGSOCK/.s.PGSQL.$PG_PORT
    [ "${#a}" -lt 100 ] && [ "${#s}" -lt 100 ] ||
        die "DIR path too long for unix sockets (max ~80 characters): $DIR"
}

ensure_token_secret() {
    [ -s "$SEC/token_secret" ] || (umask 077 && rand_hex 48 >"$SEC/token_secret")
}

write_conf() {
    local pw secret
    pw=$(<"$SEC/db_password")
    secret=$(<"$SEC/token_secret")
    DB_URL="host=$PGSOCK port=$PG_PORT dbname=missive user=missive password=$pw"
    (
        umask 077
        cat >"$CONF.tmp" <<EOF
# Written by deploy/stack.sh on every start; edits are lost.
db_url = "$DB_URL"
log_level = $LOG_LEVEL
api_listen = unix:$API_SOCK
api_socket_mode = 0666
token_secret = $secret
sse_listen = $HOST:$SSE_PORT
public_url = $HTTP_URL
storage_local_dir = $DIR/media
storage_local_base_url = $HTTP_URL/media
vapid_key_file = $SEC/vapid.pem
EOF
        storage_conf >>"$CONF.tmp"
        mv -f -- "$CONF.tmp" "$CONF"
    )
}

# Media storage settings given as MISSIVE_STORAGE_<KEY> (e.g. MISSIVE_STORAGE_BACKEND=s3,
# MISSIVE_STORAGE_S3_ENDPOINT=...) go into missive.conf, so the stack keeps them when
# started again from another shell.
storage_conf() {
    local var key value
    for var in ${!MISSIVE_STORAGE_@}; do
        case $var in
        MISSIVE_STORAGE_LOCAL_DIR | MISSIVE_STORAGE_LOCAL_BASE_URL) continue ;;
        esac
        key=${var#MISSIVE_}
        key=${key,,}
        value=${!var}
        [[ $key =~ ^[a-z0-9_]+$ ]] || die "$var: not a setting name"
        [[ $value != *$'\n'* ]] || die "$var: the value must be one line"
        printf '%s = "%s"\n' "$key" "$value"
    done
}

write_env() {
    local pw secret
    pw=$(<"$SEC/db_password")
    secret=$(<"$SEC/token_secret")
    (
        umask 077
        printf "%s='%s'\n" \
            MISSIVE_URL "$HTTP_URL" \
            MISSIVE_SSE_URL "$SSE_URL" \
            MISSIVE_CONF "$CONF" \
            MISSIVE_DIR "$DIR" \
            MISSIVE_TOKEN_SECRET "$secret" \
            MISSIVE_DB_URL "$DB_URL" \
            PGHOST "$PGSOCK" \
            PGPORT "$PG_PORT" \
            PGUSER missive \
            PGDATABASE missive \
            PGPASSWORD "$pw" >"$DIR/stack.env.tmp"
        mv -f -- "$DIR/stack.env.tmp" "$DIR/stack.env"
    )
}

render_nginx() {
    local t user_line="" tmp=$DIR/nginx/tmp
    t=$(<"$REPO/deploy/nginx.conf.template")
    mkdir -p -- "$tmp"/{client_body,fastcgi,proxy,uwsgi,scgi}
    if is_root; then
        user_line="user nobody nogroup;"
        chown -R nobody:nogroup -- "$tmp"
    fi
    t=${t//'${HOST}'/"$HOST"}
    t=${t//'${HTTP_PORT}'/"$HTTP_PORT"}
    t=${t//'${REPO}'/"$REPO"}
    t=${t//'${API_SOCK}'/"$API_SOCK"}
    t=${t//'${SSE_ADDR}'/"$HOST:$SSE_PORT"}
    t=${t//'${DIR}'/"$DIR"}
    t=${t//'${USER_LINE}'/"$user_line"}
    printf '%s\n' "$t" >"$DIR/nginx/nginx.conf"
}

check_bins() {
    local b
    for b in missive-migrate missive-api missive-sse missive-worker; do
        [ -x "$BIN_DIR/$b" ] || die "missing $BIN_DIR/$b (run 'make', or set MISSIVE_BIN_DIR)"
    done
    command -v nginx >/dev/null || die "nginx not found: run deploy/deps.sh"
}

child() { env "${CHILD_UNSET[@]/#/-u}" "$@"; }

migrate() {
    child "$BIN_DIR/missive-migrate" -c "$CONF" -d "$REPO/db/migrations" \
        </dev/null >>"$LOG/migrate.log" 2>&1 || die_log migrate "missive-migrate failed"
}

# ---------------------------------------------------------------- one component

spawn() { # api|sse|worker: own session, pid written by the process itself
    local name=$1 pidfile=$RUN/$1.pid bin=$BIN_DIR/missive-$1
    [ -x "$bin" ] || die "missing $bin (run 'make', or set MISSIVE_BIN_DIR)"
    rm -f -- "$pidfile"
    [ "$name" != api ] || rm -f -- "$API_SOCK"
    # shellcheck disable=SC2016 # $$ and $0 belong to the inner sh
    env "${CHILD_UNSET[@]/#/-u}" setsid sh -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
        "$pidfile" "$bin" -c "$CONF" </dev/null >>"$LOG/$name.log" 2>&1 &
}

spawn_nginx() {
    [ -f "$DIR/nginx/nginx.conf" ] || render_nginx
    nginx -q -p "$DIR/nginx/" -c "$DIR/nginx/nginx.conf" -e "$LOG/nginx-error.log" \
        </dev/null >>"$LOG/nginx-error.log" 2>&1 || die_log nginx "nginx did not start"
}

wait_pidfile() {
    local name=$1 f deadline=$(($(now_ms) + 3000))
    f=$(pidfile_of "$name")
    until running "$name"; do
        [ ! -s "$f" ] || die_log "$name" "$name exited during start-up"
        [ "$(now_ms)" -lt "$deadline" ] || die_log "$name" "$name did not start"
        sleep 0.02
    done
}

start_one() {
    local name=$1
    if running "$name"; then
        ready "$name" || wait_ready "$name"
        return 0
    fi
    case $name in
    postgres)
        pg_write_conf
        pg_start
        return 0
        ;;
    sse) check_port sse "$SSE_PORT" ;;
    nginx) check_port nginx "$HTTP_PORT" ;;
    esac
    if [ "$name" = nginx ]; then spawn_nginx; else spawn "$name"; fi
    wait_pidfile "$name"
    wait_ready "$name"
}

stop_one() {
    local name=$1 pid
    if [ "$name" = postgres ]; then
        pg_stop
        return 0
    fi
    if pid=$(pid_of "$name"); then
        signal TERM "$pid"
        if ! wait_gone "$name" 10; then
            say "$name (pid $pid) still running after 10 s: SIGKILL"
            signal KILL "$pid"
            wait_gone "$name" 5 || say "$name (pid $pid) survived SIGKILL"
        fi
    fi
    rm -f -- "$(pidfile_of "$name")"
}

kill_one() {
    local name=$1 pid
    pid=$(pid_of "$name") || {
        say "$name is not running"
        return 0
    }
    if [ "$name" = postgres ]; then # its children each lead their own group
        # shellcheck disable=SC2046
        kill -KILL "$pid" $(pgrep -P "$pid") 2>/dev/null || true
    else
        signal KILL "$pid"
    fi
    wait_gone "$name" 5 || die "$name (pid $pid) survived SIGKILL"
    [ "$name" = postgres ] || rm -f -- "$(pidfile_of "$name")"
}

# ---------------------------------------------------------------- commands

on_start_exit() {
    local rc=$?
    [ "$rc" -ne 0 ] || return 0
    if [ "${MISSIVE_KEEP_ON_FAILURE:-0}" = 1 ]; then
        say "start failed; leaving the stack as it is (MISSIVE_KEEP_ON_FAILURE=1)"
    else
        say "start failed; stopping what was started (logs in $LOG)"
        set +e
        cmd_stop
    fi
    exit "$rc"
}

# A start on a running stack must not move it to other ports.
check_same_urls() {
    local name http=$HTTP_URL sse=$SSE_URL
    [ -f "$DIR/stack.env" ] || return 0
    for name in api sse worker nginx; do
        running "$name" || continue
        load_env
        [ "$HTTP_URL" = "$http" ] && [ "$SSE_URL" = "$sse" ] && return 0
        die "a stack runs in $DIR on $HTTP_URL (sse $SSE_URL), not $http (sse $sse):" \
            "stop it first, or start with the same MISSIVE_HTTP_PORT, MISSIVE_SSE_PORT, MISSIVE_HOST"
    done
}

cmd_start() {
    local t0
    t0=$(now_ms)
    check_same_urls
    prepare_dirs
    check_access
    trap on_start_exit EXIT
    ensure_token_secret
    pg_init
    start_one postgres
    pg_ensure_db
    write_conf
    write_env
    if [ "$ONLY_PG" = 1 ]; then
        trap - EXIT
        say "PostgreSQL up in $DIR (MISSIVE_STACK_ONLY_PG=1)"
        return 0
    fi
    check_bins
    migrate
    local name
    for name in api sse worker; do start_one "$name"; done
    running nginx || render_nginx
    start_one nginx
    for name in "${COMPONENTS[@]}"; do
        # Asked twice, a moment apart: one look at /proc can catch a process
        # mid-exec; a process that really exited stays gone.
        running "$name" || { sleep 0.2 && running "$name"; } ||
            die_log "$name" "$name exited during start-up"
    done
    trap - EXIT
    say "up in $(($(now_ms) - t0)) ms: $HTTP_URL (dir $DIR)"
}

cmd_stop() {
    [ -d "$DIR" ] || return 0
    local name
    for name in nginx worker sse api; do stop_one "$name"; done
    [ ! -f "$PGDATA/PG_VERSION" ] || pg_stop
}

cmd_status() {
    local name pid rc=0
    for name in "${COMPONENTS[@]}"; do
        if pid=$(pid_of "$name"); then
            printf '%-9s running  pid %s\n' "$name" "$pid"
        else
            printf '%-9s stopped\n' "$name"
            rc=3
        fi
    done
    return "$rc"
}

main() {
    local cmd=${1:-}
    [ $# -ge 2 ] || usage
    set_dir "$2"
    case $cmd in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    restart-pg-immediate) pg_restart_immediate ;;
    start-one | restart-one | kill-one | logs)
        [ $# -ge 3 ] || usage
        pidfile_of "$3" >/dev/null
        [ "$cmd" = logs ] || load_env
        case $cmd in
        start-one) start_one "$3" ;;
        restart-one)
            stop_one "$3"
            start_one "$3"
            ;;
        kill-one) kill_one "$3" ;;
        logs) tail -n "${4:-20}" -- "$(log_of "$3")" ;;
        esac
        ;;
    *) usage ;;
    esac
}

main "$@"
