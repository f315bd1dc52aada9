# common.sh — shared by larson.sh, compare.sh and programs.sh (sourced, not
# run): the allocator table, finding or building the benchmark programs, and
# running one benchmark under one allocator with its resource usage recorded.
# shellcheck shell=bash disable=SC2034  # variables set here are read by the sourcing script

# The allocator variants, one per line:
#   name|preload|environment|benchmarks
# preload:     empty for the system malloc (glibc); @hakmem for the hakmem
#              interposer (--hakmem PATH, $HAK_LIB, or lib/.libs/ of the
#              build); a soname looked up with ldconfig and in the usual
#              library directories; or a path.
# environment: space-separated VAR=value assignments for the run.
# benchmarks:  comma-separated glob patterns over the benchmark names
#              (larson-classic, random-mixed, scen-VM, ...), or "all".
# A new variant is one more line here (or in $BENCH_EXTRA_ALLOCATORS).
BENCH_ALLOCATORS='
glibc|||all
tcmalloc|libtcmalloc_minimal.so.4||all
jemalloc|libjemalloc.so.2||all
mimalloc|libmimalloc.so.2||all
hakmem|@hakmem||all
hakmem-noss|@hakmem|HAKMEM_TINY_USE_SUPERSLAB=0|larson-*,random-mixed
'

BENCH_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Current releases of the peers, prebuilt as LD_PRELOAD libraries in
# $BENCH_PEERS_DIR (default: shared/peers next to the source tree, as on the
# project's machine; see its README.md).  Each one found there joins the
# table above; none is required, and a run without the folder is unchanged.
# Debian's mimalloc (2.0.9 in Debian 12) stays "mimalloc".
#   name|file name glob (the last match, in version order, is used)
BENCH_PEERS_DIR=${BENCH_PEERS_DIR:-$BENCH_SRCDIR/../../shared/peers}
BENCH_PEER_LIBS='
mimalloc-2.4|libmimalloc-2.4.*.so
mimalloc-3.4|libmimalloc-3.4.*.so
snmalloc|libsnmalloc.so
rpmalloc|librpmalloc-*.so
'

# Prints the table lines of the peers present in $BENCH_PEERS_DIR.
bench_peer_lines() {
    local name glob path dir
    [ -d "$BENCH_PEERS_DIR" ] || return 0
    dir=$(cd "$BENCH_PEERS_DIR" && pwd)
    while IFS='|' read -r name glob; do
        [ -n "$name" ] || continue
        # shellcheck disable=SC2012,SC2086  # the glob is meant to expand; sort -V orders versions
        path=$(cd "$dir" && { ls -d -- $glob 2>/dev/null || true; } | sort -V | tail -n 1) || path=''
        [ -n "$path" ] && [ -f "$dir/$path" ] && printf '%s|%s||all\n' "$name" "$dir/$path"
    done <<<"$BENCH_PEER_LIBS"
    return 0
}

# Larson profiles: name|min_size|max_size|chunks_per_thread|rounds|seed|seconds
# classic is the customary allocator-benchmark setting (5 8 1000 5000 100 4141).
BENCH_LARSON_PROFILES='
tiny|8|128|10000|100|4141|3
mid|2048|32768|1000|100|4141|3
classic|8|1000|5000|100|4141|5
large|262144|1048576|32|100|4141|3
'

BENCH_PROGRAMS='larson scenarios random_mixed prodcons handoff thread_churn mstress exchange larson_sized
large_loop live_blocks'

# The source of a benchmark program: PROGRAM.c, or PROGRAM.cc for C++.
bench_program_source() {
    if [ -f "$BENCH_SRCDIR/$1.cc" ]; then
        printf '%s\n' "$BENCH_SRCDIR/$1.cc"
    else
        printf '%s\n' "$BENCH_SRCDIR/$1.c"
    fi
}

bench_die() {
    printf '%s: %s\n' "${BENCH_ME:-bench}" "$*" >&2
    exit 1
}

bench_note() {
    printf '%s: %s\n' "${BENCH_ME:-bench}" "$*" >&2
}

# Prints the allocator table's lines without blanks: the built-in table,
# the peers found in $BENCH_PEERS_DIR, then $BENCH_EXTRA_ALLOCATORS.
bench_alloc_lines() {
    printf '%s\n%s\n%s\n' "$BENCH_ALLOCATORS" "$(bench_peer_lines)" "${BENCH_EXTRA_ALLOCATORS:-}" |
        grep -v '^[[:space:]]*$' || true
}

