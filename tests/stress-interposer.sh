#!/bin/sh
# The stress test (tests/stress.c) in a short setting through malloc and
# friends: tests/stress-libc (not linked with hakmem) under
# LD_PRELOAD=$HAK_PRELOAD, which must report that its malloc comes from
# the interposer.
#
# STRESS_ARGS="threads scale rounds" changes the setting (default "8 1 8").
#
# It found a leak that the hak_* run cannot show: under the interposer the
# main thread also allocates (glibc's own allocations), so it adopted the
# orphaned spans it freed blocks into and then never drained them; RSS
# grew round after round.

builddir=${top_builddir:-.}

. "${top_srcdir:-.}/tests/preload.sh"
skip_unless_preloadable "stress under the interposer"
: "${HAK_PRELOAD:=${HAK_TEST_PRELOAD:-$(cd "$builddir" && pwd)/lib/.libs/libhakmem-malloc.so}}"
if [ ! -f "$HAK_PRELOAD" ]; then
    echo "FAIL: interposer not built: $HAK_PRELOAD"
    exit 1
fi
unset HAKMEM_STATS LD_PRELOAD
# shellcheck disable=SC2086
out=$(LD_PRELOAD=$HAK_PRELOAD "$builddir/tests/stress-libc" ${STRESS_ARGS:-8 1 8})
rc=$?
printf '%s\n' "$out"
case $(printf '%s\n' "$out" | head -1) in
*libhakmem-malloc*) ;;
*)
    echo "FAIL: under LD_PRELOAD, malloc does not come from the interposer"
    exit 1
    ;;
esac
exit $rc
