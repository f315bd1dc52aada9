#!/usr/bin/env bash
# smoke.sh — the benchmarks' part of `make check`: runs every benchmark
# program once in a tiny configuration, on the system malloc and, when
# $HAK_TEST_PRELOAD names the built interposer, under hakmem (with and without
# SuperSlabs).  It fails when a program exits non-zero — which includes a
# fill pattern found damaged — and never looks at a timing.
set -euo pipefail

# Under --enable-sanitizer=address or thread the interposer cannot be
# preloaded: the sanitizer's runtime must come first and replaces malloc.
case ${HAK_TEST_SANITIZER:-} in
address|thread)
    echo "SKIP: the benchmark programs under the interposer under -fsanitize=$HAK_TEST_SANITIZER: the sanitizer's runtime must be loaded first and replaces malloc itself, so the interposer cannot be preloaded"
    exit 77
    ;;
esac

bindir=${BENCH_BINDIR:-bench}
for prog in larson scenarios random_mixed prodcons handoff thread_churn mstress exchange larson_sized \
    large_loop live_blocks elo_workloads; do
    if [ ! -x "$bindir/$prog" ]; then
        echo "smoke.sh: $bindir/$prog not built" >&2
        exit 99
    fi
done

variants=('glibc|')
if [ -n "${HAK_TEST_PRELOAD:-}" ] && [ -f "$HAK_TEST_PRELOAD" ]; then
    variants+=("hakmem|LD_PRELOAD=$HAK_TEST_PRELOAD"
        "hakmem-noss|LD_PRELOAD=$HAK_TEST_PRELOAD HAKMEM_TINY_USE_SUPERSLAB=0")
else
    echo "smoke.sh: HAK_TEST_PRELOAD not set or missing; running on the system malloc only"
fi

# Each line: program, arguments, and the text its report must contain.
cases='
larson|0.2 8 128 200 5 1 2|ops/s
larson|0.1 2048 32768 50 2 1 2|ops/s
larson|0.1 200000 600000 4 2 1 1|ops/s
random_mixed|--slots 256 --steps 20000|ops/s
random_mixed|--slots 64 --min 1 --max 70000 --steps 2000|ops/s
prodcons|--items 20000 --ring 16|ops/s
prodcons|--items 20000 --pairs 2 --min 1 --max 5000|ops/s
scenarios|--passes 2 --scale 0.02|scenario=MIXED phase=steady
handoff|--seconds 0.05 --batch 16 --max-batches 20|blocks/s
handoff|--seconds 0.05 --producers 1 --consumers 3 --size 1 --batch 1|blocks/s
thread_churn|--rounds 20 --threads 4 --slots 16|rounds/s
mstress|--rounds 3 --ops 2000|mstress: .* s (
exchange|--loops 50 --slots 256 --ops 64|ops/s
exchange|--threads 3 --loops 20 --ops 32 --cross 2 --min 1 --max 70000|ops/s
larson_sized|0.1 8 1000 200 5 1 2|ops/s
larson_sized|--seconds 0.05 --min 1 --max 5000 --chunks 50 --rounds 2 --threads 3|ops/s
large_loop|--size 4194304 --iters 20|ns/iter
large_loop|--size 33554433 --iters 4|ns/iter
live_blocks|--live 4 --replace 20 --min 1 --max 9|replaced
elo_workloads|mixed 1|workload=mixed
'

out=$(mktemp)
trap 'rm -f "$out"' EXIT
failures=0
for v in "${variants[@]}"; do
    name=${v%%|*}
    read -r -a envs <<<"${v#*|}"
    while IFS='|' read -r prog args expect; do
        [ -n "$prog" ] || continue
        read -r -a argv <<<"$args"
        status=0
        env -u LD_PRELOAD "${envs[@]}" "$bindir/$prog" "${argv[@]}" >"$out" 2>&1 || status=$?
        if [ "$status" -ne 0 ]; then
            echo "FAIL [$name] $prog $args: exit $status"
        elif grep -q 'cannot be preloaded' "$out"; then
            echo "FAIL [$name] $prog $args: the preload was not loaded"
            status=1
        elif ! grep -q -- "$expect" "$out"; then
            echo "FAIL [$name] $prog $args: no '$expect' in the output"
            status=1
        else
            echo "ok   [$name] $prog $args"
        fi
        if [ "$status" -ne 0 ]; then
            sed 's/^/    /' "$out"
            failures=$((failures + 1))
        fi
    done <<<"$cases"
done
[ "$failures" -eq 0 ] || { echo "smoke.sh: $failures failure(s)"; exit 1; }