bench_alloc_names() {
    bench_alloc_lines | cut -d'|' -f1
}

# bench_alloc_field NAME N: field N (1-based) of NAME's line.
bench_alloc_field() {
    bench_alloc_lines | awk -F'|' -v n="$1" -v f="$2" '$1 == n { print $f; exit }'
}

# bench_alloc_applies NAME BENCHMARK: is NAME to be run on BENCHMARK?
bench_alloc_applies() {
    local pats pat
    pats=$(bench_alloc_field "$1" 4)
    [ -z "$pats" ] && return 0
    IFS=',' read -r -a pats <<<"$pats"
    for pat in "${pats[@]}"; do
        pat=${pat//[[:space:]]/}
        # shellcheck disable=SC2053  # the pattern is meant to glob
        [[ $pat == all || $2 == $pat ]] && return 0
    done
    return 1
}

# Finds a shared library by soname: ldconfig's cache first, then the
# directories distributions install to.
bench_find_lib() {
    local so=$1 path dir multiarch ldconfig
    ldconfig=$(command -v ldconfig || true)
    [ -z "$ldconfig" ] && [ -x /sbin/ldconfig ] && ldconfig=/sbin/ldconfig
    if [ -n "$ldconfig" ]; then
        path=$("$ldconfig" -p 2>/dev/null | awk -v so="$so" '$1 == so && /x86-64|64bit|AArch64/ { print $NF; exit }' || true)
        [ -z "$path" ] && path=$("$ldconfig" -p 2>/dev/null | awk -v so="$so" '$1 == so { print $NF; exit }' || true)
        if [ -n "$path" ] && [ -e "$path" ]; then
            printf '%s\n' "$path"
            return 0
        fi
    fi
    multiarch=$(gcc -print-multiarch 2>/dev/null || true)
    for dir in ${multiarch:+/usr/lib/$multiarch /lib/$multiarch} /usr/lib64 /usr/lib /usr/local/lib /usr/local/lib64; do
        if [ -e "$dir/$so" ]; then
            printf '%s\n' "$dir/$so"
            return 0
        fi
    done
    return 1
}

# bench_select_allocators LIST [BENCHMARK]: fills the caller's arrays
# names, preload and envset with the allocators of LIST (comma-separated;
# every known one when empty) that are installed.  With BENCHMARK and no
# LIST, only the allocators whose table line applies to that benchmark.
bench_select_allocators() {
    local list=$1 bench=${2:-} a
    local -a wanted
    if [ -n "$list" ]; then
        IFS=',' read -r -a wanted <<<"$list"
    else
        mapfile -t wanted < <(bench_alloc_names)
    fi
    for a in "${wanted[@]}"; do
        if [ -z "$list" ] && [ -n "$bench" ] && ! bench_alloc_applies "$a" "$bench"; then
            continue
        fi
        if bench_alloc_resolve "$a"; then
            names+=("$a")
            # shellcheck disable=SC2004 # associative arrays of the caller
            preload[$a]=$BENCH_PRELOAD
            # shellcheck disable=SC2004
            envset[$a]=$BENCH_ENV
        else
            bench_note "skipping $a: $BENCH_SKIP"
        fi
    done
    [ ${#names[@]} -gt 0 ] || bench_die "no allocator to run"
}

# bench_alloc_resolve NAME: sets BENCH_PRELOAD (empty: no preload) and
# BENCH_ENV, or returns 1 with the reason in BENCH_SKIP.
bench_alloc_resolve() {
    local spec
    BENCH_PRELOAD=''
    BENCH_SKIP=''
    if ! bench_alloc_names | grep -qx -- "$1"; then
        BENCH_SKIP="unknown allocator (known: $(bench_alloc_names | tr '\n' ' '))"
        return 1
    fi
    spec=$(bench_alloc_field "$1" 2)
    BENCH_ENV=$(bench_alloc_field "$1" 3)
    case $spec in
    '') ;;
    @hakmem)
        if [ -z "${BENCH_HAKMEM_LIB:-}" ] || [ ! -f "$BENCH_HAKMEM_LIB" ]; then
            BENCH_SKIP="${BENCH_HAKMEM_LIB:-libhakmem-malloc.so} not found (build hakmem with make, or pass --hakmem PATH / set HAK_LIB)"
            return 1
        fi
        BENCH_PRELOAD=$BENCH_HAKMEM_LIB
        ;;
    */*)
        if [ ! -f "$spec" ]; then
            BENCH_SKIP="$spec not found"
            return 1
        fi
        BENCH_PRELOAD=$spec
        ;;
    *)
        if ! BENCH_PRELOAD=$(bench_find_lib "$spec"); then
            BENCH_SKIP="$spec not installed (see bench/README.md: apt-get install libgoogle-perftools-dev libjemalloc-dev libmimalloc-dev)"
            return 1
        fi
        ;;
    esac
    # Make the path absolute: the runs may change directory.
    case $BENCH_PRELOAD in
    '' | /*) ;;
    *) BENCH_PRELOAD="$(cd "$(dirname "$BENCH_PRELOAD")" && pwd)/$(basename "$BENCH_PRELOAD")" ;;
    esac
    return 0
}

# The hakmem interposer: --hakmem, $HAK_LIB, then the build directory
# (the current one, as make runs us, or the source tree for in-tree builds).
bench_default_hakmem() {
    local cand
    if [ -n "${HAK_LIB:-}" ]; then
        printf '%s\n' "$HAK_LIB"
        return
    fi
    for cand in "$PWD/lib/.libs/libhakmem-malloc.so" "$BENCH_SRCDIR/../lib/.libs/libhakmem-malloc.so"; do
        if [ -f "$cand" ]; then
            printf '%s\n' "$cand"
            return
        fi
    done
    printf '%s\n' "$BENCH_SRCDIR/../lib/.libs/libhakmem-malloc.so"
}

# bench_programs [BINDIR]: sets BENCH_BINDIR to a directory holding all the
# benchmark programs: BINDIR if given, the build tree if it has them, or a
# cache directory where they are compiled from source with $CC.
bench_programs() {
    local dir prog cc cxx src missing
    for dir in "${1:-}" "$PWD/bench" "$BENCH_SRCDIR"; do
        [ -n "$dir" ] || continue
        missing=''
        for prog in $BENCH_PROGRAMS; do
            [ -x "$dir/$prog" ] || missing=1
        done
        if [ -z "$missing" ]; then
            BENCH_BINDIR=$(cd "$dir" && pwd)
            return
        fi
        [ -n "${1:-}" ] && [ "$dir" = "$1" ] && bench_die "--bindir $1 lacks the benchmark programs ($BENCH_PROGRAMS)"
    done
    BENCH_BINDIR="${TMPDIR:-/tmp}/hakmem-bench-$(id -u)"
    mkdir -p "$BENCH_BINDIR"
    cc=${CC:-cc}
    cxx=${CXX:-c++}
    for prog in $BENCH_PROGRAMS; do
        src=$(bench_program_source "$prog")
        if [ ! -x "$BENCH_BINDIR/$prog" ] || [ "$src" -nt "$BENCH_BINDIR/$prog" ] ||
            [ "$BENCH_SRCDIR/bench_util.h" -nt "$BENCH_BINDIR/$prog" ]; then
            bench_note "building $prog into $BENCH_BINDIR (no build tree found)"
            case $src in
            *.cc)
                # shellcheck disable=SC2086  # CXXFLAGS is a list of flags
                $cxx ${BENCH_CXXFLAGS:--O2 -g} -std=gnu++17 -fsized-deallocation -pthread \
                    -o "$BENCH_BINDIR/$prog" "$src" || bench_die "cannot build $prog"
                ;;
            *)
                # shellcheck disable=SC2086  # CFLAGS is a list of flags
                $cc ${BENCH_CFLAGS:--O2 -g} -std=gnu11 -pthread -o "$BENCH_BINDIR/$prog" \
                    "$src" -lm || bench_die "cannot build $prog"
                ;;
            esac
        fi
    done
}

# Prefer GNU time for peak RSS and faults; the programs' own "rusage:" line
# is the fallback (BENCH_TIME=none forces it).
bench_time_tool() {
    BENCH_TIME_BIN=${BENCH_TIME:-/usr/bin/time}
    if [ "$BENCH_TIME_BIN" = none ] || ! "$BENCH_TIME_BIN" -f '%M' -o /dev/null true 2>/dev/null; then
        BENCH_TIME_BIN=''
        bench_note "GNU time not found, using the programs' own getrusage report (apt-get install time)"
    fi
}

# bench_shuffle K NAME...: the names in the order of round K of
# interleaved runs, one per line: a shuffle seeded by K, the same for the
# same K.  Which allocator runs right after which matters (bench/programs.sh,
# one hakmem build under two names, always in the slot after glibc and two
# slots later: 16-20 % apart on perl, python3 and sqlite3, 5 runs); a fixed
# or rotated order keeps the same neighbours every round.
bench_shuffle() {
    local k=$1
    shift
    printf '%s\n' "$@" | awk -v seed="$k" '
        { v[NR] = $0 }
        END {
            srand(seed)
            for (i = NR; i > 1; i--) { j = int(rand() * i) + 1; t = v[i]; v[i] = v[j]; v[j] = t }
            for (i = 1; i <= NR; i++) print v[i]
        }'
}

# bench_run ALLOCATOR OUTPREFIX PROGRAM ARGS...: runs a benchmark program
# (of $BENCH_BINDIR, or any program given by a path with a slash) under the
# allocator (resolved beforehand with bench_alloc_resolve, whose
# BENCH_PRELOAD and BENCH_ENV it uses).  Output goes to OUTPREFIX.out and
# .err.  Sets RUN_STATUS, RUN_MAXRSS (KiB), RUN_MINFLT, RUN_MAJFLT and
# RUN_WALL (the wall time in seconds, to the millisecond).
bench_run() {
    local out=$2.out err=$2.err rus=$2.rusage prog=$3 line t0 t1
    local -a envs cmd
    shift 3
    case $prog in */*) ;; *) prog=$BENCH_BINDIR/$prog ;; esac
    envs=()
    [ -n "$BENCH_ENV" ] && read -r -a envs <<<"$BENCH_ENV"
    [ -n "$BENCH_PRELOAD" ] && envs+=("LD_PRELOAD=$BENCH_PRELOAD")
    cmd=(env -u LD_PRELOAD "${envs[@]}" "$prog" "$@")
    RUN_STATUS=0
    t0=$(date +%s%N)
    if [ -n "$BENCH_TIME_BIN" ]; then
        "$BENCH_TIME_BIN" -f '%M %R %F' -o "$rus" "${cmd[@]}" >"$out" 2>"$err" || RUN_STATUS=$?
        t1=$(date +%s%N)
        line=$(tail -n 1 "$rus")
    else
        "${cmd[@]}" >"$out" 2>"$err" || RUN_STATUS=$?
        t1=$(date +%s%N)
        line=$(sed -n 's/^rusage: maxrss_kb=\([0-9]*\) minflt=\([0-9]*\) majflt=\([0-9]*\)$/\1 \2 \3/p' "$out" | tail -n 1)
    fi
    RUN_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    read -r RUN_MAXRSS RUN_MINFLT RUN_MAJFLT <<<"${line:-}" || true
    case "${RUN_MAXRSS:-}" in '' | *[!0-9]*) RUN_MAXRSS='' RUN_MINFLT='' RUN_MAJFLT='' ;; esac
    # ld.so only warns when a preload cannot be loaded and runs the program
    # on glibc's malloc; such a run must not be reported as the allocator's.
    if [ "$RUN_STATUS" -eq 0 ] && grep -q 'cannot be preloaded' "$err"; then
        RUN_STATUS=127
    fi
    return 0
}

