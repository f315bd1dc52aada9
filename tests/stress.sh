#!/bin/sh
# The stress test (tests/stress.c) in a short setting through the hak_*
# API.  tests/stress-interposer.sh runs the same through malloc under the
# interposer.
#
# STRESS_ARGS="threads scale rounds" changes the setting (default "8 1 8");
# the long setting documented in the README is "8 40 40".
unset HAKMEM_STATS LD_PRELOAD
# shellcheck disable=SC2086
exec "${top_builddir:-.}/tests/stress" ${STRESS_ARGS:-8 1 8}
