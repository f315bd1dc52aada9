/* Stress test: many threads, all layers, blocks traded between threads and
 * across thread lifetimes, every block checked before it is freed.
 *
 *     tests/stress [threads [scale [rounds]]]       defaults: 8 1 10
 *
 * Each round starts `threads` new threads (on any number of cores).  Each
 * does 10000 x `scale` random operations on its own table of blocks:
 * allocate (malloc, calloc, aligned_alloc), free, realloc, and trade a
 * block for whatever another thread left in a shared array of atomic
 * slots.  Sizes cover the tiny, mid and large layers, about 1 % large.
 * Every block carries in its first word its size and after that a pattern
 * derived from its address (tests/pattern.h); it is checked before it is
 * freed or reallocated, by whichever thread frees it.  When a thread ends
 * it frees half of its blocks and leaves the other half in the shared
 * array; when a round ends, half of the shared blocks are freed and the
 * others survive into the next round, to be freed by threads that did not
 * exist when they were allocated.
 *
 * Resident memory is sampled every 20 ms.  The live data is bounded by
 * construction (the tables and the shared array have fixed sizes), so
 * RSS must be too: the peak over the second half of the rounds may not
 * exceed the peak over the first half by more than a quarter plus 32 MiB.
 * (The first rounds start from an empty shared array, so the level rises
 * for a few rounds before it settles; a leak keeps rising.)
 *
 * Built twice: tests/stress calls the hak_* API (libhakmem); tests/
 * stress-libc calls malloc and friends and is run under the interposer
 * (LD_PRELOAD), which it confirms by naming the library malloc comes from.
 * Exit status 0 when every block was intact, every allocation succeeded
 * and RSS stayed bounded; 1 otherwise; 2 for bad arguments.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sanitizer.h"

#include "pattern.h"

#ifdef STRESS_LIBC
#include <malloc.h>
#define A_MALLOC malloc
#define A_CALLOC calloc
#define A_REALLOC realloc
#define A_ALIGNED aligned_alloc
#define A_FREE free
#define A_USABLE malloc_usable_size
#define API_NAME "malloc"
#else
#include "hakmem.h"
#define A_MALLOC hak_malloc
#define A_CALLOC hak_calloc
#define A_REALLOC hak_realloc
#define A_ALIGNED hak_aligned_alloc
#define A_FREE hak_free
#define A_USABLE hak_malloc_usable_size
#define API_NAME "hak_*"
#endif

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define MAX_SIZE (2 * MiB)
#define CHECK_MAX (MAX_SIZE + 4096) /* aligned_alloc rounds sizes up */

enum { LOCAL = 256, SHARED = 4096, OPS_PER_SCALE = 10000 };

static _Atomic(void *) shared[SHARED];

struct counters {
    atomic_long bad;        /* blocks found corrupted */
    atomic_long failures;   /* allocations that returned NULL */
    atomic_long misaligned; /* aligned_alloc results not aligned */
    atomic_long short_usable;
    atomic_long ops;
} count;

static char first_error[256];
static atomic_int have_error;

static void report(const char *what, const void *p)
{
    if (atomic_exchange(&have_error, 1) == 0)
        snprintf(first_error, sizeof first_error, "%s (block %p)", what, p);
}

/* Three quarters tiny, a quarter mid (most of them up to 8 KiB), 1 %
 * large. */
static size_t random_size(uint64_t *rng)
{
    uint64_t r = pat_rng(rng);
    unsigned k = (unsigned)(r % 100);
    r >>= 8;
    if (k == 0)
        return 256 * KiB + 1 + (size_t)(r % (MAX_SIZE - 256 * KiB));
    if (k < 75)
        return PATTERN_MIN + (size_t)(r % (1024 - PATTERN_MIN + 1));
    unsigned bits = k < 91 ? 10 + (unsigned)(r % 3)  /* 1 KiB .. 8 KiB */
                           : 13 + (unsigned)(r % 5); /* 8 KiB .. 256 KiB */
    r >>= 3;
    return ((size_t)1 << bits) + 1 + (size_t)(r % ((size_t)1 << bits));
}

static int check(void *p)
{
    size_t n;
    if (!pat_ok(p, CHECK_MAX, &n)) {
        atomic_fetch_add(&count.bad, 1);
        report("a block was corrupted before it was freed", p);
        return 0;
    }
    if (A_USABLE(p) < n) {
        atomic_fetch_add(&count.short_usable, 1);
        report("usable size smaller than the size asked for", p);
    }
    return 1;
}

static void check_and_free(void *p)
{
    if (p && check(p))
        A_FREE(p); /* a corrupted block is left alone */
}

