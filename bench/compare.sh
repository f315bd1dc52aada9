#!/usr/bin/env bash
# compare.sh — runs every benchmark under every allocator (by LD_PRELOAD)
# and reports medians side by side, so hakmem is judged next to its peers.
#
#   bench/compare.sh [--quick] [--runs N] [--alloc NAME,...] [--bench NAME,...]
#                    [--threads N] [--hakmem PATH] [--bindir DIR] [--out DIR]
#                    [--no-chart] [--list]
#
# Runs are interleaved: run k of every allocator before run k+1 of any, so a
# machine that warms up or slows down over time does not favour one allocator,
# and in an order shuffled for each round, so that no allocator always runs
# in the wake of the same other one (bench_shuffle in common.sh).
# Each result is the median of the runs with min-max, peak RSS and page
# faults (GNU time, or the programs' own getrusage line), and the speed
# relative to mimalloc (>1 = faster than mimalloc).  The peers found in
# $BENCH_PEERS_DIR (shared/peers beside the source tree) join the table
# (common.sh); without that folder they are skipped silently.  A run that
# fails — a fill pattern found damaged, a crash, a preload that did not
# load — is reported as FAILED, never as a number, and makes the script
# exit 1.
#
# Writes a Markdown table to stdout and to OUT/<date>.md, the summary to
# OUT/<date>.csv, every run to OUT/<date>-runs.csv and, when gnuplot is
# installed, a chart to OUT/<date>.png (or .svg).  OUT defaults to
# bench/results.  --quick takes a few minutes; the full run about 40 with
# the four peers of shared/peers (see bench/README.md).
set -euo pipefail

BENCH_ME=compare.sh
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '2,27s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    printf '\nallocators: %s\nbenchmarks: %s\n' "$(bench_alloc_names | tr '\n' ' ')" \
        "$(all_benchmarks | tr '\n' ' ')"
    exit "${1:-0}"
}

all_benchmarks() {
    bench_larson_profile_names | sed 's/^/larson-/'
    printf '%s\n' larson-sized random-mixed prodcons handoff thread-churn mstress exchange \
        scen-JSON scen-MIR scen-VM scen-MIXED large-2M large-4M large-32M large-128M live-blocks
}

quick=''
runs=''
allocs=''
benches=''
threads=2
bindir=''
outdir=''
chart=1
list=''
BENCH_HAKMEM_LIB=''
cmdline="bench/compare.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --runs=*) runs=${1#*=} ;;
    --alloc) allocs=${2:?--alloc needs a list}; shift ;;
    --alloc=*) allocs=${1#*=} ;;
    --bench) benches=${2:?--bench needs a list}; shift ;;
    --bench=*) benches=${1#*=} ;;
    --threads) threads=${2:?--threads needs a number}; shift ;;
    --threads=*) threads=${1#*=} ;;
    --hakmem) BENCH_HAKMEM_LIB=${2:?--hakmem needs a path}; shift ;;
    --hakmem=*) BENCH_HAKMEM_LIB=${1#*=} ;;
    --bindir) bindir=${2:?--bindir needs a directory}; shift ;;
    --bindir=*) bindir=${1#*=} ;;
    --out) outdir=${2:?--out needs a directory}; shift ;;
    --out=*) outdir=${1#*=} ;;
    --no-chart) chart='' ;;
    --list) list=1 ;;
    -h | --help) usage 0 ;;
    *) bench_note "unknown argument $1"; usage 1 >&2 ;;
    esac
    shift
done
if [ -n "$list" ]; then
    all_benchmarks
    exit 0
fi

# Quick mode: fewer runs and shorter runs, same workloads.
if [ -n "$quick" ]; then
    runs=${runs:-2}
    larson_seconds=0.4
    sized_seconds=0.4
    rm_steps=2000000
    pc_items=2000000
    passes=3
    handoff_seconds=0.5
    churn_rounds=500
    mstress_ops=10000
    exchange_loops=4000
    large_mib=400
    live_replace=200
