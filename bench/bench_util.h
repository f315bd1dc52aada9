/* bench_util.h — helpers shared by the hakmem benchmark programs: a cheap
 * PRNG, the fill patterns that let a benchmark prove the allocator handed
 * out memory it may really use, timing, and resource-usage reporting.
 *
 * The programs reach the allocator under test only through malloc/free
 * (it is injected with LD_PRELOAD), so nothing here knows about hakmem.
 * It compiles as C11 and as C++ (larson_sized.cc), hence the casts from
 * void *.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Exit statuses: 1 for usage and setup errors (including malloc returning
 * NULL), 2 when a fill pattern was found damaged — the allocator gave two
 * owners the same memory or wrote into a live block. */
#define BENCH_EXIT_USAGE 1
#define BENCH_EXIT_CORRUPT 2

/* Makes `p` (and what it points to) visible to the compiler as escaping, so
 * that a malloc/fill/check/free sequence cannot be folded away: GCC and
 * Clang may delete malloc/free pairs and dead stores to fresh memory. */
static inline void bench_escape(void *p)
{
    __asm__ volatile("" : : "g"(p) : "memory");
}

/* splitmix64's finaliser: turns structured inputs (slot, size, thread) into
 * well-spread tags, so that neighbouring blocks never share a pattern. */
static inline uint64_t bench_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* xorshift64*: one multiply per number, state fits in a register; rand()
 * would take a lock in glibc and serialise the threads we measure. */
typedef struct {
    uint64_t s;
} bench_rng;

static inline void bench_rng_seed(bench_rng *r, uint64_t seed)
{
    r->s = bench_mix64(seed);
    if (r->s == 0)
        r->s = 0x2545f4914f6cdd1dULL;
}

static inline uint64_t bench_rng_next(bench_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n) for n < 2^32 by multiply-shift: no division in the hot
 * loop, and the bias is far below anything a benchmark could notice. */
