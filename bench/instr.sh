#!/usr/bin/env bash
# instr.sh — instructions per malloc+free pair, counted by callgrind, for
# hakmem and every peer allocator that is installed.
#
#   bench/instr.sh [--quick] [--only NAME,...] [--pairs N] [--hakmem PATH]
#                  [--bindir DIR]
#
# Workloads of bench/instr: "32", malloc(32) and free in a loop while one
# other 32-byte block stays live; "mix", rounds of 64 mallocs of 16 B - 1 KiB
# (a fixed pseudo-random sequence) then their 64 frees; and "32lone", the
# 32 B loop with nothing else live, so that every free empties the size
# class's page (the last column: some allocators pay for that at every
# pair).  Each runs under
# `valgrind --tool=callgrind` with N and with 2N pairs; the difference of
# the two instruction counts (Ir) divided by N is the cost of one pair, with
# start-up and initialisation cancelled out.  The same loop run without the
# allocator (instr --loop) gives the loop's own share, and the "net" columns
# subtract it.  Instruction counts do not depend on the machine's load, so
# this works on a busy machine where timings mean nothing; they are not
# times (a cache miss counts as one instruction).
#
# Prints a Markdown table sorted by the 32 B figure.  N is 200000 pairs
# (--quick: 20000; --pairs to choose); a full run takes a minute or two.
# The allocators are those of bench/common.sh (and $BENCH_EXTRA_ALLOCATORS,
# and the peers in $BENCH_PEERS_DIR).  An allocator that works but not
# under valgrind is listed as n/a.  Exit status: 0 when every allocator was
# measured or n/a, 1 when one failed, 2 when valgrind is missing.
set -euo pipefail

BENCH_ME=instr.sh
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '2,28s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    printf '\nallocators: %s\n' "$(bench_alloc_names | tr '\n' ' ')"
    exit "${1:-0}"
}

quick=''
pairs=''
only=''
bindir=''
BENCH_HAKMEM_LIB=''
cmdline="bench/instr.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --pairs) pairs=${2:?--pairs needs a number}; shift ;;
    --pairs=*) pairs=${1#*=} ;;
    --only | --alloc) only=${2:?$1 needs a list}; shift ;;
    --only=* | --alloc=*) only=${1#*=} ;;
    --hakmem) BENCH_HAKMEM_LIB=${2:?--hakmem needs a path}; shift ;;
    --hakmem=*) BENCH_HAKMEM_LIB=${1#*=} ;;
    --bindir) bindir=${2:?--bindir needs a directory}; shift ;;
    --bindir=*) bindir=${1#*=} ;;
    -h | --help) usage 0 ;;
    *) bench_note "unknown argument $1"; usage 1 >&2 ;;
    esac
    shift
done

if ! command -v valgrind >/dev/null 2>&1; then
    bench_note "valgrind not found: instr.sh counts instructions with callgrind (apt-get install valgrind)"
    exit 2
fi

pairs=${pairs:-${quick:+20000}}
pairs=${pairs:-200000}
case $pairs in '' | *[!0-9]* | 0) bench_die "--pairs must be a positive integer" ;; esac
# The mix works in rounds of 64: N a whole number of rounds for every workload.
pairs=$(((pairs + 63) / 64 * 64))
[ -n "$BENCH_HAKMEM_LIB" ] || BENCH_HAKMEM_LIB=$(bench_default_hakmem)

names=()
declare -A preload envset
bench_select_allocators "$only" instr

# Only bench/instr is needed: a build tree's, or compiled from source.
BENCH_PROGRAMS=instr
bench_programs "$bindir"
if [ "$BENCH_SRCDIR/instr.c" -nt "$BENCH_BINDIR/instr" ]; then
    bench_note "warning: $BENCH_BINDIR/instr is older than $BENCH_SRCDIR/instr.c (run make)"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# callgrind PRELOAD ENV OUTFILE ARGS...: runs bench/instr under callgrind