else
    runs=${runs:-5}
    larson_seconds=''   # the profile's own (3 s, classic 5 s)
    sized_seconds=10
    rm_steps=20000000
    pc_items=20000000
    passes=10
    # each about 3-10 s per run on a 2-core machine
    handoff_seconds=5
    churn_rounds=8000
    mstress_ops=150000
    exchange_loops=40000
    large_mib=4000      # MiB written per large-* run
    live_replace=2000
fi
case $runs in '' | *[!0-9]* | 0) bench_die "--runs must be a positive integer" ;; esac
case $threads in '' | *[!0-9]* | 0) bench_die "--threads must be a positive integer" ;; esac
[ -n "$BENCH_HAKMEM_LIB" ] || BENCH_HAKMEM_LIB=$(bench_default_hakmem)
outdir=${outdir:-$BENCH_SRCDIR/results}

# bench_command NAME: sets PROG and ARGS for a benchmark, and UNIT (ns and
# s: lower is better; any other, a rate such as ops/s: higher is better).
bench_command() {
    case $1 in
    larson-sized)
        # larson classic's sizes with 1000 blocks per thread, through
        # ::operator new and the sized ::operator delete
        PROG=larson_sized UNIT=ops/s
        ARGS=("$sized_seconds" 8 1000 1000 100 4141 "$threads")
        ;;
    larson-*)
        bench_larson_profile "${1#larson-}" || bench_die "unknown benchmark $1"
        PROG=larson UNIT=ops/s
        ARGS=("${larson_seconds:-$LP_SECONDS}" "$LP_MIN" "$LP_MAX" "$LP_CHUNKS" "$LP_ROUNDS" "$LP_SEED" "$threads")
        ;;
    random-mixed)
        PROG=random_mixed UNIT=ops/s
        ARGS=(--steps "$rm_steps" --slots 8192 --min 16 --max 1024 --seed 1)
        ;;
    prodcons)
        PROG=prodcons UNIT=ops/s
        ARGS=(--items "$pc_items" --pairs 1 --ring 1024 --min 16 --max 1024 --seed 1)
        ;;
    handoff)
        PROG=handoff UNIT=blocks/s
        ARGS=(--seconds "$handoff_seconds" --producers 2 --consumers 2 --size 64 --seed 1)
        ;;
    thread-churn)
        PROG=thread_churn UNIT=rounds/s
        ARGS=(--rounds "$churn_rounds" --threads 10 --slots 1000 --size 128 --seed 1)
        ;;
    mstress)
        PROG=mstress UNIT=s
        ARGS=(--threads 2 --rounds 25 --ops "$mstress_ops" --seed 1)
        ;;
    exchange)
        PROG=exchange UNIT=ops/s
        ARGS=(--threads 2 --loops "$exchange_loops" --slots 4096 --ops 256 --cross 8 --min 8 --max 16384 --seed 1)
        ;;
    large-2M | large-4M | large-32M | large-128M)
        # malloc, write every page, free: one block at a time
        local mib=${1#large-}
        mib=${mib%M}
        PROG=large_loop UNIT=ns
        ARGS=(--size $((mib << 20)) --iters $((large_mib / mib)))
        ;;
    live-blocks)
        # 20 live blocks of 5-25 MiB, replaced at random (make_unique)
        PROG=live_blocks UNIT=s
        ARGS=(--live 20 --replace "$live_replace" --min 5 --max 25 --seed 1)
        ;;
    scen-JSON | scen-MIR | scen-VM | scen-MIXED)
        PROG=scenarios UNIT=ns
        ARGS=(--passes "$passes" "${1#scen-}")
        ;;
    *) bench_die "unknown benchmark $1 (see --list)" ;;
    esac
}

