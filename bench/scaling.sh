#!/usr/bin/env bash
# scaling.sh — throughput of every allocator as the thread count and the
# number of live blocks grow, as Markdown tables, a CSV and line charts, and
# a "cliff check": does hakmem fall off somewhere a peer does not?
#
#   bench/scaling.sh [--alloc NAME,...] [--runs N] [--seconds S]
#                    [--threads LIST] [--live LIST] [--items N]
#                    [--hakmem PATH] [--bindir DIR] [--out DIR] [--no-chart]
#   bench/scaling.sh --from OUT/<date>-scaling.csv [--out DIR]
#
# Three sweeps (LISTs are comma-separated):
#   larson threads   larson classic (8-1000 B, 5000 blocks per thread, 100
#                    rounds, seed 4141) at --threads (default 1,2,4,8,16)
#   prodcons threads prodcons, 16-1024 B, ring 1024, --items blocks in all
#                    (default 3 M per second of --seconds), pairs = threads/2
#                    (at least 1: its x is 2 x pairs, so 1 and 2 threads are
#                    one point, at 2)
#   larson live      larson, 8-1000 B, 1 thread, --live blocks (default
#                    1000,10000,100000,1000000); rounds = 500000 / blocks (at
#                    least 1) so that a thread hands its array on after about
#                    as many replacements as in classic, whatever its size
# Each point runs --seconds (default 1) under every allocator, --runs times
# (default 1; the median is shown), interleaved: run k of every allocator
# at every point before run k+1, in an order shuffled for each round.  Each
# cell gives M ops/s and, in brackets, the ratio to the fastest peer at that
# point (every allocator but hakmem's; >1 = faster).  The cliff check gives, per allocator, the largest drop
# between consecutive points (the ratio of the medians, <1 = a drop), and
# calls a drop of hakmem's below 0.8x a CLIFF when it is also below 0.8
# times the ratio of the peer that holds up best over the same step.  A run
# that fails (non-zero exit, damaged pattern, a preload that did not load,
# 10 min without finishing) is FAILED in its cell, never a number, and the
# exit status is 1.  Writes the report to stdout and OUT/<date>-scaling.md,
# the medians to OUT/<date>-scaling.csv and, with gnuplot,
# OUT/<date>-scaling-threads.png and -scaling-live.png (log scales).
# OUT defaults to bench/perf.  Every allocator at --runs 3: about 8-10 min.
# --from CSV runs nothing: it prints the tables and the cliff check of an
# earlier run's CSV again and redraws its charts (into the CSV's folder).
set -euo pipefail

BENCH_ME=scaling.sh
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    # The header comment, up to the first line that is not one.
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
    printf 'allocators: %s\n' "$(bench_alloc_names | tr '\n' ' ')"
    exit "${1:-0}"
}

# A drop of hakmem's below CLIFF_DROP between consecutive points is a
# cliff when it is also below CLIFF_DROP times the ratio of the peer that
# holds up best over the same step: everybody slows down when the live
# blocks outgrow the caches; a cliff is losing a fifth more than a peer.
CLIFF_DROP=0.8
# A run that has not finished after this many seconds is FAILED.
RUN_LIMIT=600

allocs=''
runs=1
seconds=1
threads_arg='1,2,4,8,16'
live_arg='1000,10000,100000,1000000'
items=''
bindir=''
outdir=''
chart=1
from=''
BENCH_HAKMEM_LIB=''
cmdline="bench/scaling.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case $1 in
    --alloc) allocs=${2:?--alloc needs a list}; shift ;;
    --alloc=*) allocs=${1#*=} ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --runs=*) runs=${1#*=} ;;
    --seconds) seconds=${2:?--seconds needs a number}; shift ;;
    --seconds=*) seconds=${1#*=} ;;
    --threads) threads_arg=${2:?--threads needs a list}; shift ;;
    --threads=*) threads_arg=${1#*=} ;;
    --live) live_arg=${2:?--live needs a list}; shift ;;
    --live=*) live_arg=${1#*=} ;;
    --items) items=${2:?--items needs a number}; shift ;;
    --items=*) items=${1#*=} ;;
    --hakmem) BENCH_HAKMEM_LIB=${2:?--hakmem needs a path}; shift ;;
    --hakmem=*) BENCH_HAKMEM_LIB=${1#*=} ;;
    --bindir) bindir=${2:?--bindir needs a directory}; shift ;;
    --bindir=*) bindir=${1#*=} ;;
    --out) outdir=${2:?--out needs a directory}; shift ;;
    --out=*) outdir=${1#*=} ;;
    --no-chart) chart='' ;;
    --from) from=${2:?--from needs a file}; shift ;;
    --from=*) from=${1#*=} ;;
    -h | --help) usage 0 ;;
    *) bench_note "unknown argument $1"; usage 1 >&2 ;;
    esac
    shift
