#!/usr/bin/env bash
# Missive fuzz targets (libFuzzer + AddressSanitizer + UBSan, clang).
#
#   bash tests/fuzz/run.sh build           build every tests/fuzz/fuzz_*.c into build/fuzz/bin/
#   bash tests/fuzz/run.sh regress         build if needed, run each target once over every file
#                                          of tests/fuzz/corpus/<target>/; non-zero on any crash,
#                                          leak, UB or failed assertion
#   bash tests/fuzz/run.sh fuzz SECONDS    fuzz each target for SECONDS; new inputs go to
#                                          build/fuzz/corpus/<target>/ (never the committed
#                                          corpus), crashes to build/fuzz/artifacts/<target>/;
#                                          non-zero if anything was found
#   bash tests/fuzz/run.sh repro [DIR]     run every file of DIR/<target>/ (default
#                                          tests/fuzz/crashes) through its target with
#                                          FUZZ_STRICT=1 (known, reported findings are checked
#                                          too); non-zero if any still fails (to check a fix)
#
# Environment: FUZZ_CC (default clang), FUZZ_TARGETS="fuzz_a fuzz_b" (a subset),
# FUZZ_ARGS (extra libFuzzer flags for `fuzz`), FUZZ_JOBS (targets fuzzed at once, default 1).
#
# Objects go to build/fuzz/obj (separate from the gcc builds), one archive per directory
# (lib, api, sse: api/ and sse/ both define server_new), so a target links only what it uses.
# A target links lib + api unless its source has a line "FUZZ_LINK: sse" (then lib + sse).
# A line "FUZZ_FLAGS: ..." in a target's source adds libFuzzer flags for it (e.g. -max_len=),
# a line "FUZZ_PKGS: ..." pkg-config packages it links besides (fuzz_thumb: vips).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

CC=${FUZZ_CC:-clang}
OUT=build/fuzz
OBJ=$OUT/obj
BIN=$OUT/bin
FUZZ_DIR=tests/fuzz

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
BASE_CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra $SAN -Ilib -Iapi -Isse $(pkg-config --cflags libpq 2>/dev/null || true)"
# lib/thumb.c includes libvips's headers (only targets that say FUZZ_PKGS: vips link it).
BASE_CFLAGS="$BASE_CFLAGS $(pkg-config --cflags vips 2>/dev/null || true)"
LIB_CFLAGS="$BASE_CFLAGS -fsanitize=fuzzer-no-link"
# The fuzz targets are ours: hold them to the project's warning set.
TGT_CFLAGS="$BASE_CFLAGS -fsanitize=fuzzer-no-link -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral"
LDFLAGS="-fsanitize=fuzzer $SAN"
LDLIBS="-lfcgi -lpq -lmicrohttpd -ljansson -lcurl -ljwt -lssl -lcrypto -largon2 -lpthread -lm"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

die() { echo "fuzz: $*" >&2; exit 2; }

# ---- build ---------------------------------------------------------------------------

# 0 if $1 (an object) is missing or older than its source or any header its .d lists.
stale() {
    local o=$1 src=$2 d=${1%.o}.d dep
    [[ -f $o && $o -nt $src ]] || return 0
    [[ -f $d ]] || return 0
    for dep in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$d" | tr ' ' '\n' | sed -e '/^$/d' -e '/:$/d'); do
        [[ -e $dep ]] || return 0
        [[ $dep -nt $o ]] && return 0
    done
    return 1
}

compile() { # src obj flags...
    local src=$1 o=$2
    shift 2
    if stale "$o" "$src"; then
        mkdir -p "$(dirname "$o")"
        echo "  CC    $src"
        # The flags come as one string, split on purpose.
        # shellcheck disable=SC2048,SC2086
        $CC $* -MMD -MP -c -o "$o" "$src"
    fi
}

