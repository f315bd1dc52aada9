#!/bin/bash
# Runs the whole test suite in six builds: the default one (SuperSlabs),
# one configured with --disable-superslab, one with internal assertions
# and the debug counters on, and one per sanitizer (thread, undefined,
# address); then prints the totals on one line, "N passed, N failed", and
# fails if anything failed.  SANITIZERS="thread" (or "") runs fewer
# sanitizer builds.
# Run from the top of a source tree; builds the tree if needed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${JOBS:-2}
passed=0
failed=0

count() {   # $1: directory holding test-suite.log
    local log="$1/test-suite.log" p f
    if [ ! -f "$log" ]; then
        failed=$((failed + 1))
        echo "check-all: no test-suite.log in $1" >&2
        return
    fi
    p=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
    f=$(sed -n 's/^# \(FAIL\|ERROR\|XPASS\): *//p' "$log" | awk '{s += $1} END {print s + 0}')
    passed=$((passed + ${p:-0}))
    failed=$((failed + f))
    # automake's log holds the output of each failed test: show it, so a
    # failure in CI can be understood from CI's output alone
    if [ "$f" -gt 0 ]; then
        echo "check-all: $log (failed tests' output, last 150 lines):"
        tail -n 150 "$log"
    fi
}

run_build() {   # $1: build dir, rest: configure args
    local dir=$1; shift
    echo "=== make check in ${dir} ($*)"
    if ! (cd "$dir" && { [ -f Makefile ] || ./configure -q "$@"; } && make -s -j"$jobs" >/dev/null); then
        echo "check-all: build failed in $dir" >&2
        failed=$((failed + 1))
        return
    fi
    (cd "$dir" && make -s -j"$jobs" check) || true
    count "$dir"
}

[ -x configure ] || autoreconf -fi
run_build .
# The other configurations build from distribution trees, which also
# proves the tarball is complete (the source tree itself is configured).
variant() {   # $1: build dir, rest: configure args
    rm -rf "$1"
    make -s distdir distdir="$1" >/dev/null
    run_build "$@"
}
variant build-nosuperslab --disable-superslab
variant build-debug --enable-debug --enable-debug-counters
# The sanitizer builds run the whole suite: what cannot run under one skips
# and says why (the interposer's tests under address and thread, whose
# runtimes replace malloc; the fork tests under thread, and test_fork under
# address).  Their `make check` took here, on 2 shared cores: thread 3.5
# to 5 min, undefined 7 min (of which programs.sh 5.5), address 1 to 3 min;
# each build about 1.5 min more.
for san in ${SANITIZERS-thread undefined address}; do
    variant "build-$san" --enable-sanitizer="$san"
done
# The libFuzzer harness, once, in the default build: one more test.
if command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
    echo "=== make fuzz (${FUZZ_SECONDS:-60} s)"
    if make -s fuzz FUZZ_CC="${FUZZ_CC:-clang}" FUZZ_SECONDS="${FUZZ_SECONDS:-60}" >fuzz.log 2>&1; then
        passed=$((passed + 1))
        grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)' fuzz.log
    else
        failed=$((failed + 1))
        echo "check-all: make fuzz failed (fuzz.log):" >&2
        grep -v '^#' fuzz.log | tail -20 >&2
    fi
else
    echo "check-all: ${FUZZ_CC:-clang} not installed, fuzzing skipped" >&2
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
