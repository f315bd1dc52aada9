#!/bin/sh
# Real programs under the interposer (python3, sqlite3, perl, gcc, git;
# then multi-threaded and larger ones: xz -T2 and zstd -T2 round trips of
# ~24 MB, sort --parallel=2, git clone/log/gc of the repository around the
# source tree, a threaded Python program, make -j2): each workload runs twice in the same
# scratch directory, once on glibc's malloc and once with
# LD_PRELOAD=$HAK_PRELOAD; stdout and the exit status must be identical
# and the hakmem run must print no "hakmem:" diagnostic.  A program that is
# not installed is skipped with a message; the test is skipped (77) only if
# every program was.

builddir=${top_builddir:-.}

. "${top_srcdir:-.}/tests/preload.sh"
skip_unless_preloadable "real programs under the interposer"
: "${HAK_PRELOAD:=${HAK_TEST_PRELOAD:-$(cd "$builddir" && pwd)/lib/.libs/libhakmem-malloc.so}}"
if [ ! -f "$HAK_PRELOAD" ]; then
    echo "FAIL: interposer not built: $HAK_PRELOAD"
    exit 1
fi
case $HAK_PRELOAD in
/*) ;;
*) HAK_PRELOAD=$(cd "$(dirname "$HAK_PRELOAD")" && pwd)/$(basename "$HAK_PRELOAD") ;;
esac
unset HAKMEM_STATS LD_PRELOAD
LC_ALL=C
export LC_ALL

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-programs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
work=$tmp/work

if command -v timeout >/dev/null 2>&1; then
    limit="timeout 120"
else
    limit=
fi

ran=0
skipped=0
status=0

# the comparison means nothing unless the preload really takes effect
if ! LD_PRELOAD=$HAK_PRELOAD cat /proc/self/maps | grep -qF "$HAK_PRELOAD"; then
    echo "FAIL: LD_PRELOAD=$HAK_PRELOAD does not load the interposer"
    exit 1
fi

# compare NAME FUNCTION: runs FUNCTION (a workload writing its results to
# stdout, with $work as the current directory) without and with hakmem.
compare() {
    name=$1
    fn=$2
    for mode in ref hak; do
        rm -rf "$work"
        mkdir "$work" || exit 1
        start=$(date +%s)
        (
            cd "$work" || exit 1
            if [ $mode = hak ]; then
                LD_PRELOAD=$HAK_PRELOAD
                export LD_PRELOAD
            fi
            $fn
        ) >"$tmp/$name.$mode.out" 2>"$tmp/$name.$mode.err"
        echo $? >"$tmp/$name.$mode.rc"
        end=$(date +%s)
        eval "t_$mode=\$((end - start))"
    done
    rm -rf "$work"
    ran=$((ran + 1))
    ref_rc=$(cat "$tmp/$name.ref.rc")
    hak_rc=$(cat "$tmp/$name.hak.rc")
    ok=1
    if [ "$ref_rc" != 0 ]; then
        echo "FAIL: $name: the workload fails even without hakmem (exit $ref_rc):"
        sed 's/^/    /' "$tmp/$name.ref.err" | tail -10
        ok=0
    fi
    if [ "$hak_rc" != "$ref_rc" ]; then
        echo "FAIL: $name: exit status $hak_rc under hakmem, $ref_rc without"
        sed 's/^/    /' "$tmp/$name.hak.err" | tail -10
        ok=0
    fi
    if ! cmp -s "$tmp/$name.ref.out" "$tmp/$name.hak.out"; then
        echo "FAIL: $name: output under hakmem differs from glibc's:"
        diff "$tmp/$name.ref.out" "$tmp/$name.hak.out" | head -20 | sed 's/^/    /'
        if ! cmp -s "$tmp/$name.ref.err" "$tmp/$name.hak.err"; then
            echo "  stderr under hakmem:"
            tail -10 "$tmp/$name.hak.err" | sed 's/^/    /'
        fi
        ok=0
    fi
    if grep -q 'hakmem:' "$tmp/$name.hak.err"; then
        echo "FAIL: $name: hakmem printed a diagnostic:"
        grep 'hakmem:' "$tmp/$name.hak.err" | head -5 | sed 's/^/    /'
        ok=0
    fi
    if [ ! -s "$tmp/$name.ref.out" ]; then
        echo "FAIL: $name: the workload printed nothing"
        ok=0
    fi
    if [ $ok = 1 ]; then
        echo "ok: $name: $(wc -l <"$tmp/$name.ref.out") identical lines (glibc ${t_ref}s, hakmem ${t_hak}s)"
    else
        status=1
    fi
}

skip() {
    echo "SKIP: $1 not installed"
    skipped=$((skipped + 1))
}

# --- python3 ---------------------------------------------------------------

cat >"$tmp/work.py" <<'EOF'
import collections, hashlib, json, random, re, sys, zlib
random.seed(12345)
d = {}
for i in range(200000):
    k = "key%07d" % random.randrange(10**7)
    d[k] = [i, "x" * (i % 23)] if i % 8 else {"v": i % 97, "sq": str(i * i)}
s = json.dumps(d, sort_keys=True)
d2 = json.loads(s)
assert d2 == d
print(len(d), len(s), hashlib.sha256(s.encode()).hexdigest())
keys = sorted(d, key=lambda k: (len(d[k]) % 1000, k))
print(keys[:3], keys[-3:])
pairs = re.findall(r'"key(\d{3})(\d+)"', s)
print(len(pairs), collections.Counter(p[0] for p in pairs).most_common(3))
print(re.sub(r"x{5,}", lambda m: str(len(m.group(0))), s[:400]))
blob = zlib.compress(s.encode(), 6)
print(len(blob), zlib.crc32(blob), zlib.decompress(blob) == s.encode())
objs = [tuple(range(i % 50)) for i in range(200000)]
print(sum(map(len, objs)))
del objs
words = collections.defaultdict(list)
for i in range(100000):
    words[str(i % 1000)].append("w" * (i % 40))
print(sum(len("".join(v)) for v in words.values()))
big = bytearray(64 * 1024 * 1024)
big[-1] = 7
print(sum(big[-16:]), len(big))
print(sorted(set(hashlib.md5(str(i).encode()).hexdigest()[:2] for i in range(5000)))[:5])
sys.stdout.flush()
EOF
wl_python() {
    PYTHONMALLOC=malloc PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 $limit "$python" -s "$tmp/work.py"
}
if command -v python3 >/dev/null 2>&1 &&
    python=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) && [ -x "$python" ]; then
    compare python3 wl_python
else
    skip python3
fi

# --- sqlite3 ---------------------------------------------------------------

cat >"$tmp/work.sql" <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)
INSERT INTO t(a, b, c) SELECT (i * 7919) % 1000, printf('row-%06d-%s', i, hex(i * 31)), i / 7.0 FROM n;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
SELECT count(*), sum(a), printf('%.3f', sum(c)) FROM t;
SELECT a, count(*), min(b), max(b) FROM t GROUP BY a ORDER BY count(*) DESC, a LIMIT 5;
SELECT count(*) FROM t WHERE b LIKE 'row-01%';
SELECT group_concat(id) FROM (SELECT id FROM t WHERE a = 42 ORDER BY id LIMIT 10);
SELECT a, b FROM t ORDER BY b DESC LIMIT 3;
SELECT x.a, count(*) FROM t AS x JOIN t AS y ON x.a = y.a AND y.id % 100 = 0 GROUP BY x.a ORDER BY 2 DESC, 1 LIMIT 3;
UPDATE t SET b = b || '-upd' WHERE a % 3 = 0;
DELETE FROM t WHERE a % 5 = 0;
VACUUM;
SELECT count(*), sum(length(b)), max(b) FROM t;
SELECT a % 10 AS k, count(*), printf('%.2f', avg(c)) FROM t GROUP BY k ORDER BY k;
PRAGMA integrity_check;
EOF
wl_sqlite() {
    $limit sqlite3 -batch work.db <"$tmp/work.sql"
}
if command -v sqlite3 >/dev/null 2>&1; then
    compare sqlite3 wl_sqlite
else
    skip sqlite3
fi

# --- perl ------------------------------------------------------------------

cat >"$tmp/work.pl" <<'EOF'
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
my (%h, @a);
for my $i (1 .. 200000) {
    my $k = sprintf("k%06d", ($i * 7919) % 200003);
    $h{$k} .= "v$i,";
    push @a, $k;
}
my @s = sort { length($h{$a}) <=> length($h{$b}) or $a cmp $b } keys %h;
my $str = join("|", map { "$_=$h{$_}" } @s);
my $n = () = $str =~ /k0\d{4}7=/g;
(my $t = $str) =~ s/v(\d+)/<$1>/g;
my %cnt;
$cnt{ length $_ }++ for @a;
print scalar(keys %h), " ", length($str), " ", $n, " ", md5_hex($t), "\n";
print join(",", map { "$_:$cnt{$_}" } sort { $a <=> $b } keys %cnt), "\n";
my @big = map { [ $_, "x" x ($_ % 100) ] } 1 .. 100000;
my $tot = 0;
$tot += length $_->[1] for @big;
print "$tot\n";
my @words = split /,/, join(",", map { $h{$_} } @s[0 .. 999]);
my %seen;
my @uniq = grep { !$seen{$_}++ } @words;
print scalar(@words), " ", scalar(@uniq), " ", md5_hex(join "", reverse @uniq), "\n";
delete @h{ grep { /7$/ } keys %h };
print scalar(keys %h), "\n";
EOF
wl_perl() {
    PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 $limit perl "$tmp/work.pl"
}
if command -v perl >/dev/null 2>&1; then
    compare perl wl_perl
else
    skip perl
fi

# --- gcc -------------------------------------------------------------------

cat >"$tmp/small.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

int main(void)
{
    enum { N = 20000 };
    char **v = malloc(N * sizeof *v);
    unsigned long h = 5381;
    for (int i = 0; i < N; i++) {
        v[i] = malloc(32);
        snprintf(v[i], 32, "%u", (unsigned)(i * 2654435761u));
    }
    qsort(v, N, sizeof *v, cmp);
    for (int i = 0; i < N; i++) {
        for (const char *c = v[i]; *c; c++)
            h = h * 33 + (unsigned char)*c;
        free(v[i]);
    }
    free(v);
    printf("first sorted hash %lu\n", h);
    return 0;
}
EOF
# a larger source: many functions with loops and switches, for -O2
awk 'BEGIN {
    print "#include <stdio.h>";
    for (f = 0; f < 200; f++) {
        printf "static unsigned long f%d(unsigned long x) {\n", f;
        printf "    unsigned long a[%d];\n", 8 + f % 24;
        printf "    for (int i = 0; i < %d; i++) a[i] = x * %d + i;\n", 8 + f % 24, f + 3;
        printf "    for (int r = 0; r < %d; r++) {\n", 3 + f % 5;
        printf "        switch ((x + r) %% 5) {\n";
        for (c = 0; c < 5; c++)
            printf "        case %d: x = (x << %d) ^ (x >> %d) ^ a[(r + %d) %% %d]; break;\n", c, c + 1, c + 3, c, 8 + f % 24;
        printf "        }\n    }\n    return x + %d;\n}\n", f;
    }
    print "int main(void) {\n    unsigned long s = 1;";
    for (f = 0; f < 200; f++)
        printf "    s = f%d(s);\n", f;
    print "    printf(\"big checksum %lu\\n\", s);\n    return 0;\n}";
}' >"$tmp/big.c"
wl_gcc() {
    cp "$tmp/small.c" "$tmp/big.c" . || return 1
    $limit gcc -O1 -Wall -o small small.c
    echo "gcc small: exit $?"
    ./small
    $limit gcc -O2 -S -o small.s small.c
    echo "gcc -S small: exit $? $(cksum <small.s)"
    $limit gcc -O2 -Wall -o big big.c
    echo "gcc -O2 big: exit $?"
    ./big
    $limit gcc -O2 -S -o big.s big.c
    echo "gcc -S big: exit $? $(cksum <big.s)"
}
if command -v gcc >/dev/null 2>&1; then
    compare gcc wl_gcc
else
    skip gcc
fi

# --- git -------------------------------------------------------------------

wl_git() {
    HOME=$work
    GIT_CONFIG_NOSYSTEM=1
    GIT_AUTHOR_NAME="Hak Mem"
    GIT_AUTHOR_EMAIL=hakmem@example.invalid
    GIT_COMMITTER_NAME="Hak Mem"
    GIT_COMMITTER_EMAIL=hakmem@example.invalid
    GIT_AUTHOR_DATE="2024-01-01T00:00:00+0000"
    GIT_COMMITTER_DATE="2024-01-01T00:00:00+0000"
    export HOME GIT_CONFIG_NOSYSTEM GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL \
        GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL GIT_AUTHOR_DATE GIT_COMMITTER_DATE
    git -c init.defaultBranch=main init -q repo || return 1
    cd repo || return 1
    git config gc.auto 0
    git config core.autocrlf false
    mkdir dir0 dir1 dir2 dir3 dir4 dir5 dir6 || return 1
    for c in 1 2 3 4 5; do
        awk -v c=$c 'BEGIN {
            for (f = 0; f < 60 * c; f++) {
                file = "dir" (f % 7) "/file" f ".txt";
                for (l = 0; l < 20 + (f * c) % 50; l++)
                    print "line " l " of file " f " in commit " (l % c == 0 ? c : 0) > file;
                close(file);
            }
        }'
        git add -A && git commit -q -m "commit $c: $(ls dir0 | wc -l) files in dir0" || return 1
    done
    git rm -q dir3/file3.txt && git mv dir1/file1.txt moved.txt && git commit -q -m "move and remove" || return 1
    $limit git log --stat --no-color
    git rev-parse HEAD HEAD~3^{tree}
    git diff --stat HEAD~4 HEAD | tail -1
    git grep -c 'in commit 5' | wc -l
    git -c pack.threads=1 gc --quiet || echo "git gc failed"
    git count-objects -v | grep -E '^(count|in-pack|packs|garbage):'
    git fsck --no-progress --no-dangling && echo "fsck ok"
    git archive --format=tar HEAD | cksum
    git log --oneline --reverse | head -3
}
if command -v git >/dev/null 2>&1; then
    compare git wl_git
else
    skip git
fi

# --- multi-threaded and larger workloads ------------------------------------

# ~24 MB of text for the compressors and sort: compresses neither too well
# nor too badly
awk 'BEGIN { srand(7); for (i = 0; i < 150000; i++)
    printf "%08d %s %d %x\n", int(rand() * 1e8), substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26), i, (i * 2654435761) % 4294967296 }' >"$tmp/input.txt"
for i in 1 2 3 4; do cat "$tmp/input.txt"; done >"$tmp/big.txt"

wl_xz() {
    $limit xz -T2 -1 -c "$tmp/big.txt" >big.xz || return 1
    $limit xz -T2 -dc big.xz | cmp - "$tmp/big.txt" && echo "xz -T2 round trip: identical"
    xz -l big.xz | tail -1 | awk '{ print $1, $2 }'
}
if command -v xz >/dev/null 2>&1; then compare "xz -T2" wl_xz; else skip xz; fi

wl_zstd() {
    $limit zstd -q -T2 -5 -c "$tmp/big.txt" >big.zst || return 1
    $limit zstd -q -T2 -dc big.zst | cmp - "$tmp/big.txt" && echo "zstd -T2 round trip: identical"
}
if command -v zstd >/dev/null 2>&1; then compare "zstd -T2" wl_zstd; else skip zstd; fi

wl_sort() {
    $limit sort --parallel=2 -S 64M -k2,2 -k1,1n "$tmp/big.txt" | cksum
    $limit sort --parallel=2 -u -t' ' -k4,4 "$tmp/input.txt" | tail -3
}
compare "sort --parallel=2" wl_sort

# a real repository: the one around the source tree, if there is one
repo=$(git -C "${top_srcdir:-.}" rev-parse --show-toplevel 2>/dev/null)
wl_git_clone() {
    HOME=$work GIT_CONFIG_NOSYSTEM=1
    export HOME GIT_CONFIG_NOSYSTEM
    $limit git clone -q --no-local --no-hardlinks "$repo" clone || return 1
    cd clone || return 1
    git rev-parse HEAD
    git log --stat --format='%H %s' | cksum
    $limit git -c pack.threads=2 gc -q --aggressive || echo "git gc failed"
    git count-objects -v | grep -E '^(count|in-pack|packs):'
    git fsck --no-progress --no-dangling && echo "fsck ok"
    git log --oneline | wc -l
}
if command -v git >/dev/null 2>&1 && [ -n "$repo" ]; then
    compare "git clone, log, gc" wl_git_clone
else
    skip "git (or a repository around the source tree)"
fi

cat >"$tmp/threads.py" <<'PY'
import concurrent.futures, hashlib, json, threading, zlib
def job(n):
    d = {("k%d" % i): [i, str(i) * (i % 17), {"n": i % 7}] for i in range(n * 1000, n * 1000 + 20000)}
    s = json.dumps(d, sort_keys=True).encode()
    z = zlib.compress(s, 6)  # releases the GIL: the threads really overlap
    return n, len(s), len(z), hashlib.sha256(z).hexdigest(), len(json.loads(zlib.decompress(z)))
with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
    for r in ex.map(job, range(12)):
        print(*r)
lock = threading.Lock()
shared = []
def worker(k):
    local = [bytearray(64 + (i * k) % 4000) for i in range(20000)]
    with lock:
        shared.append(sum(map(len, local)))
ts = [threading.Thread(target=worker, args=(k,)) for k in range(1, 9)]
for t in ts: t.start()
for t in ts: t.join()
print(sorted(shared))
PY
wl_python_threads() {
    PYTHONMALLOC=malloc PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 $limit "$python" -s "$tmp/threads.py"
}
if [ -n "${python:-}" ]; then compare "python3 threads" wl_python_threads; else skip python3; fi

wl_make() {
    i=0
    while [ $i -lt 40 ]; do
        printf 'int f%d(int x) { int s = 0; for (int i = 0; i < x; i++) s += i * %d; return s; }\n' $i $i >f$i.c
        i=$((i + 1))
    done
    awk 'BEGIN { print "#include <stdio.h>"; for (i = 0; i < 40; i++) print "int f" i "(int);";
        print "int main(void) { long t = 0;"; for (i = 0; i < 40; i++) print "t += f" i "(" i + 10 ");";
        print "printf(\"%ld\\n\", t); return 0; }" }' >main.c
    printf 'OBJS = $(patsubst %%.c,%%.o,$(wildcard f*.c)) main.o\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n%%.o: %%.c\n\t$(CC) -O2 -c $<\n' >Makefile
    $limit make -s -j2 || return 1
    ./prog
    ls ./*.o | wc -l
}
if command -v make >/dev/null 2>&1 && command -v cc >/dev/null 2>&1; then
    compare "make -j2" wl_make
else
    skip make
fi

if [ $ran = 0 ]; then
    echo "SKIP: none of the programs is installed"
    exit 77
fi
exit $status