archive() { # name dir exclusions...
    local name=$1 dir=$2 objs=() src o newest=0
    local a=$OBJ/lib$name.a
    shift 2
    for src in "$dir"/*.c; do
        case " $* " in *" $src "*) continue ;; esac
        o=$OBJ/${src%.c}.o
        compile "$src" "$o" "$LIB_CFLAGS"
        objs+=("$o")
        [[ -f $a && $o -nt $a ]] && newest=1
    done
    # Objects whose source is gone must leave the archive too: rebuild it whole.
    if [[ ! -f $a || $newest == 1 || $(ar t "$a" | wc -l) != "${#objs[@]}" ]]; then
        rm -f "$a"
        ar rcs "$a" "${objs[@]}"
    fi
}

targets() {
    local t
    if [[ -n ${FUZZ_TARGETS:-} ]]; then
        for t in $FUZZ_TARGETS; do
            [[ -f $FUZZ_DIR/$t.c ]] || die "no target $FUZZ_DIR/$t.c"
            echo "$t"
        done
    else
        for t in "$FUZZ_DIR"/fuzz_*.c; do
            [[ -e $t ]] && basename "$t" .c
        done
    fi
}

# Feature switches for targets written against helpers the product may not expose yet.
feature_defs() {
    local defs=""
    if grep -qs 'sse_parse_pos' sse/server.h; then defs+=" -DMISSIVE_HAVE_SSE_PARSE_POS"; fi
    if grep -qs 'listener_parse_range' sse/listener.h; then defs+=" -DMISSIVE_HAVE_LISTENER_PARSE"; fi
    echo "$defs"
}

build() {
    command -v "$CC" >/dev/null || die "$CC not found (apt-get install clang)"
    mkdir -p "$OBJ" "$BIN"
    echo "fuzz: building with $CC into $OUT"
    archive lib lib
    archive api api api/main.c
    archive sse sse sse/main.c
    local defs t link bin
    defs=$(feature_defs)
    for t in $(targets); do
        compile "$FUZZ_DIR/$t.c" "$OBJ/fuzz/$t.o" "$TGT_CFLAGS $defs"
        if grep -q 'FUZZ_LINK: sse' "$FUZZ_DIR/$t.c"; then
            link="$OBJ/libsse.a $OBJ/liblib.a"
        else
            link="$OBJ/libapi.a $OBJ/liblib.a"
        fi
        bin=$BIN/$t
        if [[ ! -f $bin || $OBJ/fuzz/$t.o -nt $bin || $OBJ/liblib.a -nt $bin ||
              $OBJ/libapi.a -nt $bin || $OBJ/libsse.a -nt $bin ]]; then
            echo "  LD    $bin"
            # shellcheck disable=SC2086
            $CC $LDFLAGS -o "$bin" "$OBJ/fuzz/$t.o" $link $LDLIBS $(target_libs "$t")
        fi
    done
    # A stale define set would leave an object built the other way: remember it.
    echo "$defs" >"$OUT/features"
}

# Rebuild the targets whose feature switches changed since the last build.
check_features() {
    local now
    now=$(feature_defs)
    if [[ -f $OUT/features && "$(cat "$OUT/features")" != "$now" ]]; then
        rm -f "$OBJ"/fuzz/*.o
    fi
}

target_libs() { # libraries of the pkg-config packages in "FUZZ_PKGS: ..." in the source
    local pkgs
    pkgs=$(sed -n 's/.*FUZZ_PKGS: *\([^*]*\).*/\1/p' "$FUZZ_DIR/$1.c" | head -1)
    # shellcheck disable=SC2086 # a list of package names
    [[ -z $pkgs ]] || pkg-config --libs $pkgs
}

target_flags() { # extra libFuzzer flags from "FUZZ_FLAGS: ..." in the source
    sed -n 's/.*FUZZ_FLAGS: *\([^*]*\).*/\1/p' "$FUZZ_DIR/$1.c" | head -1
}

# ---- regress -------------------------------------------------------------------------