# with the allocator and prints the instruction count, or returns 1 with the
# reason in $tmp/why.
callgrind() {
    local pre=$1 vars=$2 cgout=$3 n
    local -a e
    shift 3
    e=()
    [ -n "$vars" ] && read -r -a e <<<"$vars"
    [ -n "$pre" ] && e+=("LD_PRELOAD=$pre")
    if ! env -u LD_PRELOAD "${e[@]}" valgrind --tool=callgrind --callgrind-out-file="$cgout" \
        "$BENCH_BINDIR/instr" "$@" >"$tmp/out" 2>"$tmp/err"; then
        # The program's or the allocator's complaint, not valgrind's banner.
        grep -v '^==[0-9]*==' "$tmp/err" | grep -v '^[[:space:]]*$' | head -n 1 >"$tmp/why" || true
        [ -s "$tmp/why" ] || echo "valgrind exited with an error" >"$tmp/why"
        return 1
    fi
    if grep -q 'cannot be preloaded' "$tmp/err"; then
        echo "preload failed: $(grep -m 1 'cannot be preloaded' "$tmp/err")" >"$tmp/why"
        return 1
    fi
    if ! grep -q '^instr: workload=' "$tmp/out"; then
        echo "bench/instr printed no report" >"$tmp/why"
        return 1
    fi
    n=$(sed -n 's/^==[0-9]*== Collected : \([0-9][0-9]*\)$/\1/p' "$tmp/err" | tail -n 1)
    if [ -z "$n" ]; then
        echo "no 'Collected' count in callgrind's output" >"$tmp/why"
        return 1
    fi
    printf '%s\n' "$n"
}

# per_pair PRELOAD ENV [--loop] WORKLOAD: instructions per pair, from the
# runs with N and 2N pairs, with one decimal.
per_pair() {
    local pre=$1 vars=$2 c1 c2
    shift 2
    c1=$(callgrind "$pre" "$vars" /dev/null "${@:1:$#-1}" "$pairs" "${@: -1}") || return 1
    c2=$(callgrind "$pre" "$vars" /dev/null "${@:1:$#-1}" $((2 * pairs)) "${@: -1}") || return 1
    awk -v a="$c1" -v b="$c2" -v n="$pairs" 'BEGIN { printf "%.1f\n", (b - a) / n }'
}

# The objects of the functions run_32_alloc calls once per pair (malloc and
# free), from a short profile, one per line: proves the preload took effect
# (ld.so only warns when it cannot load a library, and the program then
# runs on glibc's malloc).
callee_objects() {
    callgrind "$1" "$2" "$tmp/verify.cg" 1000 32 >/dev/null || return 1
    awk '
    # A compressed name: "(id) name" defines id, "(id)" refers to it.
    function name(s, tbl,   id, rest) {
        if (match(s, /^\([0-9]+\)/)) {
            id = substr(s, 2, RLENGTH - 2)
            rest = substr(s, RLENGTH + 1)
            sub(/^ /, "", rest)
            if (rest != "") tbl[id] = rest
            return tbl[id]
        }
        return s
    }
    /^ob=/ { ob = name(substr($0, 4), objs); cob = "" }
    /^cob=/ { cob = name(substr($0, 5), objs) }
    /^cfn=/ { name(substr($0, 5), fns) }
    /^fn=/ { infn = name(substr($0, 4), fns) == "run_32_alloc"; cob = "" }
    /^calls=/ {
        split(substr($0, 7), c, " ")
        if (infn && c[1] == 1000 && !((cob == "" ? ob : cob) in seen)) {
            seen[cob == "" ? ob : cob] = 1
            print cob == "" ? ob : cob
        }
        cob = ""
    }
    ' "$tmp/verify.cg"
}

# runs_natively PRELOAD ENV: does bench/instr work with the allocator
# outside valgrind?
runs_natively() {
    local -a e
    e=()
    [ -n "$2" ] && read -r -a e <<<"$2"
    env -u LD_PRELOAD "${e[@]}" LD_PRELOAD="$1" "$BENCH_BINDIR/instr" 1000 32 >/dev/null 2>"$tmp/native.err" &&
        ! grep -q 'cannot be preloaded' "$tmp/native.err"
}

started=$(date +%s)
progress() {
    printf '[%ds] %s\n' $(($(date +%s) - started)) "$*" >&2
}

# Where the system malloc and free run (libc.so.6): under a preload that
# took effect, they must run elsewhere.
sysobj=$(callee_objects '' '') || bench_die "bench/instr failed under valgrind: $(cat "$tmp/why")"
if [ -z "$sysobj" ] || [ "$(printf '%s\n' "$sysobj" | wc -l)" -ne 1 ]; then
    bench_die "cannot tell where the system malloc and free run (found: ${sysobj:-nothing})"
fi

# The loop alone: the same for every allocator (it never calls one).
progress "loop overhead (instr --loop)"
loop32=$(per_pair '' '' --loop 32) || bench_die "bench/instr --loop failed under valgrind: $(cat "$tmp/why")"
loopmix=$(per_pair '' '' --loop mix) || bench_die "bench/instr --loop failed under valgrind: $(cat "$tmp/why")"