# bench_metric NAME FILE: the number a run is judged by.
bench_metric() {
    case $1 in
    larson-*) sed -n 's/^larson[a-z-]*: \([0-9.]*\) ops\/s.*/\1/p' "$2" ;;
    random-mixed) sed -n 's/^random_mixed: \([0-9.]*\) ops\/s.*/\1/p' "$2" ;;
    prodcons) sed -n 's/^prodcons: \([0-9.]*\) ops\/s.*/\1/p' "$2" ;;
    handoff) sed -n 's/^handoff: \([0-9.]*\) blocks\/s.*/\1/p' "$2" ;;
    thread-churn) sed -n 's/^thread_churn: \([0-9.]*\) rounds\/s.*/\1/p' "$2" ;;
    mstress) sed -n 's/^mstress: \([0-9.]*\) s .*/\1/p' "$2" ;;
    exchange) sed -n 's/^exchange: \([0-9.]*\) ops\/s.*/\1/p' "$2" ;;
    large-*) sed -n 's/^large_loop: \([0-9.]*\) ns\/iter.*/\1/p' "$2" ;;
    live-blocks) sed -n 's/^live_blocks: .* \([0-9.]*\) s$/\1/p' "$2" ;;
    scen-*) sed -n "s/^scenario=${1#scen-} phase=steady .* median_ns=\([0-9]*\) .*/\1/p" "$2" ;;
    esac
}

if [ -n "$benches" ]; then
    IFS=',' read -r -a bench_list <<<"$benches"
else
    mapfile -t bench_list < <(all_benchmarks)
fi
for b in "${bench_list[@]}"; do bench_command "$b"; done

names=()
declare -A preload envset
bench_select_allocators "$allocs"

bench_programs "$bindir"
for p in $BENCH_PROGRAMS; do
    for src in "$(bench_program_source "$p")" "$BENCH_SRCDIR/bench_util.h"; do
        if [ "$src" -nt "$BENCH_BINDIR/$p" ]; then
            bench_note "warning: $BENCH_BINDIR/$p is older than $src (run make)"
        fi
    done
done
bench_time_tool

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
runs_csv=$tmp/runs.csv
echo 'benchmark,allocator,run,unit,value,maxrss_kb,minflt,majflt,status' >"$runs_csv"

# How many runs in all, for the progress counter.
total=0
for b in "${bench_list[@]}"; do
    for a in "${names[@]}"; do
        bench_alloc_applies "$a" "$b" && total=$((total + runs))
    done
done

declare -A failed
failures=0
n=0
started=$(date +%s)
for b in "${bench_list[@]}"; do
    bench_command "$b"
    for ((k = 1; k <= runs; k++)); do
        mapfile -t order < <(bench_shuffle "$k" "${names[@]}")
        for a in "${order[@]}"; do
            bench_alloc_applies "$a" "$b" || continue
            n=$((n + 1))
            printf '[%d/%d %ds] %s, %s: run %d of %d ... ' "$n" "$total" \
                $(($(date +%s) - started)) "$b" "$a" "$k" "$runs" >&2
            if [ -n "${failed[$b,$a]:-}" ]; then
                echo "skipped (failed before)" >&2
                continue
            fi
            BENCH_PRELOAD=${preload[$a]} BENCH_ENV=${envset[$a]}
            bench_run "$a" "$tmp/run" "$PROG" "${ARGS[@]}"
            v=$(bench_metric "$b" "$tmp/run.out")
            if [ "$RUN_STATUS" -ne 0 ] || [ -z "$v" ]; then
                why=$(bench_failure "$RUN_STATUS" "$tmp/run.err")
                failed[$b,$a]=$why
                failures=$((failures + 1))
                echo "FAILED: $why" >&2
                sed 's/^/    /' "$tmp/run.err" | head -n 5 >&2
                why=${why//,/;}
                printf '%s,%s,%d,%s,,,,,FAILED: %s\n' "$b" "$a" "$k" "$UNIT" "${why//\"/}" >>"$runs_csv"
                continue
            fi
            printf '%s,%s,%d,%s,%s,%s,%s,%s,ok\n' "$b" "$a" "$k" "$UNIT" "$v" \
                "$RUN_MAXRSS" "$RUN_MINFLT" "$RUN_MAJFLT" >>"$runs_csv"
            case $UNIT in
            ns) echo "$v ns (steady median)" >&2 ;;
            s) echo "$v s" >&2 ;;
            *) awk -v v="$v" -v u="$UNIT" 'BEGIN { printf "%.2f M%s\n", v / 1e6, u }' >&2 ;;
            esac
        done
    done