# A one-line explanation of a failed run, for the reports.
bench_failure() {
    local status=$1 err=$2 msg
    msg=$(grep -v '^Command exited with non-zero status' "$err" 2>/dev/null | head -n 1 || true)
    case $status in
    2) printf 'exit 2 (fill pattern damaged): %s' "$msg" ;;
    127) printf 'preload failed: %s' "$msg" ;;
    *) printf 'exit %s: %s' "$status" "$msg" ;;
    esac
}

# bench_larson_profile NAME: sets LP_MIN LP_MAX LP_CHUNKS LP_ROUNDS LP_SEED
# LP_SECONDS, or returns 1.
bench_larson_profile() {
    local line
    line=$(printf '%s\n' "$BENCH_LARSON_PROFILES" | awk -F'|' -v n="$1" '$1 == n { print; exit }')
    [ -n "$line" ] || return 1
    IFS='|' read -r _ LP_MIN LP_MAX LP_CHUNKS LP_ROUNDS LP_SEED LP_SECONDS <<<"$line"
    export LP_MIN LP_MAX LP_CHUNKS LP_ROUNDS LP_SEED LP_SECONDS
}

bench_larson_profile_names() {
    printf '%s\n' "$BENCH_LARSON_PROFILES" | awk -F'|' 'NF > 1 { print $1 }'
}
