#!/usr/bin/env bash
# larson.sh — runs the larson benchmark in one profile under several
# allocators and prints their ops/s side by side as a Markdown table.
#
#   bench/larson.sh PROFILE [THREADS...] [--alloc NAME,...] [--runs N]
#                   [--seconds S] [--hakmem PATH] [--bindir DIR]
#
# PROFILE is tiny (8-128 B), mid (2-32 KiB), classic (8-1000 B, the
# customary 5 8 1000 5000 100 4141 T) or large (256 KiB-1 MiB); THREADS
# default to 1 and 2.  With --runs N the median of N runs is shown; runs are
# interleaved (run k of every allocator before run k+1) so that drift in the
# machine's state does not favour whoever ran first.
set -euo pipefail

BENCH_ME=larson.sh
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    printf 'allocators: %s\n' "$(bench_alloc_names | tr '\n' ' ')"
    exit "${1:-0}"
}

profile=''
threads=()
allocs=''
runs=1
seconds=''
bindir=''
BENCH_HAKMEM_LIB=''
while [ $# -gt 0 ]; do
    case $1 in
    --alloc) allocs=${2:?--alloc needs a list}; shift ;;
    --alloc=*) allocs=${1#*=} ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --runs=*) runs=${1#*=} ;;
    --seconds) seconds=${2:?--seconds needs a number}; shift ;;
    --seconds=*) seconds=${1#*=} ;;
    --hakmem) BENCH_HAKMEM_LIB=${2:?--hakmem needs a path}; shift ;;
    --hakmem=*) BENCH_HAKMEM_LIB=${1#*=} ;;
    --bindir) bindir=${2:?--bindir needs a directory}; shift ;;
    --bindir=*) bindir=${1#*=} ;;
    -h | --help) usage 0 ;;
    -*) bench_note "unknown option $1"; usage 1 >&2 ;;
    *)
        if [ -z "$profile" ]; then
            profile=$1
        else
            case $1 in '' | *[!0-9]*) bench_die "thread count must be a number: $1" ;; esac
            threads+=("$1")
        fi
        ;;
    esac
    shift
done
[ -n "$profile" ] || usage 1 >&2
bench_larson_profile "$profile" ||
    bench_die "unknown profile '$profile' (profiles: $(bench_larson_profile_names | tr '\n' ' '))"
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
case $runs in '' | *[!0-9]* | 0) bench_die "--runs must be a positive integer" ;; esac
seconds=${seconds:-$LP_SECONDS}
[ -n "$BENCH_HAKMEM_LIB" ] || BENCH_HAKMEM_LIB=$(bench_default_hakmem)

names=()
declare -A preload envset
bench_select_allocators "$allocs" "larson-$profile"

bench_programs "$bindir"
bench_time_tool
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Large blocks run some ten thousand ops/s: thousands keep three digits.
div=1e6 unit=Mops/s
[ "$profile" = large ] && div=1e3 unit=kops/s
declare -A results failed rss
total=$((runs * ${#threads[@]} * ${#names[@]}))
n=0
for ((k = 1; k <= runs; k++)); do
    for t in "${threads[@]}"; do
        for a in "${names[@]}"; do
            n=$((n + 1))
            printf '[%d/%d] larson %s, %s threads, %s: run %d of %d ... ' \
                "$n" "$total" "$profile" "$t" "$a" "$k" "$runs" >&2
            if [ -n "${failed[$t,$a]:-}" ]; then
                echo "skipped (failed before)" >&2
                continue
            fi
            BENCH_PRELOAD=${preload[$a]} BENCH_ENV=${envset[$a]}
            bench_run "$a" "$tmp/run" larson "$seconds" "$LP_MIN" "$LP_MAX" \
                "$LP_CHUNKS" "$LP_ROUNDS" "$LP_SEED" "$t"
            v=$(sed -n 's/^larson: \([0-9.]*\) ops\/s.*/\1/p' "$tmp/run.out")
            if [ "$RUN_STATUS" -ne 0 ] || [ -z "$v" ]; then
                failed[$t,$a]=$(bench_failure "$RUN_STATUS" "$tmp/run.err")
                echo "FAILED: ${failed[$t,$a]}" >&2
                continue
            fi
            results[$t,$a]="${results[$t,$a]:-} $v"
            r=$(sed -n 's/^rusage: maxrss_kb=\([0-9]*\).*/\1/p' "$tmp/run.out")
            rss[$t,$a]="${rss[$t,$a]:-} ${r:-0}"
            awk -v v="$v" -v d="$div" -v u="$unit" 'BEGIN { printf "%.2f %s\n", v / d, u }' >&2
        done
    done
done

# Prints one table: the median of each cell's values divided by $3.
table() {
    local -n cells=$1
    local fmt=$2 scale=$3 t a
    printf '\n| threads |'
    for a in "${names[@]}"; do printf ' %s |' "$a"; done
    printf '\n|---:|'
    for _ in "${names[@]}"; do printf -- '---:|'; done
    printf '\n'
    for t in "${threads[@]}"; do
        printf '| %s |' "$t"
        for a in "${names[@]}"; do
            if [ -n "${failed[$t,$a]:-}" ]; then
                printf ' FAILED |'
            else
                # shellcheck disable=SC2086  # one value per run
                printf '%s\n' ${cells[$t,$a]} | sort -g |
                    awk -v f="$fmt" -v d="$scale" '{ v[NR] = $1 }
                        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf f, m / d }'
            fi
        done
        printf '\n'
    done
}

printf '\nlarson %s: %s-%s B, %s chunks/thread, %s rounds, seed %s, %s s; %s (1 op = free + malloc)' \
    "$profile" "$LP_MIN" "$LP_MAX" "$LP_CHUNKS" "$LP_ROUNDS" "$LP_SEED" "$seconds" "$unit"
[ "$runs" -gt 1 ] && printf ', median of %d runs' "$runs"
printf '\n'
table results ' %.2f |' "$div"
printf '\nPeak RSS, MiB:\n'
table rss ' %.1f |' 1024
status=0
for key in "${!failed[@]}"; do
    status=1
    bench_note "FAILED: ${key#*,} with ${key%%,*} threads: ${failed[$key]}"
done
exit "$status"