static void *new_block(uint64_t *rng)
{
    size_t n = random_size(rng);
    unsigned how = (unsigned)(pat_rng(rng) % 16);
    void *p;
    if (how == 0) {
        p = A_CALLOC(1, n);
        if (p) {
            const unsigned char *c = p;
            size_t upto = n < 64 * KiB ? n : 64 * KiB;
            for (size_t i = 0; i < upto; i++)
                if (c[i]) {
                    atomic_fetch_add(&count.bad, 1);
                    report("calloc returned a block that is not zeroed", p);
                    break;
                }
        }
    } else if (how == 1) {
        size_t align = (size_t)16 << (pat_rng(rng) % 9); /* 16 .. 4096 */
        n = (n + align - 1) & ~(align - 1);             /* C11 wants a multiple */
        p = A_ALIGNED(align, n);
        if (p && (uintptr_t)p % align) {
            atomic_fetch_add(&count.misaligned, 1);
            report("aligned_alloc returned a misaligned block", p);
        }
    } else {
        p = A_MALLOC(n);
    }
    if (!p) {
        atomic_fetch_add(&count.failures, 1);
        report("an allocation failed", NULL);
        return NULL;
    }
    pat_fill(p, n);
    return p;
}

/* Realloc keeps the contents up to the smaller size: the old header and
 * the old pattern (keyed by the old address) must be found at the new one. */
static void *move_block(void *p, uint64_t *rng)
{
    size_t n;
    if (!check(p))
        return NULL;
    n = pat_size(p, CHECK_MAX);
    size_t m = random_size(rng);
    if (n > 64 * KiB || m > 64 * KiB) {  /* large: just move it */
        void *q = A_REALLOC(p, m);
        if (!q) {
            atomic_fetch_add(&count.failures, 1);
            report("realloc failed", p);
            return p;
        }
        pat_fill(q, m);
        return q;
    }
    uint64_t key = pat_key(p), head = n ^ key, got;
    void *q = A_REALLOC(p, m);
    if (!q) {
        atomic_fetch_add(&count.failures, 1);
        report("realloc failed", p);
        return p;
    }
    size_t keep = n < m ? n : m;
    memcpy(&got, q, 8);
    if (got != head || pat_check_range(q, 8, keep - 8, key)) {
        atomic_fetch_add(&count.bad, 1);
        report("realloc lost the contents of a block", q);
    }
    pat_fill(q, m);
    return q;
}

struct worker {
    pthread_t t;
    uint64_t rng;
    long ops;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    void *mine[LOCAL] = { 0 };
    for (long op = 0; op < w->ops; op++) {
        unsigned r = (unsigned)(pat_rng(&w->rng) % 100);
        unsigned i = (unsigned)(pat_rng(&w->rng) % LOCAL);
        if (r < 45) {                   /* allocate, replacing a block */
            check_and_free(mine[i]);
            mine[i] = new_block(&w->rng);
        } else if (r < 65) {            /* free */
            check_and_free(mine[i]);
            mine[i] = NULL;
        } else if (r < 90) {            /* trade with another thread */
            void *p = new_block(&w->rng);
            if (!p)
                continue;
            void *got = atomic_exchange(&shared[pat_rng(&w->rng) % SHARED], p);
            if (got && pat_rng(&w->rng) % 2) {
                check_and_free(mine[i]);
                mine[i] = got;          /* keep it: freed later, here or elsewhere */
            } else {
                check_and_free(got);
            }
        } else if (mine[i]) {           /* move */
            mine[i] = move_block(mine[i], &w->rng);
        }
    }
    /* half of what is left is freed here, half goes on to others */
    for (int i = 0; i < LOCAL; i++) {
        if (!mine[i])
            continue;
        if (pat_rng(&w->rng) % 2)
            check_and_free(mine[i]);
        else
            check_and_free(atomic_exchange(&shared[pat_rng(&w->rng) % SHARED], mine[i]));
    }
    atomic_fetch_add(&count.ops, w->ops);
    return NULL;
}

/* ------------------------------------------------------------------ */

static atomic_int sampling = 1;
static atomic_size_t round_peak;

