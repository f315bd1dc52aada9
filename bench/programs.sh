#!/usr/bin/env bash
# programs.sh — times real programs (python3, perl, sqlite3, gcc, xz) under
# several allocators (by LD_PRELOAD) and prints their wall time and peak RSS
# side by side as Markdown tables.  Each program's output must equal glibc's.
#
#   bench/programs.sh [--alloc NAME,...] [--runs N] [--only WORKLOAD,...]
#                     [--vs NAME] [--scale F] [--hakmem PATH]
#
# The workloads (inputs generated in a scratch directory, the same every
# time; one run takes some 1-4 s under glibc on a slow 2-core machine):
#   python  python3, PYTHONMALLOC=malloc: 70k records of dicts, lists, tuples
#           and strings, sorted, a json dumps/loads round trip; a checksum
#   perl    a hash of 200k keys to small arrays, its keys sorted, half of
#           them deleted; a checksum
#   sqlite  sqlite3 :memory:, 500k rows from a recursive CTE, two indexes,
#           aggregates, a self-join, a delete; the query results
#   gcc     gcc -O2 -c of a generated C file of 130 functions; the object's
#           size and a checksum of its nm listing
#   xz      xz -T2 -1 round trip of a generated 32 MiB log; the sha256 sums
# --scale F multiplies every size (0.2 for a quick try).  A program that is
# not installed skips its workload.  Runs are interleaved (run k of every
# allocator before run k+1, in an order shuffled for each round) and the
# tables show medians: wall seconds with the ratio to the fastest peer
# (every allocator but hakmem's, or --vs NAME; >1 = slower), and peak RSS.
# An output that differs from that of an untimed run on glibc, a crash or
# a preload that did not load makes the cell FAILED and the exit status 1.
# shellcheck disable=SC2317  # the wl_* functions are called as "wl_$w"
set -euo pipefail

BENCH_ME=programs.sh
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

WORKLOADS='python perl sqlite gcc xz'

usage() {
    sed -n '2,26s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    printf 'allocators: %s\n' "$(bench_alloc_names | tr '\n' ' ')"
    exit "${1:-0}"
}

allocs=''
only=''
runs=1
vs=''
scale=1
BENCH_HAKMEM_LIB=''
while [ $# -gt 0 ]; do
    case $1 in
    --alloc) allocs=${2:?--alloc needs a list}; shift ;;
    --alloc=*) allocs=${1#*=} ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --runs=*) runs=${1#*=} ;;
    --only) only=${2:?--only needs a list}; shift ;;
    --only=*) only=${1#*=} ;;
    --vs) vs=${2:?--vs needs an allocator}; shift ;;
    --vs=*) vs=${1#*=} ;;
    --scale) scale=${2:?--scale needs a number}; shift ;;
    --scale=*) scale=${1#*=} ;;
    --hakmem) BENCH_HAKMEM_LIB=${2:?--hakmem needs a path}; shift ;;
    --hakmem=*) BENCH_HAKMEM_LIB=${1#*=} ;;
    -h | --help) usage 0 ;;
    *) bench_note "unknown argument $1"; usage 1 >&2 ;;
    esac
    shift
done
case $runs in '' | *[!0-9]* | 0) bench_die "--runs must be a positive integer" ;; esac
awk -v s="$scale" 'BEGIN { exit !(s ~ /^[0-9]*\.?[0-9]+$/ && s > 0) }' ||
    bench_die "--scale must be a positive number"
workloads=()
if [ -n "$only" ]; then
    IFS=',' read -r -a workloads <<<"$only"
    for w in "${workloads[@]}"; do
        case " $WORKLOADS " in *" $w "*) ;; *) bench_die "unknown workload '$w' (workloads: $WORKLOADS)" ;; esac
    done
else
    read -r -a workloads <<<"$WORKLOADS"
fi
[ -n "$BENCH_HAKMEM_LIB" ] || BENCH_HAKMEM_LIB=$(bench_default_hakmem)

