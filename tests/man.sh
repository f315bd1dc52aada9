#!/bin/sh
# The manual cannot drift from the code:
#  - hakmem(1), which `man hakmem` opens, shows the same ENVIRONMENT
#    section as hakmem(7), where it is written;
#  - that section names every option of lib/options.c's table (and every
#    other HAKMEM_* string in the sources), and every HAKMEM_ name the
#    pages mention is an option of the table;
#  - every message the library can print (through hak_fatal, hak_warn,
#    hak_warnf and the functions that pass a message on to them) is listed
#    in hakmem(7)'s DIAGNOSTICS, and every message listed there exists;
#  - the pages format without warnings (mandoc -Tlint, groff -ww, man),
#    with whichever of those is installed.
# Exit 0 pass, 1 fail.

src=${top_srcdir:-.}
build=${top_builddir:-.}
status=0
fail() {
    echo "FAIL: $*"
    status=1
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

section() {   # $1: man page source; prints its ENVIRONMENT section's body
    sed -n '/^\.SH ENVIRONMENT *$/,/^\.SH /p' "$1" | sed '1d;$d'
}

page1=$build/man/hakmem.1
page7=$src/man/hakmem.7
page3=$src/man/hakmem.3
[ -f "$page1" ] || { echo "FAIL: $page1 not built"; exit 1; }
env7=$(section "$page7")
[ -n "$env7" ] || fail "hakmem(7) has no ENVIRONMENT section"
if [ "$(section "$page1")" != "$env7" ]; then
    fail "ENVIRONMENT of hakmem(1) differs from hakmem(7) (make man/hakmem.1 again):"
    printf '%s\n' "$env7" > "$tmp/hakmem.7"
    section "$page1" > "$tmp/hakmem.1"
    (cd "$tmp" && diff -u hakmem.7 hakmem.1)
fi

# --- ENVIRONMENT: the option table against the pages, and back
# Every option name in a string in the sources, e.g. "HAKMEM_STATS", has
# an entry of its own.
names=$(cat "$src"/lib/*.c | grep -o '"HAKMEM_[A-Z0-9][A-Z0-9_]*"' | tr -d '"' | sort -u)
[ -n "$names" ] || fail "no HAKMEM_* option names found in $src/lib"
for name in $names; do
    printf '%s\n' "$env7" | grep -q "^\.BR $name " ||
        fail "$name is not described in hakmem(7)'s ENVIRONMENT"
done
# Every name the pages mention must be in the table.
table=$(sed -n 's/^ *{ *"\(HAKMEM_[A-Z0-9_]*\)", *OPT_.*/\1/p' "$src/lib/options.c" | sort -u)
[ -n "$table" ] || fail "no option table found in $src/lib/options.c"
for page in "$page7" "$page1" "$page3"; do
    for name in $(grep -o 'HAKMEM_[A-Z0-9][A-Z0-9_]*' "$page" | sort -u); do
        printf '%s\n' "$table" | grep -qx "$name" ||
            fail "$(basename "$page") documents $name, which is not an option of lib/options.c"
    done
done

# --- DIAGNOSTICS: the sources against the page, and back
# A message reaches the user as a literal passed to hak_fatal, hak_warn or
# hak_warnf (a format: each %s stands for a value), or to a function that
# passes its argument on to hak_fatal: $forwarders.  Any other call that
# prints a message held in a variable must be one of $indirect_ok, so that
# a new forwarder cannot slip by.  A literal followed by more than its
# arguments ("assertion failed: " #c) ends with a value.
forwarders='hak_usable_impl'
indirect_ok='hakmem.c:hak_fatal(what, p)
os.c:hak_warn(msg)'
(cd "$src/lib" && grep -o 'hak_\(fatal\|warn\|warnf\)([^"][^;]*' -- *.c *.h) |
    grep -v '(const char \*' | sed 's/ *$//' | sort > "$tmp/indirect"
printf '%s\n' "$indirect_ok" | sort | comm -23 "$tmp/indirect" - > "$tmp/unknown"
while IFS= read -r call; do
    fail "lib/$call prints a message held in a variable: add the function that passes it on to forwarders in tests/man.sh"
done < "$tmp/unknown"
{
    cat "$src"/lib/*.c "$src"/lib/*.h | grep -o 'hak_\(fatal\|warn\|warnf\)("[^"]*"[^,)]*' |
        sed 's/^hak_[a-z]*("//; s/" *[^ "].*$/"%s/; s/"//g'
    for f in $forwarders; do
        cat "$src"/lib/*.c "$src"/lib/*.h | grep -o "$f([^\"]*\"[^\"]*\"" | sed 's/^[^"]*"//; s/"$//'
    done
} | sort -u > "$tmp/messages"
[ -s "$tmp/messages" ] || fail "no diagnostic messages found in $src/lib"
# The messages hakmem(7) lists: the text of the .B/.BI lines in
# DIAGNOSTICS that start with "hakmem: ", without fonts and quotes, and
# without the " (ptr=...)" that hak_fatal adds.
sed -n '/^\.SH DIAGNOSTICS *$/,/^\.SH /p' "$page7" | awk '
    /^\.(B|BI|IB|BR|RB|I) / {
        line = substr($0, index($0, " ") + 1); out = ""
        while (length(line) > 0) {
            c = substr(line, 1, 1)
            if (c == "\"") {
                rest = substr(line, 2); q = index(rest, "\"")
                if (q == 0) q = length(rest) + 1
                out = out substr(rest, 1, q - 1); line = substr(rest, q + 1)
            } else if (c == " ") {
                line = substr(line, 2)
            } else {
                sp = index(line, " "); if (sp == 0) sp = length(line) + 1
                out = out substr(line, 1, sp - 1); line = substr(line, sp)
            }
        }
        gsub(/\\-/, "-", out); gsub(/\\&/, "", out); gsub(/\\f[BIRP]/, "", out)
        if (out ~ /^hakmem: /) { sub(/ \(ptr=\.\.\.\)$/, "", out); print out }
    }' > "$tmp/documented"
[ -s "$tmp/documented" ] || fail "hakmem(7) has no DIAGNOSTICS entries"
# Each message as an anchored extended regular expression.
sed 's/[][\.*^$(){}?+|/]/\\&/g; s/%s/.+/g; s/^/^hakmem: /; s/$/$/' "$tmp/messages" > "$tmp/regexes"
while IFS= read -r re; do
    grep -Eq -e "$re" "$tmp/documented" ||
        fail "hakmem(7) DIAGNOSTICS does not explain the message matching $re"
done < "$tmp/regexes"
while IFS= read -r d; do
    printf '%s\n' "$d" | grep -Eq -f "$tmp/regexes" ||
        fail "hakmem(7) DIAGNOSTICS lists \"$d\", which lib/ never prints"
done < "$tmp/documented"

# --- formatting
for page in "$page1" "$page7" "$page3"; do
    if command -v mandoc >/dev/null 2>&1; then
        out=$(mandoc -Tlint -W warning "$page" 2>&1)
        [ -z "$out" ] || fail "$(basename "$page"): $out"
    fi
    if command -v groff >/dev/null 2>&1; then
        out=$(groff -ww -z -man "$page" 2>&1)
        [ -z "$out" ] || fail "$(basename "$page"): $out"
    fi
    if command -v man >/dev/null 2>&1; then
        out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
        [ -z "$out" ] || fail "$(basename "$page"): $out"
    fi
done

exit $status