done
bench_note "$n runs in $(($(date +%s) - started)) s"

# Summarise: per benchmark and allocator the median, min and max of the
# metric, the median peak RSS and faults, and the ratio to mimalloc's median
# oriented so that >1 means faster.  mawk has no sort, hence the insertion
# sort.
summary_csv=$tmp/summary.csv
awk -F, -v baseline=mimalloc -v names="${names[*]}" '
function isort(arr, n,   i, j, t) {
    for (i = 2; i <= n; i++) {
        t = arr[i]
        for (j = i - 1; j >= 1 && arr[j] + 0 > t + 0; j--) arr[j + 1] = arr[j]
        arr[j + 1] = t
    }
}
function median(key, field,   n, i, a) {
    n = cnt[key]
    if (n == 0) return ""
    for (i = 1; i <= n; i++) a[i] = val[key, field, i]
    isort(a, n)
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function extreme(key, want_max,   n, i, m) {
    n = cnt[key]
    m = val[key, 1, 1]
    for (i = 2; i <= n; i++)
        if (want_max ? val[key, 1, i] + 0 > m + 0 : val[key, 1, i] + 0 < m + 0) m = val[key, 1, i]
    return m
}
NR == 1 { next }
{
    key = $1 SUBSEP $2
    if (!($1 in bseen)) { bseen[$1] = 1; border[++nb] = $1 }
    if (!(key in seen)) { seen[key] = 1; unit[key] = $4; cnt[key] = 0 }
    if ($9 != "ok") { fail[key] = $9; next }
    i = ++cnt[key]
    val[key, 1, i] = $5; val[key, 2, i] = $6; val[key, 3, i] = $7; val[key, 4, i] = $8
}
END {
    # the rows in the order of the allocator table, whatever order ran
    na = split(names, an, " ")
    for (j = 1; j <= nb; j++)
        for (i = 1; i <= na; i++)
            if ((border[j], an[i]) in seen) order[++nkeys] = border[j] SUBSEP an[i]
    print "benchmark,allocator,unit,runs,median,min,max,maxrss_kb,minflt,majflt,vs_" baseline ",status"
    for (k = 1; k <= nkeys; k++) {
        key = order[k]
        med[key] = median(key, 1)
    }
    for (k = 1; k <= nkeys; k++) {
        key = order[k]
        split(key, parts, SUBSEP)
        base = parts[1] SUBSEP baseline
        ratio = ""
        if (!(key in fail) && (base in med) && !(base in fail) && med[base] > 0 && med[key] > 0)
            ratio = sprintf("%.3f", unit[key] == "ns" || unit[key] == "s" ? med[base] / med[key] : med[key] / med[base])
        if (key in fail) {
            printf "%s,%s,%s,%d,,,,,,,,%s\n", parts[1], parts[2], unit[key], cnt[key], fail[key]
        } else {
            printf "%s,%s,%s,%d,%s,%s,%s,%s,%s,%s,%s,ok\n", parts[1], parts[2], unit[key], cnt[key],
                med[key], extreme(key, 0), extreme(key, 1), median(key, 2), median(key, 3), median(key, 4), ratio
        }
    }
}' "$runs_csv" >"$summary_csv"

# The report.
machine_info() {
    local cpu
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1 || true)
    printf -- '- date: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- machine: %s, %s CPUs (%s), %s\n' "$(uname -srm)" "$(getconf _NPROCESSORS_ONLN)" \
        "${cpu:-unknown CPU}" "$(ldd --version 2>/dev/null | head -n 1 | sed 's/^ldd //' || echo 'libc unknown')"
    # shellcheck disable=SC2016  # the backquotes are Markdown
    printf -- '- command: `%s` (%s runs each, interleaved; larson with %s threads)\n' "$cmdline" "$runs" "$threads"
    for a in "${names[@]}"; do
        local p=${preload[$a]} pkg=''
        if [ -n "$p" ] && command -v dpkg-query >/dev/null; then
            pkg=$(dpkg-query -S "$(readlink -f "$p")" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
            [ -n "$pkg" ] && pkg=" ($pkg $(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true))"
        fi
        printf -- '- %s: %s%s%s\n' "$a" "${p:-system malloc, no preload}" "${envset[$a]:+, ${envset[$a]}}" "$pkg"
    done
}

report_md() {
    echo '# hakmem benchmark comparison'
    echo
    machine_info
    echo
    echo 'Median of the runs (min-max). ops/s: higher is better, 1 op = one free + malloc'
    echo '(prodcons: one block passed between threads; exchange: one block allocated and'
    echo 'freed, 1 in 8 by the other thread); handoff: blocks allocated by producer threads'
    echo 'and freed by consumers, per second; thread-churn: rounds of 10 short-lived threads'
    echo 'per second; mstress: total seconds, lower is better; scen-*: steady-state latency'
    echo 'of one allocate-touch-verify-free iteration, lower is better. "vs mimalloc" is the'
    echo 'speed relative to mimalloc (>1 = faster). RSS and faults: medians over the runs of'
    echo 'the whole process.'
    echo
    echo '| benchmark | allocator | median | min-max | vs mimalloc | peak RSS | minor faults | major faults |'
    echo '|---|---|---:|---:|---:|---:|---:|---:|'
    awk -F, '
    function fmt(v, u) {
        if (v == "") return ""
        if (u == "s") return sprintf(v < 10 ? "%.3f s" : "%.2f s", v)
        if (u == "ns") {
            if (v < 10000) return sprintf("%d ns", v)
            if (v < 1000000) return sprintf("%.1f us", v / 1000)
            return sprintf("%.2f ms", v / 1e6)
        }
        if (v >= 1e6) return sprintf("%.2f M", v / 1e6)
        return sprintf("%.1f k", v / 1e3)
    }
    NR == 1 { next }
    {
        label = $1 == prev ? "" : $1 " (" $3 ")"
        prev = $1
        if ($12 != "ok") {
            why = $12
            sub(/^FAILED: /, "", why)
            printf "| %s | %s | **FAILED** | %s | | | | |\n", label, $2, why
            next
        }
        rng = $4 > 1 ? fmt($6, $3) " - " fmt($7, $3) : ""
        ratio = $11 == "" ? "n/a" : sprintf($11 < 0.1 ? "%.3fx" : "%.2fx", $11)
        rss = $8 == "" ? "?" : sprintf("%.1f MiB", $8 / 1024)
        minf = $9 == "" ? "?" : sprintf("%.0f", $9)
        majf = $10 == "" ? "?" : sprintf("%.0f", $10)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", label, $2, fmt($5, $3), rng, ratio, rss, minf, majf
    }' "$summary_csv"
    if [ "$failures" -gt 0 ]; then
        echo
        echo "**$failures run(s) failed**; failed results are not numbers and were not ranked."
    fi
    echo
    echo 'Over the suite: the geometric mean of each allocator'"'"'s speed relative to the'
    echo 'fastest of each benchmark (1 = fastest everywhere), and of its peak RSS'
    echo 'relative to the smallest; the benchmarks where it is the fastest, and where'
    echo 'it is within 5 % of the fastest.'
    echo
    echo '| allocator | geomean speed vs fastest | geomean RSS vs smallest | fastest | within 5 % | benchmarks |'
    echo '|---|---:|---:|---:|---:|---:|'
    awk -F, '
    NR == 1 { next }
    $12 == "ok" && $5 + 0 > 0 && $8 + 0 > 0 {
        b = $1; a = $2
        if (!(a in seen)) { seen[a] = 1; order[++na] = a }
        speed[b, a] = $3 == "ns" || $3 == "s" ? 1 / $5 : $5 + 0; rss[b, a] = $8 + 0
        if (!(b in best) || speed[b, a] > best[b]) best[b] = speed[b, a]
        if (!(b in small) || rss[b, a] < small[b]) small[b] = rss[b, a]
        bench[b] = 1
    }
    END {
        for (i = 1; i <= na; i++) {
            a = order[i]; n = 0; ls = 0; lr = 0; fast = 0; near = 0
            for (b in bench) {
                if (!((b, a) in speed)) continue
                n++
                ls += log(speed[b, a] / best[b])
                lr += log(rss[b, a] / small[b])
                if (speed[b, a] >= best[b]) fast++
                if (speed[b, a] >= best[b] * 0.95) near++
            }
            if (n > 0)
                printf "| %s | %.3f | %.2f | %d | %d | %d |\n", a, exp(ls / n), exp(lr / n), fast, near, n
        }
    }' "$summary_csv"
}

mkdir -p "$outdir"
stamp=$(date '+%Y-%m-%d-%H%M%S')
report_md | tee "$outdir/$stamp.md"
cp "$summary_csv" "$outdir/$stamp.csv"
cp "$runs_csv" "$outdir/$stamp-runs.csv"
written="$outdir/$stamp.md, $outdir/$stamp.csv, $outdir/$stamp-runs.csv"

# The chart: speed relative to mimalloc per benchmark, one bar per allocator.
if [ -n "$chart" ] && command -v gnuplot >/dev/null; then
    dat=$tmp/chart.dat
    awk -F, -v names="${names[*]}" '
    BEGIN { na = split(names, an, " ") }
    NR == 1 { next }
    {
        if (!($1 in seen)) { seen[$1] = 1; order[++nb] = $1 }
        if ($12 == "ok" && $11 != "") { r[$1, $2] = $11; used[$2] = 1 }
    }
    END {
        printf "benchmark"
        for (i = 1; i <= na; i++) if (an[i] in used) printf " %s", an[i]
        printf "\n"
        for (j = 1; j <= nb; j++) {
            printf "%s", order[j]
            for (i = 1; i <= na; i++) if (an[i] in used) printf " %s", ((order[j], an[i]) in r) ? r[order[j], an[i]] : "-"
            printf "\n"
        }
    }' "$summary_csv" >"$dat"
    ncols=$(head -n 1 "$dat" | wc -w)
    nrows=$(($(wc -l <"$dat") - 1))
    # Log scale: a 2x win and a 2x loss look alike; the range covers every
    # bar, even an allocator a thousand times slower than mimalloc.
    yrange=$(awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "-") { if (lo == "" || $i + 0 < lo) lo = $i + 0; if (hi == "" || $i + 0 > hi) hi = $i + 0 } }
        END { if (lo > 0.8) lo = 0.8; if (hi < 1.25) hi = 1.25; printf "[%g:%g]", lo / 1.5, hi * 1.5 }' "$dat")
    if [ "$ncols" -gt 1 ]; then
        if gnuplot -e 'set terminal pngcairo' 2>/dev/null; then
            term='pngcairo size 1200,600 noenhanced font ",10"' ext=png
        elif gnuplot -e 'set terminal png' 2>/dev/null; then
            term='png size 1200,600 noenhanced' ext=png
        else
            term='svg size 1200,600 noenhanced' ext=svg
        fi
        if gnuplot 2>"$tmp/gnuplot.err" <<EOF; then
set terminal $term
set output '$outdir/$stamp.$ext'
set title 'Speed relative to mimalloc (higher is better), $(date '+%Y-%m-%d'), $(getconf _NPROCESSORS_ONLN) CPUs, median of $runs runs'
set datafile missing '-'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key below horizontal width 2
set logscale y 10
set yrange $yrange
set xrange [-0.6:$nrows - 0.4]
set format y '%g'
set grid ytics
set xtics rotate by -30 nomirror
set ylabel 'x mimalloc (log scale)'
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb 'black' front
plot for [i=2:$ncols] '$dat' using i:xtic(1) title columnheader(i)
EOF
            written="$written, $outdir/$stamp.$ext"
        else
            bench_note "gnuplot failed: $(head -n 3 "$tmp/gnuplot.err")"
        fi
    else
        bench_note "no chart: no ratios to mimalloc (is mimalloc installed?)"
    fi
elif [ -n "$chart" ]; then
    bench_note "no chart: gnuplot not installed (apt-get install gnuplot-nox)"
fi
bench_note "wrote $written"
[ "$failures" -eq 0 ] || { bench_note "$failures run(s) FAILED"; exit 1; }