names=()
declare -A preload envset
bench_select_allocators "$allocs" programs
if [ -n "$vs" ]; then
    printf '%s\n' "${names[@]}" | grep -qx -- "$vs" || bench_die "--vs $vs is not among the allocators run"
fi
bench_time_tool
[ -n "$BENCH_TIME_BIN" ] || bench_note "no peak RSS without GNU time"

# N scaled by --scale, at least 1.
scaled() {
    awk -v n="$1" -v s="$scale" 'BEGIN { v = int(n * s + 0.5); print (v < 1 ? 1 : v) }'
}

# find_prog NAME: the absolute path of NAME on $PATH, or returns 1.
find_prog() {
    local p
    p=$(command -v "$1" 2>/dev/null) || return 1
    case $p in
    /*) ;;
    */*) p=$PWD/$p ;;
    *) return 1 ;; # a builtin, function or alias
    esac
    [ -x "$p" ] && printf '%s\n' "$p"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-programs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# Each workload is a function wl_NAME called with
#   prep:  finds the programs and writes the input into $work (the current
#          directory), or returns 1 with the reason in $skip;
#   run:   sets W_CMD (the timed command, first word a path) and W_ENV
#          (VAR=value ... added to the allocator's environment), after
#          removing any output of an earlier run;
#   check: untimed, without the preload, after a successful run: prints
#          what else the output is made of; returns 1 (message on stderr)
#          when the run's result is wrong.
# Everything the timed command and the check print to stdout is compared
# with glibc's first run.

wl_python() {
    case $1 in
    prep)
        # The interpreter itself, not a wrapper such as pyenv's shim.
        if ! PY=$(find_prog python3) || ! PY=$("$PY" -c 'import sys; print(sys.executable)') ||
            [ ! -x "$PY" ]; then
            skip='python3 not installed'
            return 1
        fi
        cat >objects.py <<EOF
import hashlib, json
N = $(scaled 70000)
recs = []
for i in range(N):
    k = (i * 7919) % N
    recs.append({"id": i, "key": "k%07d" % k, "tags": [k % 7, k % 11, "t%d" % (k % 13)],
                 "pt": (k % 101, (k * 3) % 97, k / 7.0)})
index = {}
for r in recs:
    index.setdefault(r["tags"][2], []).append((r["key"], r["id"]))
recs.sort(key=lambda r: (r["pt"][0], r["key"]))
text = json.dumps(recs, sort_keys=True)
back = json.loads(text)
del recs
pairs = sorted((v["key"], tuple(v["pt"][:2])) for v in back if v["id"] % 3)
h = hashlib.sha256(text.encode())
h.update(repr(pairs[::997]).encode())
print(len(back), len(pairs), sum(len(v) for v in index.values()), h.hexdigest())
EOF
        ;;
    run)
        W_CMD=("$PY" "$work/objects.py")
        W_ENV='PYTHONMALLOC=malloc PYTHONHASHSEED=0'
        ;;
    check) ;;
    esac
}

wl_perl() {
    case $1 in
    prep)
        PERL=$(find_prog perl) || { skip='perl not installed'; return 1; }
        cat >hash.pl <<EOF
use strict; use warnings;
my \$n = $(scaled 200000);
my %h;
for my \$i (0 .. \$n - 1) {
    \$h{sprintf('key%07d.%03d', (\$i * 7919) % \$n, \$i % 1000)} = [\$i, "v\$i"];
}
my @keys = sort keys %h;
my \$sum = unpack('%32C*', join("\n", @keys)) + unpack('%32C*', join(',', map { \$h{\$_}[1] } @keys));
delete @h{grep { /[13579]\$/ } @keys};
print scalar(@keys), " keys, ", scalar(keys %h), " left, checksum \$sum, first \$keys[0], last \$keys[-1]\n";
EOF
        ;;
    run)
        W_CMD=("$PERL" "$work/hash.pl")
        # The same hash order every run.
        W_ENV='PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0'
        ;;
    check) ;;
    esac
}

