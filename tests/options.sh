#!/bin/sh
# HAKMEM_* options seen from outside, through the launcher: boolean words,
# HAKMEM_VERBOSE's listing (every option in lib/options.c's table, the
# build configuration of config.h), a bad value warned about once while
# the program runs on, and HAKMEM_STATS_FILE (%p, append, fallback to
# stderr).  Programs used: true and echo, which barely allocate or not at
# all, so the options must be read when the library loads.
# Exit 0 pass, 1 fail, 99 hard error.

. "${top_srcdir:-.}/tests/preload.sh"
skip_unless_preloadable "options through the launcher"

src=${top_srcdir:-.}
build=${top_builddir:-.}
run="$build/hakmem"
[ -x "$run" ] || { echo "options.sh: $run not built"; exit 99; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-options.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
status=0
fail() {
    echo "FAIL: $*"
    status=1
}
# Only the variables a case sets.
for v in $(env | sed -n 's/^\(HAKMEM_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done

names=$(sed -n 's/^ *{ *"\(HAKMEM_[A-Z0-9_]*\)", *OPT_.*/\1/p' "$src/lib/options.c")
[ -n "$names" ] || { echo "options.sh: no options found in $src/lib/options.c"; exit 99; }

# --- HAKMEM_VERBOSE: every option, and the build as configure set it
HAKMEM_VERBOSE=1 "$run" true 2> "$tmp/verbose" || fail "HAKMEM_VERBOSE=1 hakmem true failed"
for name in $names; do
    grep -q "^  $name=" "$tmp/verbose" || fail "HAKMEM_VERBOSE=1 does not list $name"
done
onoff() { [ "$(sed -n "s/^#define $1 //p" "$build/config.h")" = 1 ] && echo on || echo off; }
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$build/config.h")
build_line="hakmem $version, built with: superslab (default) $(onoff HAKMEM_SUPERSLAB), debug $(onoff HAKMEM_DEBUG), debug counters $(onoff HAKMEM_DEBUG_COUNTERS)"
grep -qxF "$build_line" "$tmp/verbose" || fail "HAKMEM_VERBOSE=1 does not say '$build_line':
$(cat "$tmp/verbose")"
grep -q '^hakmem:' "$tmp/verbose" && fail "HAKMEM_VERBOSE=1 with good options warned: $(grep '^hakmem:' "$tmp/verbose")"
[ -z "$("$run" true 2>&1)" ] || fail "hakmem true without options wrote something"

# Values as given, sizes the way they are typed, booleans in every spelling.
HAKMEM_VERBOSE=on HAKMEM_SS_CACHE=7 HAKMEM_BIGCACHE_MAX=1024M HAKMEM_STATS_FILE="$tmp/x.%p" \
    "$run" true 2> "$tmp/values"
for want in HAKMEM_SS_CACHE=7 HAKMEM_BIGCACHE_MAX=1G "HAKMEM_STATS_FILE=$tmp/x.%p" HAKMEM_VERBOSE=1; do
    grep -q "^  $want  #" "$tmp/values" || fail "HAKMEM_VERBOSE=1 does not show $want"
done
for pair in 1:1 0:0 yes:1 no:0 on:1 off:0 true:1 false:0 YES:1 No:0 ON:1 oFF:0 True:1 FALSE:0; do
    word=${pair%:*} want=${pair#*:}
    out=$(HAKMEM_VERBOSE=1 HAKMEM_MADV_FREE=$word "$run" true 2>&1)
    printf '%s\n' "$out" | grep -q "^  HAKMEM_MADV_FREE=$want  #" ||
        fail "HAKMEM_MADV_FREE=$word is not $want: $(printf '%s\n' "$out" | grep -e MADV_FREE -e '^hakmem:')"
done

# --- a bad value: one warning, the default, and the program runs
out=$(HAKMEM_TINY_USE_SUPERSLAB=banana "$run" /bin/echo ok 2> "$tmp/err")
[ "$out" = ok ] || fail "HAKMEM_TINY_USE_SUPERSLAB=banana: echo printed '$out'"
expected="hakmem: HAKMEM_TINY_USE_SUPERSLAB=banana is not valid (0/1, no/yes, off/on, false/true); using the default"
[ "$(cat "$tmp/err")" = "$expected" ] || fail "HAKMEM_TINY_USE_SUPERSLAB=banana: stderr is not one warning:
$(cat "$tmp/err")"
HAKMEM_VERBOSE=1 HAKMEM_TINY_USE_SUPERSLAB=banana "$run" true 2>&1 |
    grep -q "^  HAKMEM_TINY_USE_SUPERSLAB=$([ "$(onoff HAKMEM_SUPERSLAB)" = on ] && echo 1 || echo 0)  #" ||
    fail "HAKMEM_TINY_USE_SUPERSLAB=banana does not keep the default"
[ "$(HAKMEM_NO_SUCH_OPTION=1 "$run" true 2>&1)" = "hakmem: unknown option HAKMEM_NO_SUCH_OPTION ignored" ] ||
    fail "an unknown HAKMEM_ name is not reported once"

# --- HAKMEM_STATS_FILE: %p is the pid of the process that reports
header="hakmem $version statistics"
HAKMEM_STATS=1 HAKMEM_STATS_FILE="$tmp/stats.%p" "$run" sh -c 'echo $$ > "$0"; exec true' "$tmp/pid" \
    2> "$tmp/err" || fail "HAKMEM_STATS_FILE: the program failed"
pid=$(cat "$tmp/pid")
if [ -f "$tmp/stats.$pid" ]; then
    [ "$(grep -cxF "$header" "$tmp/stats.$pid")" = 1 ] || fail "stats.$pid does not hold one report"
    grep -q '^  HAKMEM_STATS_FILE=.*/stats\.%p  #' "$tmp/stats.$pid" || fail "stats.$pid does not list its options"
else
    fail "HAKMEM_STATS_FILE=stats.%p: no stats.$pid ($(cd "$tmp" && echo stats.*))"
fi
grep -qF "$header" "$tmp/err" && fail "HAKMEM_STATS_FILE set, but the report went to stderr too"
# Several processes, one file each, none interleaved.
rm -f "$tmp"/stats.*
HAKMEM_STATS=1 HAKMEM_STATS_FILE="$tmp/stats.%p" "$run" sh -c '/bin/true & /bin/true & /bin/true; wait'
files=$(cd "$tmp" && ls stats.* 2>/dev/null | wc -l)
[ "$files" -ge 3 ] || fail "three processes under HAKMEM_STATS_FILE=stats.%p made $files files"
for f in "$tmp"/stats.*; do
    [ "$(grep -cxF "$header" "$f")" = 1 ] || fail "$(basename "$f") holds $(grep -cxF "$header" "$f") reports"
done
# Without %p, reports are appended, not overwritten.
for i in 1 2; do HAKMEM_STATS=yes HAKMEM_STATS_FILE="$tmp/one" "$run" true; done
[ "$(grep -cxF "$header" "$tmp/one")" = 2 ] || fail "two runs into one HAKMEM_STATS_FILE left $(grep -cxF "$header" "$tmp/one") reports"
# Cannot open: one warning, and the report on stderr.
HAKMEM_STATS=1 HAKMEM_STATS_FILE="$tmp/no/such/dir" "$run" true 2> "$tmp/err"
[ "$(grep -c '^hakmem:' "$tmp/err")" = 1 ] &&
    grep -qxF "hakmem: cannot open HAKMEM_STATS_FILE=$tmp/no/such/dir; the report goes to stderr" "$tmp/err" ||
    fail "unopenable HAKMEM_STATS_FILE: not one warning: $(grep '^hakmem:' "$tmp/err")"
grep -qxF "$header" "$tmp/err" || fail "unopenable HAKMEM_STATS_FILE: no report on stderr"
exit $status
