#!/bin/bash
# Runs the whole test suite twice: in the default build (SuperSlabs) and in
# a second build configured with --disable-superslab, then prints the
# totals on one line, "N passed, N failed", and fails if anything failed.
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
# The second configuration builds from a distribution tree, which also
# proves the tarball is complete (the source tree itself is configured).
rm -rf build-nosuperslab
make -s distdir distdir=build-nosuperslab >/dev/null
run_build build-nosuperslab --disable-superslab
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