wl_sqlite() {
    case $1 in
    prep)
        SQLITE=$(find_prog sqlite3) || { skip='sqlite3 not installed'; return 1; }
        cat >table.sql <<EOF
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < $(scaled 500000))
INSERT INTO t SELECT i, (i * 7919) % 100003, printf('name-%07d', (i * 104729) % 1000003), i * 0.25 FROM r;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
SELECT count(*), sum(a), min(b), max(b), sum(c) FROM t;
SELECT a % 7, count(*), sum(a), round(avg(c), 3) FROM t GROUP BY a % 7 ORDER BY 1;
SELECT count(DISTINCT a), count(DISTINCT substr(b, 1, 9)) FROM t;
SELECT group_concat(b, ' ') FROM (SELECT b FROM t WHERE a BETWEEN 5000 AND 5002 ORDER BY b);
SELECT count(*) FROM t AS x JOIN t AS y ON y.a = x.a + 1 WHERE x.id % 50 = 0;
DELETE FROM t WHERE id % 3 = 0;
SELECT count(*), sum(a) FROM t;
EOF
        ;;
    run)
        W_CMD=("$SQLITE" -batch :memory: ".read table.sql")
        W_ENV=''
        ;;
    check) ;;
    esac
}

wl_gcc() {
    case $1 in
    prep)
        GCC=$(find_prog gcc) || { skip='gcc not installed'; return 1; }
        if ! SIZE=$(find_prog size) || ! NM=$(find_prog nm); then
            skip='size or nm (binutils) not installed'
            return 1
        fi
        # Functions with loops over arrays and lists, and a switch calling
        # eight others: work for the inliner and the loop optimisers.
        awk -v n="$(scaled 130)" 'BEGIN {
            print "#include <stddef.h>"
            print "struct node { struct node *next; long key; double w[4]; char tag[16]; };"
            print "extern long sink(long);"
            for (f = 0; f < n; f++) {
                printf "long f%d(struct node *p, const long *v, size_t n, long s)\n{\n", f
                printf "    long acc = %d;\n", f * 7 + 3
                printf "    for (size_t i = 0; i < n; i++) {\n"
                printf "        acc += v[i] * %d + (v[i] >> %d);\n", (f * 37) % 101 + 1, f % 13 + 1
                printf "        if (acc > %d) acc ^= (long)(i * %d);\n", (f * 7919) % 100000, f % 17 + 3
                printf "    }\n"
                printf "    for (; p; p = p->next) {\n"
                printf "        p->w[%d] = p->w[%d] * %d.5 + (double)p->key;\n", f % 4, (f + 1) % 4, f % 9
                printf "        p->tag[%d] = (char)(p->key + acc);\n", f % 16
                printf "        acc += p->key %% %d;\n", f % 23 + 2
                printf "    }\n"
                printf "    switch (s & 7) {\n"
                for (c = 0; c < 8; c++)
                    printf "    case %d: acc = acc * %d + f%d(p, v, n / 2, s >> 1); break;\n",
                        c, c + f % 5 + 2, (f > 0 ? (f * 13 + c) % f : 0)
                printf "    }\n"
                printf "    return sink(acc + s);\n}\n\n"
            }
        }' >big.c
        ;;
    run)
        rm -f big.o
        W_CMD=("$GCC" -O2 -c big.c -o big.o)
        W_ENV=''
        ;;
    check)
        # Not the object's bytes: they are compared through what matters.
        "$SIZE" big.o && "$NM" big.o | sha256sum
        ;;
    esac
}