declare -A r32 rmix rlone why
failures=0
for a in "${names[@]}"; do
    pre=${preload[$a]} vars=${envset[$a]}
    progress "$a"
    if [ -n "$pre" ]; then
        if ! objs=$(callee_objects "$pre" "$vars"); then
            why[$a]=$(cat "$tmp/why")
            # An allocator that works but not under valgrind (snmalloc
            # reserves 256 GiB of address space at start, more than
            # valgrind grants) cannot be counted; that is no failure.
            if runs_natively "$pre" "$vars"; then
                why[$a]="n/a: runs, but not under valgrind: ${why[$a]}"
            fi
        elif [ -z "$objs" ]; then
            why[$a]="no call to malloc/free in the profile: cannot tell whether $pre was used"
        else
            # Not always the preloaded file by name: gperftools puts malloc
            # and free in a section of their own, which callgrind cannot
            # place in an object ("???").  But never the system malloc's.
            while IFS= read -r obj; do
                if [ "$obj" = "$sysobj" ]; then
                    why[$a]="malloc or free ran in $obj, the system malloc's object: the preload did not take effect"
                elif [ "$(readlink -f "$obj" 2>/dev/null || true)" != "$(readlink -f "$pre")" ]; then
                    bench_note "$a: malloc or free ran in $obj (preloaded: $pre)"
                fi
            done <<<"$objs"
        fi
    fi
    if [ -z "${why[$a]:-}" ]; then
        if ! r32[$a]=$(per_pair "$pre" "$vars" 32) || ! rmix[$a]=$(per_pair "$pre" "$vars" mix) ||
            ! rlone[$a]=$(per_pair "$pre" "$vars" 32lone); then
            why[$a]=$(cat "$tmp/why")
        fi
    fi
    if [ -n "${why[$a]:-}" ]; then
        case ${why[$a]} in
        n/a:*) bench_note "$a: not measured: ${why[$a]#n/a: }" ;;
        *)
            failures=$((failures + 1))
            bench_note "$a: FAILED: ${why[$a]}"
            ;;
        esac
    else
        progress "$a: 32 B ${r32[$a]}, mix ${rmix[$a]}, 32 B lone ${rlone[$a]} instructions per pair"
    fi
done

vg=$(valgrind --version 2>/dev/null || echo 'valgrind, version unknown')
echo '# Instructions per malloc+free pair (callgrind)'
echo
printf -- '- date: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
# shellcheck disable=SC2016  # the backquotes are Markdown
printf -- '- command: `%s` (N = %s pairs; each figure is (Ir(2N) - Ir(N)) / N)\n' "$cmdline" "$pairs"
printf -- '- %s; %s, %s\n' "$vg" "$(uname -srm)" "$(ldd --version 2>/dev/null | head -n 1 | sed 's/^ldd //' || echo 'libc unknown')"
printf -- '- loop overhead (instr --loop, no allocator): 32 B %s, mix %s instructions per pair\n' "$loop32" "$loopmix"
for a in "${names[@]}"; do
    printf -- '- %s: %s%s\n' "$a" "${preload[$a]:-system malloc, no preload}" "${envset[$a]:+, ${envset[$a]}}"
done
echo
echo 'Instructions per pair, loop included; "net" subtracts the loop overhead'
echo '(what the allocator itself executes, call and return included).  Lower is'
echo 'better.  32 B: malloc(32) + free in a loop, another 32 B block live; mix:'
echo '64 mallocs of 16 B - 1 KiB then the 64 frees, per pair; 32 B lone: the 32 B'
echo 'loop with nothing else live (every free empties the page), loop included.'
echo
echo '| allocator | 32 B pair | mix pair | 32 B net | mix net | 32 B lone |'
echo '|---|---:|---:|---:|---:|---:|'
for a in "${names[@]}"; do
    [ -n "${why[$a]:-}" ] && continue
    printf '%s|%s|%s|%s\n' "${r32[$a]}" "$a" "${rmix[$a]}" "${rlone[$a]}"
done | sort -t'|' -k1,1g | awk -F'|' -v l32="$loop32" -v lmix="$loopmix" \
    '{ printf "| %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", $2, $1, $3, $1 - l32, $3 - lmix, $4 }'
for a in "${names[@]}"; do
    [ -n "${why[$a]:-}" ] || continue
    case ${why[$a]} in
    n/a:*) printf '| %s | n/a | %s | | | |\n' "$a" "${why[$a]#n/a: }" ;;
    *) printf '| %s | **FAILED** | %s | | | |\n' "$a" "${why[$a]//|/\\|}" ;;
    esac
done
progress "done"
[ "$failures" -eq 0 ] || exit 1