done

# number_list ARRAY OPTION LIST MAX: fills ARRAY with the positive integers
# (at most MAX) of a comma- or space-separated list.
number_list() {
    local -n list=$1
    local v
    IFS=', ' read -r -a list <<<"$3"
    [ ${#list[@]} -gt 0 ] || bench_die "$2 is empty"
    for v in "${list[@]}"; do
        case $v in '' | *[!0-9]* | 0*) bench_die "$2: not a positive integer: '$v'" ;; esac
        [ "$v" -le "$4" ] || bench_die "$2: $v is more than $4"
    done
}
threads=() lives=()
number_list threads --threads "$threads_arg" 1024
number_list lives --live "$live_arg" 67108864
case $runs in '' | *[!0-9]* | 0*) bench_die "--runs must be a positive integer" ;; esac
awk -v s="$seconds" 'BEGIN { exit !(s ~ /^[0-9]*\.?[0-9]+$/ && s > 0) }' ||
    bench_die "--seconds must be a positive number"
[ -n "$items" ] || items=$(awk -v s="$seconds" 'BEGIN { printf "%d", s * 3000000 }')
case $items in '' | *[!0-9]* | 0*) bench_die "--items must be a positive integer" ;; esac
[ -n "$BENCH_HAKMEM_LIB" ] || BENCH_HAKMEM_LIB=$(bench_default_hakmem)
if [ -n "$from" ]; then
    outdir=${outdir:-$(dirname "$from")}
else
    outdir=${outdir:-$BENCH_SRCDIR/perf}
fi

bench_larson_profile classic || bench_die "no larson classic profile in common.sh"
gen_ops=$((LP_CHUNKS * LP_ROUNDS))

# The points: sweep|x|benchmark name (for the table's patterns)|program
# and arguments.  x is the thread count, or the number of live blocks.
points=()
for t in "${threads[@]}"; do
    points+=("larson-threads|$t|larson-classic|larson $seconds $LP_MIN $LP_MAX $LP_CHUNKS $LP_ROUNDS $LP_SEED $t")
done
declare -A seen_pairs
for t in "${threads[@]}"; do
    p=$((t / 2))
    [ "$p" -ge 1 ] || p=1
    [ "$p" -le 255 ] || bench_die "--threads: prodcons has at most 255 pairs (510 threads)"
    [ -n "${seen_pairs[$p]:-}" ] && continue
    seen_pairs[$p]=1
    points+=("prodcons-threads|$((2 * p))|prodcons|prodcons --pairs $p --items $items --ring 1024 --min 16 --max 1024 --seed 1")
done
for c in "${lives[@]}"; do
    r=$(((gen_ops + c / 2) / c))
    [ "$r" -ge 1 ] || r=1
    points+=("larson-live|$c|larson-classic|larson $seconds $LP_MIN $LP_MAX $c $r $LP_SEED 1")
done

