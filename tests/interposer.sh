#!/bin/sh
# The malloc interposer, black-box:
#  1. exported symbols: libhakmem.so exports only hak_* functions; the
#     interposer exports the standard allocation names (and hak_*), nothing
#     internal;
#  2. tests/test_interposer (a Check suite not linked with hakmem) run under
#     LD_PRELOAD=$HAK_PRELOAD, with SuperSlabs and with standalone slabs
#     (HAKMEM_TINY_USE_SUPERSLAB=0);
#  3. a few everyday programs start and exit cleanly under the interposer.
# Exit 0 pass, 1 fail, 77 skip.

builddir=${top_builddir:-.}

. "${top_srcdir:-.}/tests/preload.sh"
skip_unless_preloadable "the interposer's tests"
: "${HAK_PRELOAD:=${HAK_TEST_PRELOAD:-$(cd "$builddir" && pwd)/lib/.libs/libhakmem-malloc.so}}"
libhakmem=$builddir/lib/.libs/libhakmem.so
prog=$builddir/tests/test_interposer

if [ ! -f "$HAK_PRELOAD" ]; then
    echo "FAIL: interposer not built: $HAK_PRELOAD"
    exit 1
fi
case $HAK_PRELOAD in
/*) ;;
*) HAK_PRELOAD=$(cd "$(dirname "$HAK_PRELOAD")" && pwd)/$(basename "$HAK_PRELOAD") ;;
esac
unset HAKMEM_STATS

status=0
fail() {
    echo "FAIL: $*"
    status=1
}

# --- 1. exported symbols ---------------------------------------------------

# defined function symbols (T: text, W: weak, i: ifunc), version suffix cut
dyn_functions() {
    nm -D --defined-only "$1" | awk '$2 ~ /^[TWi]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u
}

if ! command -v nm >/dev/null 2>&1; then
    echo "SKIP: nm not installed, symbol checks skipped"
else
    if [ ! -f "$libhakmem" ]; then
        fail "libhakmem not built: $libhakmem"
    else
        syms=$(dyn_functions "$libhakmem")
        bad=$(printf '%s\n' "$syms" | grep -v '^hak_' | grep -v '^$')
        if [ -n "$bad" ]; then
            fail "libhakmem.so exports non-hak_ functions:" $bad
        else
            echo "ok: libhakmem.so exports only hak_* ($(printf '%s\n' "$syms" | grep -c .) functions)"
        fi
        for f in hak_malloc hak_free hak_calloc hak_realloc hak_reallocarray \
                 hak_aligned_alloc hak_posix_memalign hak_memalign \
                 hak_malloc_usable_size hak_alloc_at hak_free_at \
                 hak_stats_print hak_stats_get hak_trim hak_version; do
            printf '%s\n' "$syms" | grep -qx "$f" || fail "libhakmem.so does not export $f"
        done
    fi

    syms=$(dyn_functions "$HAK_PRELOAD")
    for f in malloc free calloc realloc reallocarray posix_memalign \
             aligned_alloc memalign valloc pvalloc malloc_usable_size \
             malloc_trim mallopt mallinfo mallinfo2 malloc_stats malloc_info \
             hak_malloc hak_free hak_stats_get hak_trim hak_version; do
        printf '%s\n' "$syms" | grep -qx "$f" || fail "interposer does not export $f"
    done
    # anything else must be a known allocation entry point, never an internal
    bad=$(printf '%s\n' "$syms" | grep -v '^$' | grep -v '^hak_' | grep -Ev \
        '^(malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|cfree|free_sized|free_aligned_sized|malloc_trim|mallopt|mallinfo2?|malloc_stats|malloc_info|__libc_(malloc|free|calloc|realloc|memalign|valloc|pvalloc)|__posix_memalign|_Zn[wa].*|_Zd[la].*)$')
    if [ -n "$bad" ]; then
        fail "interposer exports internal functions:" $bad
    else
        echo "ok: interposer exports the standard allocation API and hak_*"
    fi
fi

# --- 2. the Check suite under LD_PRELOAD -----------------------------------

if [ ! -x "$prog" ]; then
    echo "SKIP: $prog not built (configure found no Check)"
else
    echo "== test_interposer (SuperSlabs)"
    LD_PRELOAD=$HAK_PRELOAD "$prog" || fail "test_interposer"
    echo "== test_interposer (HAKMEM_TINY_USE_SUPERSLAB=0)"
    HAKMEM_TINY_USE_SUPERSLAB=0 LD_PRELOAD=$HAK_PRELOAD "$prog" ||
        fail "test_interposer with HAKMEM_TINY_USE_SUPERSLAB=0"
fi

if [ ! -x "$builddir/tests/test_cxx" ]; then
    echo "SKIP: $builddir/tests/test_cxx not built (configure found no Check)"
else
    echo "== test_cxx (the C++ operators)"
    LD_PRELOAD=$HAK_PRELOAD "$builddir/tests/test_cxx" || fail "test_cxx"
fi

# --- 3. everyday programs start and exit cleanly ---------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-interposer.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
smoke() {
    # $1 = description; the rest = command; stdout must equal a glibc run
    desc=$1
    shift
    "$@" >"$tmp/ref.out" 2>"$tmp/ref.err"
    ref=$?
    LD_PRELOAD=$HAK_PRELOAD "$@" >"$tmp/hak.out" 2>"$tmp/hak.err"
    got=$?
    if [ $got -ne $ref ]; then
        fail "$desc: exit status $got under hakmem, $ref without"
        sed 's/^/    /' "$tmp/hak.err" | head -5
    elif ! cmp -s "$tmp/ref.out" "$tmp/hak.out"; then
        fail "$desc: output differs under hakmem"
    elif grep -q 'hakmem:' "$tmp/hak.err"; then
        fail "$desc: hakmem diagnostic:"
        grep 'hakmem:' "$tmp/hak.err" | head -5 | sed 's/^/    /'
    else
        echo "ok: $desc"
    fi
}
smoke "sh -c" sh -c 'x=; for i in 1 2 3 4 5 6 7 8 9; do x="$x$i"; done; echo "$x"'
smoke "ls -la /usr/lib" ls -la --time-style=+ /usr/lib
smoke "sort | uniq -c" sh -c 'seq 1 50000 | sed "s/\(.\).*/\1/" | sort | uniq -c'
smoke "awk" awk 'BEGIN { for (i = 0; i < 100000; i++) a[i % 977] = a[i % 977] "x"; n = 0; for (k in a) n += length(a[k]); print n }'
smoke "find | sort" sh -c 'find /usr/include -name "*.h" | sort | tail -3'

exit $status