wl_xz() {
    case $1 in
    prep)
        XZ=$(find_prog xz) || { skip='xz not installed'; return 1; }
        # Log lines from a 32-bit LCG (exact in double arithmetic, so every
        # awk writes the same file): about 3:1 for xz.
        awk -v size="$(scaled 33554432)" '
            function rnd(m) { x = (x * 69069 + 1) % 4294967296; return int(x / 256) % m }
            BEGIN {
                x = 12345
                split("GET POST PUT DELETE HEAD", verb, " ")
                split("api users orders items search static img css js v1 v2 admin login cart", seg, " ")
                split("200 200 200 200 304 404 500 301", st, " ")
                split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu", host, " ")
                while (bytes < size) {
                    t += rnd(3)
                    line = sprintf("2026-01-%02d %02d:%02d:%02d %s-%d %s /%s/%s/%d?id=%d %s %d %dms ua=%x",
                        int(t / 86400) % 28 + 1, int(t / 3600) % 24, int(t / 60) % 60, t % 60,
                        host[rnd(12) + 1], rnd(40), verb[rnd(5) + 1], seg[rnd(14) + 1],
                        seg[rnd(14) + 1], rnd(5000), rnd(1000000), st[rnd(8) + 1],
                        rnd(65536), rnd(900) + 1, rnd(16777216))
                    print line
                    bytes += length(line) + 1
                }
            }' >in.log
        ;;
    run)
        rm -f in.log.xz out.log
        # shellcheck disable=SC2016  # expanded by sh
        W_CMD=(/bin/sh -c '"$1" -T2 -1 -c in.log >in.log.xz && "$1" -T2 -d -c in.log.xz >out.log' sh "$XZ")
        W_ENV=''
        ;;
    check)
        sha256sum in.log.xz out.log
        cmp in.log out.log >&2 || { echo 'the round trip changed the file' >&2; return 1; }
        ;;
    esac
}

declare -A skipped
ready=()
for w in "${workloads[@]}"; do
    skip=''
    bench_note "preparing the $w workload"
    if "wl_$w" prep; then
        ready+=("$w")
    else
        skipped[$w]=$skip
        bench_note "skipping $w: $skip"
    fi