# measure: runs every point under every allocator and writes the medians
# to $summary_csv.
measure() {
    bench_select_allocators "$allocs"

    bench_programs "$bindir"
    for p in larson prodcons; do
        for src in "$BENCH_SRCDIR/$p.c" "$BENCH_SRCDIR/bench_util.h"; do
            if [ "$src" -nt "$BENCH_BINDIR/$p" ]; then
                bench_note "warning: $BENCH_BINDIR/$p is older than $src (run make)"
            fi
        done
    done
    bench_time_tool
    limit=()
    if command -v timeout >/dev/null; then
        limit=("$(command -v timeout)" -k 10 "$RUN_LIMIT")
    fi

    runs_csv=$tmp/runs.csv
    echo 'sweep,x,allocator,run,ops_per_s,maxrss_kb,status' >"$runs_csv"

    # Which allocator runs which benchmark (the table's patterns), and how many
    # runs in all, for the progress counter.
    declare -A applies
    total=0 estimate=0
    for pt in "${points[@]}"; do
        IFS='|' read -r sweep x bench _ <<<"$pt"
        for a in "${names[@]}"; do
            if [ -z "${applies[$a,$bench]:-}" ]; then
                applies[$a,$bench]=no
                bench_alloc_applies "$a" "$bench" && applies[$a,$bench]=yes
            fi
            if [ "${applies[$a,$bench]}" = yes ]; then
                total=$((total + runs))
                # Filling and checking a million blocks takes some 2 s.
                estimate=$(awk -v e="$estimate" -v r="$runs" -v s="$seconds" -v b="$([ "$sweep" = larson-live ] && echo "$x" || echo 0)" \
                    'BEGIN { print e + r * (s + 0.25 + b * 2e-6) }')
            fi
        done
    done
    bench_note "$total runs, about $(awk -v e="$estimate" 'BEGIN { printf "%.0f", e / 60 + 0.5 }') min"

    declare -A failed
    n=0
    started=$(date +%s)
    for ((k = 1; k <= runs; k++)); do
        mapfile -t order < <(bench_shuffle "$k" "${names[@]}")
        for pt in "${points[@]}"; do
            IFS='|' read -r sweep x bench cmd <<<"$pt"
            read -r -a args <<<"$cmd"
            for a in "${order[@]}"; do
                [ "${applies[$a,$bench]}" = yes ] || continue
                n=$((n + 1))
                printf '[%d/%d %ds] %s %s, %s: run %d of %d ... ' "$n" "$total" \
                    $(($(date +%s) - started)) "$sweep" "$x" "$a" "$k" "$runs" >&2
                if [ -n "${failed[$sweep,$x,$a]:-}" ]; then
                    echo "skipped (failed before)" >&2
                    continue
                fi
                BENCH_PRELOAD=${preload[$a]} BENCH_ENV=${envset[$a]}
                bench_run "$a" "$tmp/run" "${limit[@]}" "$BENCH_BINDIR/${args[0]}" "${args[@]:1}"
                v=$(sed -n 's/^[a-z_]*: \([0-9.]*\) ops\/s.*/\1/p' "$tmp/run.out")
                if [ "$RUN_STATUS" -ne 0 ] || [ -z "$v" ]; then
                    if [ "$RUN_STATUS" -eq 124 ] && [ ${#limit[@]} -gt 0 ]; then
                        why="did not finish in $RUN_LIMIT s"
                    elif [ "$RUN_STATUS" -eq 0 ]; then
                        why="no ops/s in the output"
                    else
                        why=$(bench_failure "$RUN_STATUS" "$tmp/run.err")
                    fi
                    failed[$sweep,$x,$a]=$why
                    failures=$((failures + 1))
                    echo "FAILED: $why" >&2
                    sed 's/^/    /' "$tmp/run.err" | head -n 5 >&2
                    printf '%s,%s,%s,%d,,,FAILED: %s\n' "$sweep" "$x" "$a" "$k" "$(printf '%s' "$why" | tr ',"' ';_')" >>"$runs_csv"
                    continue
                fi
                printf '%s,%s,%s,%d,%s,%s,ok\n' "$sweep" "$x" "$a" "$k" "$v" "${RUN_MAXRSS:-}" >>"$runs_csv"
                awk -v v="$v" -v w="$RUN_WALL" 'BEGIN { printf "%.2f Mops/s (%.1f s)\n", v / 1e6, w }' >&2
            done
        done
    done
    bench_note "$n runs in $(($(date +%s) - started)) s"

    # The medians, per point and allocator, with min, max, peak RSS and the
    # ratio to the fastest peer (an allocator whose name does not start with
    # hakmem) at that point.  mawk has no sort, hence the insertion sort.
    awk -F, -v names="${names[*]}" '
    function isort(arr, n,   i, j, t) {
        for (i = 2; i <= n; i++) {
            t = arr[i]
            for (j = i - 1; j >= 1 && arr[j] + 0 > t + 0; j--) arr[j + 1] = arr[j]
            arr[j + 1] = t
        }
    }
    function median(key, f,   n, i, a) {
        n = cnt[key]
        for (i = 1; i <= n; i++) a[i] = val[key, f, i]
        isort(a, n)
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    NR == 1 { next }
    {
        pt = $1 SUBSEP $2
        key = pt SUBSEP $3
        if (!(pt in seenpt)) { seenpt[pt] = 1; pts[++npts] = pt }
        if (!(key in seen)) { seen[key] = 1; cnt[key] = 0 }
        if ($7 != "ok") { fail[key] = $7; next }
        i = ++cnt[key]
        val[key, 1, i] = $5; val[key, 2, i] = $6
        mn[key] = i == 1 || $5 + 0 < mn[key] ? $5 + 0 : mn[key]
        mx[key] = i == 1 || $5 + 0 > mx[key] ? $5 + 0 : mx[key]
    }
    END {
        # the allocators of each point in the order of the table, whatever order ran
        na = split(names, an, " ")
        for (p = 1; p <= npts; p++)
            for (i = 1; i <= na; i++)
                if ((pts[p], an[i]) in seen) al[pts[p], ++nal[pts[p]]] = an[i]
        print "sweep,x,allocator,runs,median_ops_per_s,min_ops_per_s,max_ops_per_s,maxrss_kb,vs_best_peer,status"
        for (p = 1; p <= npts; p++) {
            pt = pts[p]; best = 0
            for (j = 1; j <= nal[pt]; j++) {
                key = pt SUBSEP al[pt, j]
                if (key in fail) continue
                med[key] = median(key, 1)
                if (al[pt, j] !~ /^hakmem/ && med[key] > best) best = med[key]
            }
            split(pt, xy, SUBSEP)
            for (j = 1; j <= nal[pt]; j++) {
                key = pt SUBSEP al[pt, j]
                if (key in fail) {
                    printf "%s,%s,%s,%d,,,,,,%s\n", xy[1], xy[2], al[pt, j], cnt[key], fail[key]
                    continue
                }
                rss = median(key, 2)
                printf "%s,%s,%s,%d,%.0f,%.0f,%.0f,%s,%s,ok\n", xy[1], xy[2], al[pt, j], cnt[key],
                    med[key], mn[key], mx[key], rss == "" ? "" : sprintf("%.0f", rss),
                    (best > 0 ? sprintf("%.3f", med[key] / best) : "")
            }
        }
    }' "$runs_csv" >"$summary_csv"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
summary_csv=$tmp/summary.csv
names=()
declare -A preload envset
failures=0
if [ -z "$from" ]; then
    measure
else
    [ -f "$from" ] || bench_die "--from: $from not found"
    head -n 1 "$from" | grep -q '^sweep,x,allocator,runs,median_ops_per_s,' ||
        bench_die "--from: $from is not a scaling.sh CSV"
    cp "$from" "$summary_csv"
    mapfile -t names < <(awk -F, 'NR > 1 && !seen[$3]++ { print $3 }' "$summary_csv")
    runs=$(awk -F, 'NR > 1 && $4 + 0 > r { r = $4 + 0 } END { print r + 0 }' "$summary_csv")
    failures=$(awk -F, 'NR > 1 && $10 != "ok" { n++ } END { print n + 0 }' "$summary_csv")
fi

# xfmt: 1000 -> 1 K, 1000000 -> 1 M (awk function text, shared below).
XFMT='function xfmt(x) {
    if (x >= 1000000 && x % 1000000 == 0) return (x / 1000000) " M"
    if (x >= 1000 && x % 1000 == 0) return (x / 1000) " K"
    return x
}'

# table SWEEP XLABEL FIELD: the sweep as a Markdown table, points by
# allocators; FIELD 5 is throughput (with the ratio to the best peer), 8
# peak RSS.
table() {
    awk -F, -v sweep="$1" -v xlabel="$2" -v f="$3" -v names="${names[*]}" "$XFMT"'
    BEGIN { na = split(names, an, " ") }
    NR == 1 || $1 != sweep { next }
    {
        if (!($2 in seenx)) { seenx[$2] = 1; xs[++nx] = $2 }
        cell[$2, $3] = $10 != "ok" ? "FAILED" : f == 5 ? sprintf("%.2f", $5 / 1e6) ($9 == "" ? "" : sprintf(" (%.2fx)", $9)) \
            : $8 == "" ? "n/a" : sprintf("%.1f", $8 / 1024)
        used[$3] = 1
    }
    END {
        printf "| %s |", xlabel
        for (i = 1; i <= na; i++) if (an[i] in used) printf " %s |", an[i]
        printf "\n|---:|"
        for (i = 1; i <= na; i++) if (an[i] in used) printf "---:|"
        printf "\n"
        for (j = 1; j <= nx; j++) {
            printf "| %s |", xfmt(xs[j])
            for (i = 1; i <= na; i++) if (an[i] in used) printf " %s |", ((xs[j], an[i]) in cell) ? cell[xs[j], an[i]] : ""
            printf "\n"
        }
    }' "$summary_csv"
}

# cliff_check SWEEP UNIT: per allocator, the worst ratio between the medians
# of consecutive points; for hakmem's variants, the verdict.
cliff_check() {
    awk -F, -v sweep="$1" -v unit="$2" -v names="${names[*]}" -v drop="$CLIFF_DROP" "$XFMT"'
    BEGIN { na = split(names, an, " ") }
    NR == 1 || $1 != sweep { next }
    {
        if (!($2 in seenx)) { seenx[$2] = 1; xs[++nx] = $2 }
        used[$3] = 1
        if ($10 == "ok") v[$2, $3] = $5 + 0
        else bad[$3] = bad[$3] (bad[$3] == "" ? "" : ", ") xfmt($2)
    }
    function step(a, j) {   # ratio from point j to j+1, or -1
        return ((xs[j], a) in v) && ((xs[j + 1], a) in v) && v[xs[j], a] > 0 ? v[xs[j + 1], a] / v[xs[j], a] : -1
    }
    function where(j) { return xfmt(xs[j]) "->" xfmt(xs[j + 1]) unit }
    END {
        line = ""
        for (i = 1; i <= na; i++) {
            a = an[i]
            if (!(a in used)) continue
            worst = -1
            for (j = 1; j < nx; j++) {
                r = step(a, j)
                if (r >= 0 && (worst < 0 || r < worst)) { worst = r; wj = j }
            }
            s = worst < 0 ? "n/a" : sprintf("%.2fx (%s)", worst, where(wj))
            if (a in bad) s = s ", FAILED at " bad[a]
            line = line (line == "" ? "" : "; ") a " " s
        }
        printf "- cliff check, %s: %s\n", sweep, line
        for (i = 1; i <= na; i++) {
            a = an[i]
            if (!(a in used) || a !~ /^hakmem/) continue
            verdict = ""; shared = ""
            for (j = 1; j < nx; j++) {
                r = step(a, j)
                if (r < 0 || r >= drop) continue
                bp = -1
                for (q = 1; q <= na; q++) {
                    if (!(an[q] in used) || an[q] ~ /^hakmem/) continue
                    rp = step(an[q], j)
                    if (rp > bp) { bp = rp; bn = an[q] }
                }
                if (bp >= 0 && r < drop * bp)
                    verdict = verdict sprintf("%s CLIFF at %s: %.2fx where %s keeps %.2fx (%.2fx of it)",
                        verdict == "" ? "" : ";", where(j), r, bn, bp, r / bp)
                else
                    shared = shared sprintf("%s %.2fx at %s (best peer %s)", shared == "" ? "" : ",", r, where(j),
                        bp < 0 ? "n/a" : sprintf("%s %.2fx", bn, bp))
            }
            if (verdict == "")
                verdict = sprintf(" no cliff (no drop below %.2fx that the best peer avoids)", drop)
            if (shared != "") verdict = verdict "; drops like the peers'"'"':" shared
            printf "  - %s, %s:%s\n", a, sweep, verdict
        }
    }' "$summary_csv"
}

machine_info() {
    local cpu a p
    if [ -n "$from" ]; then
        # shellcheck disable=SC2016  # the backquotes are Markdown
        printf -- '- redrawn from %s by `%s`: the machine, date and command are in its .md\n' "$from" "$cmdline"
        return
    fi
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1 || true)
    printf -- '- date: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- machine: %s, %s CPUs (%s), %s\n' "$(uname -srm)" "$(getconf _NPROCESSORS_ONLN)" \
        "${cpu:-unknown CPU}" "$(ldd --version 2>/dev/null | head -n 1 | sed 's/^ldd //' || true)"
    # shellcheck disable=SC2016  # the backquotes are Markdown
    printf -- '- command: `%s` (%s s per run, %s run(s) each, interleaved)\n' "$cmdline" "$seconds" "$runs"
    for a in "${names[@]}"; do
        p=${preload[$a]}
        printf -- '- %s: %s%s\n' "$a" "${p:-system malloc, no preload}" "${envset[$a]:+, ${envset[$a]}}"
    done
}

report_md() {
    local med=''
    [ "$runs" -gt 1 ] && med=", median of $runs runs"
    echo '# hakmem scaling: threads and live blocks'
    echo
    machine_info
    echo
    echo "M ops/s$med (1 op = one free + malloc; prodcons: one block passed between"
    echo 'threads); in brackets the ratio to the fastest peer at that point (every'
    echo 'allocator but hakmem'"'"'s; >1 = faster than all of them).'
    echo
    echo "## larson classic by threads ($LP_MIN-$LP_MAX B, $LP_CHUNKS blocks per thread, $LP_ROUNDS rounds, seed $LP_SEED)"
    echo
    table larson-threads threads 5
    echo
    local n_items="$items blocks in all"
    [ -n "$from" ] && n_items="the run's --items blocks in all"
    echo "## prodcons by threads (pairs = threads / 2, 16-1024 B, ring 1024, $n_items)"
    echo
    table prodcons-threads threads 5
    echo
    echo "## larson by live blocks (1 thread, $LP_MIN-$LP_MAX B, rounds = $gen_ops / blocks, at least 1)"
    echo
    table larson-live 'live blocks' 5
    echo
    echo 'Peak RSS, MiB:'
    echo
    table larson-live 'live blocks' 8
    if [ "$failures" -gt 0 ]; then
        echo
        echo "**$failures run(s) FAILED**:"
        echo
        awk -F, 'NR > 1 && $10 != "ok" { sub(/^FAILED: /, "", $10); printf "- %s %s, %s: %s\n", $1, $2, $3, $10 }' "$summary_csv"
    fi
    echo
    echo "Cliff check: per allocator the worst ratio between consecutive points"
    echo "(<1 = slower at the larger one); a drop of hakmem's below ${CLIFF_DROP}x is a"
    echo "CLIFF when it is also below $CLIFF_DROP times the ratio of the peer that holds"
    echo "up best over the same step."
    echo
    cliff_check larson-threads ' threads'
    cliff_check prodcons-threads ' threads'
    cliff_check larson-live ' blocks'
}

mkdir -p "$outdir"
if [ -z "$from" ]; then
    stamp=$(date '+%Y-%m-%d-%H%M')
    report_md | tee "$outdir/$stamp-scaling.md"
    cp "$summary_csv" "$outdir/$stamp-scaling.csv"
    written="$outdir/$stamp-scaling.md, $outdir/$stamp-scaling.csv"
else
    # The charts of an earlier run, under its name.
    stamp=$(basename "$from" .csv)
    stamp=${stamp%-scaling}
    report_md
    written=''
fi

# chart_data SWEEP FILE: x and one column of M ops/s per allocator ('-'
# where it failed or did not run); prints the allocators' names.
chart_data() {
    awk -F, -v sweep="$1" -v names="${names[*]}" '
    BEGIN { na = split(names, an, " ") }
    NR == 1 || $1 != sweep { next }
    {
        if (!($2 in seenx)) { seenx[$2] = 1; xs[++nx] = $2 }
        used[$3] = 1
        if ($10 == "ok") v[$2, $3] = $5 / 1e6
    }
    END {
        printf "x"
        for (i = 1; i <= na; i++) if (an[i] in used) printf " %s", an[i]
        printf "\n"
        for (j = 1; j <= nx; j++) {
            printf "%s", xs[j]
            for (i = 1; i <= na; i++) if (an[i] in used) printf " %s", ((xs[j], an[i]) in v) ? v[xs[j], an[i]] : "-"
            printf "\n"
        }
    }' "$summary_csv" >"$2"
}

# plot_cmd FILE TITLE XLABEL: one panel, a line per allocator; hakmem's
# variants thick and in red.
plot_cmd() {
    local file=$1 i=0 col a style sep='' xt
    local -a cols
    read -r -a cols < <(head -n 1 "$file")
    local palette=('#1f77b4' '#ff7f0e' '#2ca02c' '#9467bd' '#8c564b' '#e377c2' '#7f7f7f' '#bcbd22' '#17becf' '#000000')
    # Labelled tics: a bare list (1,2,4) would read as one expression.
    xt=$(awk "$XFMT"'NR > 1 { printf "%s\"%s\" %s", (NR > 2 ? ", " : ""), xfmt($1), $1 }' "$file")
    printf "set title '%s'\nset xlabel '%s'\nset xtics (%s)\n" "$2" "$3" "$xt"
    printf 'plot '
    for ((col = 2; col <= ${#cols[@]}; col++)); do
        a=${cols[col - 1]}
        case $a in
        hakmem) style="lw 3.5 pt 7 ps 1.2 lc rgb '#d62728'" ;;
        hakmem*) style="lw 2.5 pt 7 dt 2 lc rgb '#ff6f6f'" ;;
        *)
            style="lw 1.5 pt $((i % 6 + 1)) lc rgb '${palette[i % ${#palette[@]}]}'"
            i=$((i + 1))
            ;;
        esac
        printf "%s'%s' using 1:%d with linespoints %s title '%s'" "$sep" "$file" "$col" "$style" "$a"
        sep=$', \\\n     '
    done
    printf '\n'
}

if [ -n "$chart" ] && command -v gnuplot >/dev/null; then
    if gnuplot -e 'set terminal pngcairo' 2>/dev/null; then
        term='pngcairo noenhanced font ",10"'
    else
        term='png noenhanced'
    fi
    chart_data larson-threads "$tmp/larson-threads.dat"
    chart_data prodcons-threads "$tmp/prodcons-threads.dat"
    chart_data larson-live "$tmp/larson-live.dat"
    common="set datafile missing '-'
set key outside right top
set grid
set autoscale xfix
set offsets graph 0.04, graph 0.04, 0, 0
set yrange [0:*]
set ylabel 'M ops/s (higher is better)'"
    when="${stamp:0:10}, $(getconf _NPROCESSORS_ONLN) CPUs"
    [ "$runs" -gt 1 ] && when="$when, median of $runs runs"
    if gnuplot 2>"$tmp/gnuplot.err" <<EOF; then
set terminal $term size 1400,560
set output '$outdir/$stamp-scaling-threads.png'
$common
set logscale x 2
set multiplot layout 1,2 title 'Throughput by threads ($when)'
$(plot_cmd "$tmp/larson-threads.dat" "larson classic ($LP_MIN-$LP_MAX B, $LP_CHUNKS blocks/thread)" 'threads (log scale)')
$(plot_cmd "$tmp/prodcons-threads.dat" 'prodcons (pairs = threads / 2)' 'threads (log scale)')
unset multiplot
EOF
        written="${written:+$written, }$outdir/$stamp-scaling-threads.png"
    else
        bench_note "gnuplot failed: $(head -n 3 "$tmp/gnuplot.err")"
    fi
    if gnuplot 2>"$tmp/gnuplot.err" <<EOF; then
set terminal $term size 900,560
set output '$outdir/$stamp-scaling-live.png'
$common
set logscale x 10
set logscale y 10
set yrange [*:*]
set ylabel 'M ops/s (higher is better, log scale)'
$(plot_cmd "$tmp/larson-live.dat" "larson by live blocks (1 thread, $LP_MIN-$LP_MAX B; $when)" 'live blocks (log scale)')
EOF
        written="${written:+$written, }$outdir/$stamp-scaling-live.png"
    else
        bench_note "gnuplot failed: $(head -n 3 "$tmp/gnuplot.err")"
    fi
elif [ -n "$chart" ]; then
    bench_note "no charts: gnuplot not installed (apt-get install gnuplot-nox)"
fi
bench_note "wrote ${written:-nothing}"
[ "$failures" -eq 0 ] || { bench_note "$failures run(s) FAILED"; exit 1; }