static void *sampler(void *arg)
{
    (void)arg;
    while (atomic_load(&sampling)) {
        size_t r = pat_rss_bytes(), pk = atomic_load(&round_peak);
        while (r > pk && !atomic_compare_exchange_weak(&round_peak, &pk, r))
            ;
        usleep(20000);
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long arg(int argc, char **argv, int i, long def, long max)
{
    if (argc <= i)
        return def;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end || v < 1 || v > max) {
        fprintf(stderr, "usage: %s [threads [scale [rounds]]]  (%s must be 1..%ld)\n", argv[0],
                i == 1 ? "threads" : i == 2 ? "scale" : "rounds", max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    int threads = (int)arg(argc, argv, 1, 8, 1024);
    long scale = arg(argc, argv, 2, 1, 1000000);
    int rounds = (int)arg(argc, argv, 3, 10, 1000000);
    uint64_t rng = 0x5eed;
#ifdef STRESS_LIBC
    Dl_info info;
    void *(*volatile m)(size_t) = malloc;
    printf("stress: malloc from %s\n", dladdr((void *)m, &info) && info.dli_fname ? info.dli_fname : "?");
#endif
    printf("stress: %s API, %d threads, %ld operations per thread per round, %d rounds\n", API_NAME, threads,
           scale * OPS_PER_SCALE, rounds);
    fflush(stdout);

    pthread_t samp;
    if (pthread_create(&samp, NULL, sampler, NULL) != 0) {
        perror("stress: pthread_create");
        return 1;
    }
    struct worker *w = calloc((size_t)threads, sizeof *w);
    if (!w)
        return 1;
    int warm = rounds / 2 > 0 ? rounds / 2 : 1; /* the rounds that set the level */
    size_t warm_peak = 0, late_peak = 0;
    double t0 = now_s();
    for (int round = 0; round < rounds; round++) {
        double r0 = now_s();
        for (int i = 0; i < threads; i++) {
            w[i].rng = pat_mix64(pat_rng(&rng)) | 1;
            w[i].ops = scale * OPS_PER_SCALE;
            int e = pthread_create(&w[i].t, NULL, work, &w[i]);
            if (e) {
                fprintf(stderr, "stress: pthread_create: %s\n", strerror(e));
                return 1;
            }
        }
        for (int i = 0; i < threads; i++)
            pthread_join(w[i].t, NULL);
        /* half of the shared blocks go on into the next round */
        long live = 0;
        for (int i = 0; i < SHARED; i++) {
            void *p = atomic_load(&shared[i]);
            if (p && pat_rng(&rng) % 2) {
                atomic_store(&shared[i], NULL);
                check_and_free(p);
            } else if (p) {
                live++;
            }
        }
        size_t pk = atomic_exchange(&round_peak, pat_rss_bytes());
        if (round < warm)
            warm_peak = pk > warm_peak ? pk : warm_peak;
        else
            late_peak = pk > late_peak ? pk : late_peak;
        printf("round %d: %.2f s, RSS peak %zu KiB, %ld shared blocks carried over\n", round + 1, now_s() - r0,
               pk / 1024, live);
        fflush(stdout);
    }
    double secs = now_s() - t0;
    for (int i = 0; i < SHARED; i++)
        check_and_free(atomic_exchange(&shared[i], NULL));
    atomic_store(&sampling, 0);
    pthread_join(samp, NULL);
    free(w);

    long ops = atomic_load(&count.ops);
    printf("stress: %ld operations in %.1f s (%.2f M/s); RSS peak %zu KiB in the first %d round(s), %zu KiB "
           "later, %zu KiB at the end\n",
           ops, secs, ops / secs / 1e6, warm_peak / 1024, warm, late_peak / 1024, pat_rss_bytes() / 1024);
    int ok = 1;
    if (atomic_load(&count.bad) || atomic_load(&count.failures) || atomic_load(&count.misaligned) ||
        atomic_load(&count.short_usable)) {
        printf("FAIL: %ld corrupted, %ld failed allocations, %ld misaligned, %ld short usable sizes; first: %s\n",
               atomic_load(&count.bad), atomic_load(&count.failures), atomic_load(&count.misaligned),
               atomic_load(&count.short_usable), first_error);
        ok = 0;
    }
    /* ThreadSanitizer keeps shadow memory for every address ever accessed
     * until it is unmapped, and hakmem keeps released address space mapped
     * (madvise, retention): RSS grows round after round whatever hakmem
     * does (seen here: +32 % from round 4 to round 8). */
    if (under_sanitizer("thread"))
        printf("stress: RSS bound not checked under -fsanitize=thread: ThreadSanitizer's shadow of every "
               "address ever touched stays resident\n");
    else if (late_peak > warm_peak + warm_peak / 4 + 32 * MiB) {
        printf("FAIL: RSS not bounded: peak %zu KiB in the first %d round(s), %zu KiB later\n", warm_peak / 1024,
               warm, late_peak / 1024);
        ok = 0;
    }
    if (ok)
        printf("stress: ok\n");
    return ok ? 0 : 1;
}