run_files() { # dir-of-target-dirs log-label
    local base=$1 label=$2 failed=0 t files n
    for t in $(targets); do
        files=()
        if [[ -d $base/$t ]]; then
            while IFS= read -r -d '' f; do files+=("$f"); done \
                < <(find "$base/$t" -maxdepth 1 -type f ! -name '*.md' ! -name '.*' -print0 | sort -z)
        fi
        n=${#files[@]}
        if ((n == 0)); then
            printf '  %-18s no inputs in %s/%s\n' "$t" "$base" "$t"
            continue
        fi
        local log=$OUT/logs/$t.$label.log
        mkdir -p "$OUT/logs"
        # One process per file: a crash names its input and the rest still run.
        local bad=0 f
        : >"$log"
        for f in "${files[@]}"; do
            if ! "$BIN/$t" -timeout=25 -rss_limit_mb=2048 "$f" >>"$log" 2>&1; then
                echo "  FAIL  $t < $f   (log: $log)"
                bad=$((bad + 1))
            fi
        done
        if ((bad)); then
            failed=$((failed + bad))
            grep -aE 'ERROR: |runtime error:|SUMMARY:|fuzz_check' "$log" | grep -v 'deadly signal' |
                sed 's/^/        /' | head -20
        else
            printf '  %-18s %3d inputs ok\n' "$t" "$n"
        fi
    done
    return $((failed > 0))
}

regress() {
    check_features
    build
    echo "fuzz: regression run over $FUZZ_DIR/corpus"
    if run_files "$FUZZ_DIR/corpus" regress; then
        echo "fuzz: regress ok"
    else
        echo "fuzz: regress FAILED" >&2
        return 1
    fi
}

repro() {
    local dir=${1:-$FUZZ_DIR/crashes}
    # Targets skip findings already reported (so fuzzing looks for new ones) unless strict.
    export FUZZ_STRICT=1
    check_features
    build
    echo "fuzz: reproducers in $dir"
    if run_files "$dir" repro; then
        echo "fuzz: no reproducer fails any more"
    else
        echo "fuzz: some reproducers still fail" >&2
        return 1
    fi
}

# ---- fuzz ----------------------------------------------------------------------------

fuzz_one() { # target seconds
    local t=$1 secs=$2 scratch=$OUT/corpus/$1 art=$OUT/artifacts/$1/ log=$OUT/logs/$1.fuzz.log
    mkdir -p "$scratch" "$art" "$OUT/logs"
    local extra start
    extra=$(target_flags "$t")
    touch "$OUT/logs/$t.stamp"
    start=$(date +%s)
    # The scratch dir comes first: libFuzzer writes new inputs only to the first corpus dir.
    # shellcheck disable=SC2086
    "$BIN/$t" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art" $extra ${FUZZ_ARGS:-} "$scratch" "$FUZZ_DIR/corpus/$t" \
        >"$log" 2>&1 || true
    echo $(($(date +%s) - start)) >"$OUT/logs/$t.seconds"
}

summary_line() { # target
    local t=$1 log=$OUT/logs/$1.fuzz.log art=$OUT/artifacts/$1
    local execs secs new rate found
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    secs=$(cat "$OUT/logs/$t.seconds" 2>/dev/null || echo '?')
    rate='?'
    [[ -n $execs && $secs =~ ^[0-9]+$ && $secs -gt 0 ]] && rate=$((execs / secs))
    # Only what this run wrote: older artifacts stay where they are but are not counted.
    found=$(find "$art" -maxdepth 1 -type f -newer "$OUT/logs/$t.stamp" \( -name 'crash-*' \
        -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) |
        wc -l)
    printf '  %-16s %5ss  execs %-9s (%s/s)  new inputs %-5s found %s\n' "$t" "$secs" \
        "${execs:-?}" "$rate" "${new:-?}" "$found"
    if ((found)); then
        find "$art" -maxdepth 1 -type f -newer "$OUT/logs/$t.stamp" | sed 's/^/      /'
        grep -aE 'ERROR: |runtime error:|SUMMARY:|fuzz_check' "$log" |
            head -5 | sed 's/^/      /'
    elif [[ -z $execs ]]; then
        echo "      (no final stats: see $log)"
        return 1
    fi
    return $((found > 0))
}

fuzz() {
    local secs=${1:-}
    [[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || die "usage: run.sh fuzz SECONDS"
    check_features
    build
    local jobs=${FUZZ_JOBS:-1} t running=0
    echo "fuzz: $secs s per target, $jobs at a time; logs in $OUT/logs"
    for t in $(targets); do
        echo "  fuzzing $t"
        fuzz_one "$t" "$secs" &
        running=$((running + 1))
        if ((running >= jobs)); then
            wait -n || true
            running=$((running - 1))
        fi
    done
    wait
    echo "fuzz: results (new inputs kept in $OUT/corpus/, crashes in $OUT/artifacts/)"
    local bad=0
    for t in $(targets); do
        summary_line "$t" || bad=1
    done
    if ((bad)); then
        echo "fuzz: something was found (or a target did not run); reproduce with" \
            "build/fuzz/bin/<target> <file>" >&2
        return 1
    fi
    echo "fuzz: nothing found"
}

case ${1:-} in
build) check_features; build ;;
regress) regress ;;
fuzz) fuzz "${2:-}" ;;
repro) repro "${2:-}" ;;
*) die "usage: run.sh build | regress | fuzz SECONDS | repro [DIR]" ;;
esac
