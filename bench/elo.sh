#!/usr/bin/env bash
# elo.sh — does the ELO tournament find each workload's best retention
# threshold?  Runs bench/elo_workloads (reuse, idle, mixed) under hakmem
# with each of the 13 arms fixed (HAKMEM_ELO=0 HAKMEM_LARGE_RELEASE=arm) and
# with the tournament on, interleaved, and prints the median cost of each,
# the best fixed arm of each workload, the tournament's ratio to it,
# whether any one fixed arm is within 10 % of the best on all workloads,
# and the tournament's leaderboards.
#
#   bench/elo.sh [--runs N] [--reuse N] [--idle N] [--mixed N] [--hold-ns NS] [--hakmem LIB]
#
# The cost is CPU time plus resident MiB.s at NS per MiB.s (default 4 ms,
# given to hakmem as HAKMEM_ELO_HOLD_NS too, so both judge alike).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=3 reuse=3000 idle=60 mixed=10 hold=4000000
lib=$here/../lib/.libs/libhakmem-malloc.so
bindir=${BENCH_BINDIR:-$here}
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift ;;
    --reuse) reuse=$2; shift ;;
    --idle) idle=$2; shift ;;
    --mixed) mixed=$2; shift ;;
    --hold-ns) hold=$2; shift ;;
    --hakmem) lib=$2; shift ;;
    -h | --help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "elo.sh: unknown argument $1" >&2; exit 1 ;;
    esac
    shift
done
[ -x "$bindir/elo_workloads" ] || { echo "elo.sh: $bindir/elo_workloads not built" >&2; exit 1; }
[ -f "$lib" ] || { echo "elo.sh: $lib not found" >&2; exit 1; }

# The arms' thresholds, as hakmem has them: 512 KiB * 2^i up to 1 GiB, and
# 64G (keep every block BigCache can hold).
arms="$(awk 'BEGIN { for (i = 0; i < 12; i++) print 524288 * 2 ^ i }') 68719476736"
configs=()
for t in $arms; do configs+=("$t"); done
configs+=(elo)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for r in $(seq 1 "$runs"); do
    for w in reuse idle mixed; do
        n=$reuse
        [ $w = idle ] && n=$idle
        [ $w = mixed ] && n=$mixed
        for c in "${configs[@]}"; do
            if [ "$c" = elo ]; then
                env=(HAKMEM_ELO=1 HAKMEM_STATS=1)
            else
                env=(HAKMEM_ELO=0 HAKMEM_LARGE_RELEASE="$c")
            fi
            printf '[run %s/%s] %s %s ... ' "$r" "$runs" "$w" "$c" >&2
            line=$(env "${env[@]}" HAKMEM_ELO_HOLD_NS="$hold" LD_PRELOAD="$lib" \
                "$bindir/elo_workloads" --hold-ns "$hold" "$w" "$n" 2>"$out/stderr-$w-$c")
            cost=$(sed -n 's/.*cost_ms=\([0-9.]*\).*/\1/p' <<<"$line")
            [ -n "$cost" ] || { echo "elo.sh: no cost from $w $c: $line" >&2; exit 1; }
            echo "$cost" >>"$out/$w-$c"
            echo "$cost ms" >&2
        done
    done
done

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "elo_workloads: reuse $reuse, idle $idle cycles, mixed $mixed cycles; cost = CPU ms + resident MiB.s x $((hold / 1000)) us; median of $runs"
echo
echo "| threshold | reuse cost (ms) | idle cost (ms) | mixed cost (ms) |"
echo "|---:|---:|---:|---:|"
for c in "${configs[@]}"; do
    label=$c
    [ "$c" != elo ] && label="$((c / 1024)) KiB"
    echo "| $label | $(median "$out/reuse-$c") | $(median "$out/idle-$c") | $(median "$out/mixed-$c") |"
done
echo
for c in "${configs[@]}"; do
    echo "$c $(median "$out/reuse-$c") $(median "$out/idle-$c") $(median "$out/mixed-$c")"
done | awk '
    $1 != "elo" {
        for (k = 2; k <= 4; k++) { if (!best[k] || $k < best[k]) best[k] = $k; v[$1, k] = $k }
        arm[$1] = 1
    }
    $1 == "elo" { for (k = 2; k <= 4; k++) e[k] = $k }
    END {
        all = "none"
        for (t in arm) {
            ok = 1
            for (k = 2; k <= 4; k++) if (v[t, k] > 1.1 * best[k]) ok = 0
            if (ok) all = t
        }
        printf "best fixed arm: reuse %.1f ms, idle %.1f ms, mixed %.1f ms\n", best[2], best[3], best[4]
        printf "tournament / best: reuse %.3f, idle %.3f, mixed %.3f (target <= 1.05 on each)\n", e[2] / best[2], e[3] / best[3], e[4] / best[4]
        printf "a fixed arm within 10 %% of the best on all three: %s\n", all
    }'
for w in reuse idle mixed; do
    echo
    echo "leaderboard, $w (last run):"
    sed -n '/^elo (/,/^size classes/p' "$out/stderr-$w-elo" | grep -v '^size classes'
done
