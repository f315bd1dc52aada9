#!/bin/sh
# The statistics report counts what a program holds: tests/leak leaks a
# known number of blocks (freed locally, remotely and not at all, from
# several threads), and the report's "in use" for that class and for the
# tiny layer must exceed the same program's without the leak by exactly
# that number.  Then a threaded Python program under the interposer must
# print the per-class and per-layer sections with non-zero figures.
# Exit 0 pass, 1 fail, 77 skip, 99 hard error.

. "${top_srcdir:-.}/tests/preload.sh"
skip_unless_preloadable "the statistics of programs under the interposer"

build=${top_builddir:-.}
lib=${HAK_TEST_PRELOAD:-$build/lib/.libs/libhakmem-malloc.so}
prog=$build/tests/leak
[ -x "$prog" ] || { echo "leak.sh: $prog not built"; exit 99; }
[ -f "$lib" ] || { echo "leak.sh: $lib not built"; exit 99; }
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")   # for children in other directories
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-leak.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
status=0
fail() {
    echo "FAIL: $*"
    status=1
}
for v in $(env | sed -n 's/^\(HAKMEM_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done

figure() {   # $1 report, $2 label: the number after it ("tiny in use  12",
             # "peak RSS bytes  7884800 (7.5 MiB)")
    sed -n "s/^  $2  *\([0-9][0-9]*\)\( (.*)\)\{0,1\}\$/\1/p" "$1" | head -1
}
class_in_use() {   # $1 report, $2 class size: the class line's third figure
    sed -n "s/^  class $2: [0-9]*, [0-9]*, \([0-9]*\),.*/\1/p" "$1" | head -1
}

threads=4 blocks=1000 size=48
leaked=$((threads * blocks / 2))
HAKMEM_STATS=1 HAKMEM_STATS_FILE="$tmp/base" LD_PRELOAD=$lib "$prog" $threads 0 $size ||
    fail "leak $threads 0 $size failed"
HAKMEM_STATS=1 HAKMEM_STATS_FILE="$tmp/leak" LD_PRELOAD=$lib "$prog" $threads $blocks $size ||
    fail "leak $threads $blocks $size failed"
for f in base leak; do
    [ -s "$tmp/$f" ] || { fail "no statistics report in $f"; exit 1; }
done
b=$(class_in_use "$tmp/base" $size) l=$(class_in_use "$tmp/leak" $size)
[ -n "$l" ] || fail "no line for class $size in the report: $(cat "$tmp/leak")"
[ $(( ${l:-0} - ${b:-0} )) -eq $leaked ] ||
    fail "class $size in use: ${b:-none} without the leak, ${l:-none} with it; expected $leaked more"
b=$(figure "$tmp/base" "tiny in use") l=$(figure "$tmp/leak" "tiny in use")
[ $(( ${l:-0} - ${b:-0} )) -eq $leaked ] ||
    fail "tiny in use: ${b:-none} without the leak, ${l:-none} with it; expected $leaked more"
r=$(figure "$tmp/leak" "remote frees")
[ "${r:-0}" -ge $((threads * blocks / 2)) ] ||
    fail "remote frees: ${r:-none}, expected at least $((threads * blocks / 2))"
[ $status -eq 0 ] && echo "ok: $leaked leaked blocks of $size B counted in use (class and tiny layer), ${r} remote frees"

# A threaded Python program, its objects through malloc (PYTHONMALLOC)
py=$(command -v python3 || true)
if [ -z "$py" ]; then
    echo "python3 not installed: the Python part is skipped"
    exit $status
fi
HAKMEM_STATS=1 HAKMEM_STATS_FILE="$tmp/py.%p" PYTHONMALLOC=malloc LD_PRELOAD=$lib "$py" -c '
import threading
def work(n):
    d = {}
    for i in range(20000):
        d[i] = [str(i) * (i % 7), bytes(i % 3000)]
    return len(d)
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
' || fail "python3 under the interposer failed"
# The launcher of python3 may be a script running other programs: the
# report of the process that did the work is the one with most allocations.
best= most=0
for f in "$tmp"/py.*; do
    [ -f "$f" ] || continue
    a=$(figure "$f" "tiny allocations")
    if [ "${a:-0}" -gt "$most" ]; then most=$a best=$f; fi
done
[ -n "$best" ] || { fail "no statistics report from python3"; exit 1; }
grep -q "^size classes" "$best" || fail "python3's report has no size-classes section"
for label in "tiny allocations" "tiny frees" "tiny in use" "mid allocations" "mid frees" "remote frees" \
             "page faults" "peak RSS bytes"; do
    v=$(figure "$best" "$label")
    [ "${v:-0}" -gt 0 ] || fail "python3's report: \"$label\" is ${v:-missing}"
done
[ "$most" -ge 80000 ] || fail "python3's report: $most tiny allocations for 80000 objects"
[ $status -eq 0 ] && echo "ok: threaded python3: $most tiny allocations, $(figure "$best" "remote frees") remote frees"
exit $status