done
[ ${#ready[@]} -gt 0 ] || bench_die "no workload to run"

# one_run WORKLOAD ALLOCATOR: runs it once, checks its output; sets
# RUN_STATUS (0: good) and, when not, WHY.
one_run() {
    local w=$1 a=$2
    WHY=''
    "wl_$w" run
    BENCH_PRELOAD=${preload[$a]:-} BENCH_ENV="${envset[$a]:-} $W_ENV"
    bench_run "$a" "$work/run" "${W_CMD[@]}"
    if [ "$RUN_STATUS" -ne 0 ]; then
        WHY=$(bench_failure "$RUN_STATUS" "$work/run.err")
        return
    fi
    if ! "wl_$w" check >>"$work/run.out" 2>>"$work/run.err"; then
        RUN_STATUS=1
        WHY="wrong result: $(tail -n 1 "$work/run.err")"
        return
    fi
    if [ -f "$work/ref.$w" ] && ! cmp -s "$work/ref.$w" "$work/run.out"; then
        RUN_STATUS=1
        WHY="output differs from glibc's: $({ diff "$work/ref.$w" "$work/run.out" || true; } | grep -m 1 '^>' || echo '(missing lines)')"
    fi
}

declare -A secs rss failed
# An untimed run on glibc gives the reference output (the timed rounds
# run in shuffled orders).
for w in "${ready[@]}"; do
    printf 'reference run of %s on glibc ... ' "$w" >&2
    one_run "$w" glibc
    if [ "$RUN_STATUS" -ne 0 ]; then
        echo "FAILED: $WHY" >&2
        for a in "${names[@]}"; do failed[$w,$a]="no reference (glibc: $WHY)"; done
    else
        cp "$work/run.out" "$work/ref.$w"
        echo "ok" >&2
    fi
done

total=$((runs * ${#ready[@]} * ${#names[@]}))
n=0
for ((k = 1; k <= runs; k++)); do
    mapfile -t order < <(bench_shuffle "$k" "${names[@]}")
    for w in "${ready[@]}"; do
        for a in "${order[@]}"; do
            n=$((n + 1))
            printf '[%d/%d] %s, %s: run %d of %d ... ' "$n" "$total" "$w" "$a" "$k" "$runs" >&2
            if [ -n "${failed[$w,$a]:-}" ]; then
                echo "skipped (failed before)" >&2
                continue
            fi
            one_run "$w" "$a"
            if [ "$RUN_STATUS" -ne 0 ]; then
                failed[$w,$a]=$WHY
                echo "FAILED: $WHY" >&2
                continue
            fi
            secs[$w,$a]="${secs[$w,$a]:-} $RUN_WALL"
            rss[$w,$a]="${rss[$w,$a]:-} ${RUN_MAXRSS:-n/a}"
            if [ -n "${RUN_MAXRSS:-}" ]; then
                awk -v s="$RUN_WALL" -v r="$RUN_MAXRSS" 'BEGIN { printf "%.2f s, %.1f MiB\n", s, r / 1024 }' >&2
            else
                printf '%.2f s\n' "$RUN_WALL" >&2
            fi
        done
    done
done

# median VALUES...: the median, or n/a.
median() {
    case " $* " in *' n/a '*) echo n/a; return ;; esac
    printf '%s\n' "$@" | sort -g |
        awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

header() {
    local a
    printf '\n| %s |' "$1"
    for a in "${names[@]}"; do printf ' %s |' "$a"; done
    printf '\n|---|'
    for _ in "${names[@]}"; do printf -- '---:|'; done
    printf '\n'
}

printf '\nprograms.sh: wall seconds'
[ "$runs" -gt 1 ] && printf ', median of %d runs' "$runs"
if [ -n "$vs" ]; then
    printf ' (in brackets: the ratio to %s, >1 = slower)\n' "$vs"
else
    printf ' (in brackets: the ratio to the fastest peer in the row, hakmem* excepted; >1 = slower)\n'
fi
header workload
declare -A med
for w in "${ready[@]}"; do
    base=''
    for a in "${names[@]}"; do
        [ -n "${failed[$w,$a]:-}" ] && continue
        # shellcheck disable=SC2086  # one value per run
        med[$w,$a]=$(median ${secs[$w,$a]})
        if [ -n "$vs" ]; then
            [ "$a" = "$vs" ] && base=${med[$w,$a]}
        elif [[ $a != hakmem* ]]; then
            if [ -z "$base" ] || awk -v x="${med[$w,$a]}" -v y="$base" 'BEGIN { exit !(x < y) }'; then
                base=${med[$w,$a]}
            fi
        fi
    done
    printf '| %s |' "$w"
    for a in "${names[@]}"; do
        if [ -n "${failed[$w,$a]:-}" ]; then
            printf ' FAILED |'
        elif [ -n "$base" ]; then
            awk -v m="${med[$w,$a]}" -v b="$base" 'BEGIN { printf " %.2f (%.2fx) |", m, m / b }'
        else
            awk -v m="${med[$w,$a]}" 'BEGIN { printf " %.2f |", m }'
        fi
    done
    printf '\n'
done

printf '\nPeak RSS, MiB:\n'
header workload
for w in "${ready[@]}"; do
    printf '| %s |' "$w"
    for a in "${names[@]}"; do
        if [ -n "${failed[$w,$a]:-}" ]; then
            printf ' FAILED |'
        else
            # shellcheck disable=SC2086  # one value per run
            m=$(median ${rss[$w,$a]})
            if [ "$m" = n/a ]; then
                printf ' n/a |'
            else
                awk -v m="$m" 'BEGIN { printf " %.1f |", m / 1024 }'
            fi
        fi
    done
    printf '\n'
done

status=0
printf '\n'
for w in "${workloads[@]}"; do
    [ -n "${skipped[$w]:-}" ] && printf -- '- %s: skipped, %s\n' "$w" "${skipped[$w]}"
done
for w in "${ready[@]}"; do
    for a in "${names[@]}"; do
        if [ -n "${failed[$w,$a]:-}" ]; then
            status=1
            printf -- '- FAILED: %s under %s: %s\n' "$w" "$a" "${failed[$w,$a]}"
        fi
    done
done
exit "$status"