static inline uint32_t bench_rng_below(bench_rng *r, uint32_t n)
{
    return (uint32_t)(((bench_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* --- Fill patterns -------------------------------------------------------
 * A block of n >= 16 bytes gets the 8-byte tag at its start, the inverted
 * tag at its end, and a tag-derived byte everywhere between.  Every byte is
 * therefore written, so a block overlapping another live block, or one the
 * allocator scribbles on while it is in use, is caught when it is checked.
 * The body is written with memset and checked with memcmp against itself
 * shifted by one byte (equal iff all bytes are equal): both are the
 * vectorised libc routines, so checking costs a few cycles per cache line
 * and measures the allocator, not the checker. */

static inline unsigned char bench_pat_byte(uint64_t tag)
{
    unsigned char b = (unsigned char)(tag >> 56);
    /* Never zero: zeroed memory is what a broken allocator most often
     * hands out, and it must not pass as a valid fill. */
    return b ? b : 0xa5;
}

static inline unsigned char bench_pat_small(uint64_t tag, size_t i)
{
    return (unsigned char)((tag >> ((i & 7) * 8)) ^ (i * 0x3b) ^ 0x5a);
}

/* The mark: the first and last words of a block (below 16 bytes, every
 * byte).  The benchmarks that model programs which write a few bytes of
 * what they allocate (Larson's server writes two, rptest four) use it
 * alone: it still catches a block handed out twice, or overlapping
 * another, at its free, without making the benchmark's own memset and
 * memcmp most of what it measures.  The others fill the rest too. */
static inline void bench_mark(void *p, size_t n, uint64_t tag)
{
    unsigned char *c = (unsigned char *)p;
    if (n < 16) {
        for (size_t i = 0; i < n; i++)
            c[i] = bench_pat_small(tag, i);
        return;
    }
    uint64_t inv = ~tag;
    memcpy(c, &tag, 8);
    memcpy(c + n - 8, &inv, 8);
}

static inline int bench_mark_ok(const void *p, size_t n, uint64_t tag)
{
    const unsigned char *c = (const unsigned char *)p;
    if (n < 16) {
        for (size_t i = 0; i < n; i++)
            if (c[i] != bench_pat_small(tag, i))
                return 0;
        return 1;
    }
    uint64_t head, tail;
    memcpy(&head, c, 8);
    memcpy(&tail, c + n - 8, 8);
    return head == tag && tail == ~tag;
}

static inline void bench_fill(void *p, size_t n, uint64_t tag)
{
    bench_mark(p, n, tag);
    if (n > 16)
        memset((unsigned char *)p + 8, bench_pat_byte(tag), n - 16);
}

/* Returns 1 when the block still holds the pattern bench_fill wrote. */
static inline int bench_check(const void *p, size_t n, uint64_t tag)
{
    const unsigned char *c = (const unsigned char *)p;
    if (!bench_mark_ok(p, n, tag))
        return 0;
    if (n > 16) {
        if (c[8] != bench_pat_byte(tag))
            return 0;
        if (n > 17 && memcmp(c + 8, c + 9, n - 17) != 0)
            return 0;
    }
    return 1;
}

/* Page-stride patterns for the large-block scenarios: one word per page
 * (plus the last word) is what "touching" a large buffer means for page
 * faults, and keeps the cost of the check out of the latency of a 2 MiB
 * allocation.  Each word depends on its offset, so a block mapped twice or
 * shifted by the allocator does not pass. */
static inline void bench_touch_pages(void *p, size_t n, size_t page, uint64_t tag)
{
    unsigned char *c = (unsigned char *)p;
    if (n < 8)
        return;
    for (size_t off = 0; off + 8 <= n; off += page) {
        uint64_t w = tag ^ (off * 0x9e3779b97f4a7c15ULL);
        memcpy(c + off, &w, 8);
    }
    uint64_t w = ~tag ^ n;
    memcpy(c + n - 8, &w, 8);
}

static inline int bench_check_pages(const void *p, size_t n, size_t page, uint64_t tag)
{
    const unsigned char *c = (const unsigned char *)p;
    if (n < 8)
        return 1;
    uint64_t w;
    /* Page words overlapping the final word were overwritten by it. */
    for (size_t off = 0; off + 16 <= n; off += page) {
        memcpy(&w, c + off, 8);
        if (w != (tag ^ (off * 0x9e3779b97f4a7c15ULL)))
            return 0;
    }
    memcpy(&w, c + n - 8, 8);
    return w == (~tag ^ n);
}

/* --- Time, resource usage, argument parsing ----------------------------- */

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Printed by every program as its last line, so that the runners get peak
 * RSS and page faults even where /usr/bin/time is not installed. */
static inline void bench_print_rusage(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return;
    printf("rusage: maxrss_kb=%ld minflt=%ld majflt=%ld\n",
           ru.ru_maxrss, ru.ru_minflt, ru.ru_majflt);
}

static inline void bench_oom(const char *prog, size_t size)
{
    fprintf(stderr, "%s: malloc(%zu) returned NULL\n", prog, size);
    exit(BENCH_EXIT_USAGE);
}

/* Parses an unsigned integer in [lo, hi], or exits with a usage error that
 * names the argument. */
static inline uint64_t bench_parse_u64(const char *prog, const char *what,
                                       const char *s, uint64_t lo, uint64_t hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "%s: %s must be an integer in [%" PRIu64 ", %" PRIu64
                        "], got '%s'\n", prog, what, lo, hi, s);
        exit(BENCH_EXIT_USAGE);
    }
    return (uint64_t)v;
}

static inline double bench_parse_double(const char *prog, const char *what,
                                        const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
        fprintf(stderr, "%s: %s must be a number in [%g, %g], got '%s'\n",
                prog, what, lo, hi, s);
        exit(BENCH_EXIT_USAGE);
    }
    return v;
}

#endif /* BENCH_UTIL_H */
