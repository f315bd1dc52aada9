#!/bin/sh
# hakmem(1), which `man hakmem` opens, must show the same ENVIRONMENT
# section as hakmem(7), where it is written; and that section must name
# every HAKMEM_* variable the library reads.  Both pages must format
# without warnings when man(1) is installed.
# Exit 0 pass, 1 fail.

src=${top_srcdir:-.}
build=${top_builddir:-.}
status=0
fail() {
    echo "FAIL: $*"
    status=1
}

section() {   # $1: man page source; prints its ENVIRONMENT section's body
    sed -n '/^\.SH ENVIRONMENT *$/,/^\.SH /p' "$1" | sed '1d;$d'
}

page1=$build/man/hakmem.1
page7=$src/man/hakmem.7
[ -f "$page1" ] || { echo "FAIL: $page1 not built"; exit 1; }
env7=$(section "$page7")
[ -n "$env7" ] || fail "hakmem(7) has no ENVIRONMENT section"
if [ "$(section "$page1")" != "$env7" ]; then
    fail "ENVIRONMENT of hakmem(1) differs from hakmem(7) (make man/hakmem.1 again):"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-man.XXXXXX") && {
        printf '%s\n' "$env7" > "$tmp/hakmem.7"
        section "$page1" > "$tmp/hakmem.1"
        (cd "$tmp" && diff -u hakmem.7 hakmem.1)
        rm -rf "$tmp"
    }
fi

# Every option name in a string in the sources, e.g. "HAKMEM_STATS".
names=$(cat "$src"/lib/*.c | grep -o '"HAKMEM_[A-Z0-9][A-Z0-9_]*"' | tr -d '"' | sort -u)
[ -n "$names" ] || fail "no HAKMEM_* option names found in $src/lib"
for name in $names; do
    printf '%s\n' "$env7" | grep -q "$name" || fail "$name is not described in hakmem(7)'s ENVIRONMENT"
done

if command -v man >/dev/null 2>&1; then
    for page in "$page1" "$page7" "$src/man/hakmem.3"; do
        warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
        [ -z "$warnings" ] || fail "$(basename "$page"): $warnings"
    done
fi

exit $status
