#!/bin/sh
# Replays the inputs in tests/fuzz/known-bugs, which make the fuzz harness
# find a bug that is not fixed yet, with the harness's sidestep for it
# turned off.  Listed in XFAIL_TESTS: it is expected to fail until the
# bug is fixed; then it passes, automake reports XPASS (a failure), and
# the input belongs in tests/fuzz/seeds, the sidestep in fuzz_api.c goes
# and this test with it.
ulimit -c 0
FUZZ_KNOWN_BUGS=1 "${top_builddir:-.}/tests/fuzz/replay" "${top_srcdir:-.}/tests/fuzz/known-bugs"
