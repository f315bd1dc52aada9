#!/usr/bin/env bash
# memreturn.sh — freed memory goes back to the kernel while the program
# keeps running (idle): a burst of large blocks, then one of small blocks,
# is written and freed under the interposer, and resident memory must fall
# back to within a tenth of the burst above where it started within the
# decay time (here 300 ms) plus slack.  The bursts are big enough that
# BigCache (64 MiB) and the SuperSlab cache alone would break the bound:
# the decay has to happen.  bench/memreturn reads /proc/self/statm.
# SuperSlabs are forced on: standalone slabs (--disable-superslab) are
# unmapped as soon as they are empty, with no decay to test.
set -euo pipefail

. "${top_srcdir:-.}/tests/preload.sh"
skip_unless_preloadable "memreturn (bench/memreturn under the interposer)"

prog=${BENCH_BINDIR:-bench}/memreturn
lib=${HAK_TEST_PRELOAD:-lib/.libs/libhakmem-malloc.so}
[ -x "$prog" ] || { echo "memreturn.sh: $prog not built" >&2; exit 99; }
[ -f "$lib" ] || { echo "memreturn.sh: $lib not built" >&2; exit 99; }

export HAKMEM_TINY_USE_SUPERSLAB=1
status=0
for run in 'large 256' 'small 128'; do
    # shellcheck disable=SC2086
    if ! HAKMEM_DECAY_MS=300 LD_PRELOAD=$lib "$prog" --check 1500 --wait 1500 $run; then
        echo "memreturn.sh: FAIL: $run" >&2
        status=1
    fi
    # Without the decay thread, nothing gives the memory back to an idle
    # program: the same check must fail (or the test proves nothing).
    # shellcheck disable=SC2086
    if HAKMEM_DECAY_MS=300 HAKMEM_DECAY_THREAD=0 LD_PRELOAD=$lib "$prog" --check 1500 --wait 1500 $run \
        >/dev/null 2>&1; then
        echo "memreturn.sh: FAIL: $run came back without the decay thread; the check is too weak" >&2
        status=1
    fi
done
exit $status
