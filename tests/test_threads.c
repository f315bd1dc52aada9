/* Check suite "threads": multi-threaded black-box tests of libhakmem.
 *
 *  - cross-thread free: producers allocate and fill blocks with a pattern
 *    derived from address and size, consumers verify the pattern and free
 *    (or realloc, verify, free) them;
 *  - thread churn (Larson pattern): every thread works on an array of
 *    blocks, hands it to a newly created successor and exits; memory must
 *    stay bounded over ~200 generations;
 *  - thread exit: a pthread key destructor that runs after hakmem's own
 *    can still allocate and free;
 *  - fork from a multi-threaded process: the child can allocate and free,
 *    including blocks owned by threads that do not exist in the child.
 */
#include "hakmem.h"

#include <check.h>
#include "expect.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>



/* ------------------------------------------------------------------ */
/* helpers                                                             */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Pattern derived from the block's address and size: a block that is
 * handed out twice, overlaps another, or gets a stray write shows up. */
static void fill_block(void *p, size_t n)
{
    uint64_t s = mix64((uintptr_t)p ^ ((uint64_t)n << 40) ^ n);
    unsigned char *c = p;
    size_t i = 0, w = 0;
    for (; i + 8 <= n; i += 8, w++) {
        uint64_t v = s ^ (w * 0x9E3779B97F4A7C15ULL);
        memcpy(c + i, &v, 8);
    }
    uint64_t v = s ^ (w * 0x9E3779B97F4A7C15ULL);
    memcpy(c + i, &v, n - i);
}

static int block_ok(const void *p, size_t n)
{
    uint64_t s = mix64((uintptr_t)p ^ ((uint64_t)n << 40) ^ n);
    const unsigned char *c = p;
    size_t i = 0, w = 0;
    for (; i + 8 <= n; i += 8, w++) {
        uint64_t v = s ^ (w * 0x9E3779B97F4A7C15ULL), got;
        memcpy(&got, c + i, 8);
        if (got != v)
            return 0;
    }
    uint64_t v = s ^ (w * 0x9E3779B97F4A7C15ULL);
    return memcmp(c + i, &v, n - i) == 0;
}

/* Same pattern, but seeded by a value that survives realloc moving the
 * block. */
static void fill_seeded(void *p, size_t n, uint64_t seed)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = (unsigned char)(mix64(seed + i / 8) >> (8 * (i % 8)));
}

static int seeded_ok(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != (unsigned char)(mix64(seed + i / 8) >> (8 * (i % 8))))
            return 0;
    return 1;
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Random size: mostly tiny, some mid up to 64 KiB, very few large. */
static size_t random_size(uint64_t *rng, unsigned large_per_mille)
{
    uint64_t r = rng_next(rng);
    unsigned k = (unsigned)(r % 1000);
    r >>= 10;
    if (k < large_per_mille)
        return 256 * KiB + (size_t)(r % (2 * MiB));
    if (k < 800)
        return 8 + (size_t)(r % 1017);                 /* tiny: 8 .. 1024 */
    if (k < 950)
        return 1025 + (size_t)(r % (16 * KiB - 1025)); /* small mid */
    return 1025 + (size_t)(r % (64 * KiB - 1025));     /* mid up to 64 KiB */
}

/* ------------------------------------------------------------------ */
/* (a) cross-thread free with content verification                     */

enum { QCAP = 256, BATCH = 32 };

struct item {
    void *p;
    size_t size;
};

struct batch {
    int n;
    struct item it[BATCH];
};

struct queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct batch *slot[QCAP];
    unsigned head, tail; /* tail - head = count */
    int producers_left;
};

static void q_push(struct queue *q, struct batch *b)
{
    pthread_mutex_lock(&q->mu);
    while (q->tail - q->head == QCAP)
        pthread_cond_wait(&q->not_full, &q->mu);
    q->slot[q->tail++ % QCAP] = b;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static struct batch *q_pop(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->tail == q->head && q->producers_left > 0)
        pthread_cond_wait(&q->not_empty, &q->mu);
    struct batch *b = NULL;
    if (q->tail != q->head) {
        b = q->slot[q->head++ % QCAP];
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return b;
}

static void q_producer_done(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->producers_left--;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

struct xfer {
    struct queue q;
    int per_producer;
    unsigned large_per_mille;
    atomic_long mismatches;
    atomic_long alloc_failures;
    atomic_long consumed;
    atomic_long produced;
};

struct xfer_arg {
    struct xfer *x;
    uint64_t seed;
};

static void *xfer_producer(void *arg)
{
    struct xfer_arg *a = arg;
    struct xfer *x = a->x;
    uint64_t rng = a->seed;
    /* a few blocks stay with the producer and are freed locally */
    enum { LOCAL = 64 };
    struct item local[LOCAL] = { { 0 } };
    struct batch *b = NULL;
    for (int i = 0; i < x->per_producer; i++) {
        size_t s = random_size(&rng, x->large_per_mille);
        void *p = hak_malloc(s);
        if (!p) {
            atomic_fetch_add(&x->alloc_failures, 1);
            continue;
        }
        fill_block(p, s);
        if (rng_next(&rng) % 8 == 0) {
            struct item *l = &local[rng_next(&rng) % LOCAL];
            if (l->p) {
                if (!block_ok(l->p, l->size))
                    atomic_fetch_add(&x->mismatches, 1);
                hak_free(l->p);
            }
            l->p = p;
            l->size = s;
            continue;
        }
        if (!b) {
            /* the batch itself comes from hakmem and is freed remotely */
            b = hak_malloc(sizeof *b);
            if (!b) {
                atomic_fetch_add(&x->alloc_failures, 1);
                hak_free(p);
                continue;
            }
            b->n = 0;
        }
        b->it[b->n].p = p;
        b->it[b->n].size = s;
        atomic_fetch_add(&x->produced, 1);
        if (++b->n == BATCH) {
            q_push(&x->q, b);
            b = NULL;
        }
    }
    if (b)
        q_push(&x->q, b);
    for (int i = 0; i < LOCAL; i++)
        if (local[i].p) {
            if (!block_ok(local[i].p, local[i].size))
                atomic_fetch_add(&x->mismatches, 1);
            hak_free(local[i].p);
        }
    q_producer_done(&x->q);
    return NULL;
}

static void *xfer_consumer(void *arg)
{
    struct xfer_arg *a = arg;
    struct xfer *x = a->x;
    uint64_t rng = a->seed;
    struct batch *b;
    while ((b = q_pop(&x->q)) != NULL) {
        for (int i = 0; i < b->n; i++) {
            void *p = b->it[i].p;
            size_t s = b->it[i].size;
            if (!block_ok(p, s)) {
                atomic_fetch_add(&x->mismatches, 1);
                continue; /* do not free a block we cannot trust */
            }
            if (hak_malloc_usable_size(p) < s)
                atomic_fetch_add(&x->mismatches, 1);
            if (rng_next(&rng) % 16 == 0) {
                /* realloc a block owned by another thread */
                uint64_t seed = rng_next(&rng);
                size_t keep = s < 4096 ? s : 4096;
                fill_seeded(p, keep, seed);
                size_t ns = random_size(&rng, 0);
                void *q = hak_realloc(p, ns);
                if (!q) {
                    atomic_fetch_add(&x->alloc_failures, 1);
                    hak_free(p);
                } else {
                    if (!seeded_ok(q, keep < ns ? keep : ns, seed))
                        atomic_fetch_add(&x->mismatches, 1);
                    hak_free(q);
                }
            } else {
                hak_free(p);
            }
            atomic_fetch_add(&x->consumed, 1);
        }
        hak_free(b);
    }
    return NULL;
}

static void run_xfer(int producers, int consumers, int per_producer, unsigned large_per_mille, uint64_t seed)
{
    struct xfer *x = calloc(1, sizeof *x);
    EXPECT_NONNULL(x);
    pthread_mutex_init(&x->q.mu, NULL);
    pthread_cond_init(&x->q.not_empty, NULL);
    pthread_cond_init(&x->q.not_full, NULL);
    x->q.producers_left = producers;
    x->per_producer = per_producer;
    x->large_per_mille = large_per_mille;
    int n = producers + consumers;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    struct xfer_arg *args = calloc((size_t)n, sizeof *args);
    EXPECT1(t && args);
    for (int i = 0; i < n; i++) {
        args[i].x = x;
        args[i].seed = mix64(seed + (uint64_t)i + 1) | 1;
        int rc = pthread_create(&t[i], NULL, i < producers ? xfer_producer : xfer_consumer, &args[i]);
        EXPECT_INT_EQ(rc, 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    long mism = atomic_load(&x->mismatches), fail = atomic_load(&x->alloc_failures);
    long prod = atomic_load(&x->produced), cons = atomic_load(&x->consumed);
    free(t);
    free(args);
    free(x);
    EXPECT(mism == 0, "%ld blocks had a corrupted pattern when the consumer got them", mism);
    EXPECT(fail == 0, "%ld allocations failed", fail);
    EXPECT(prod == cons, "produced %ld blocks, consumed %ld", prod, cons);
    EXPECT_INT_GT(prod, 0);
}

START_TEST(test_cross_thread_free_preserves_contents)
{
    run_xfer(2, 2, 150000, 0, 1);
}
END_TEST

START_TEST(test_cross_thread_free_many_threads_with_large_blocks)
{
    run_xfer(4, 4, 25000, 3, 2);
}
END_TEST

START_TEST(test_cross_thread_free_repeated_rounds_rss_bounded)
{
    /* Eight rounds of the same producer/consumer traffic: whatever the first
     * rounds needed is reused, not accumulated. */
    size_t base = 0, peak = 0;
    for (int round = 0; round < 8; round++) {
        run_xfer(2, 2, 15000, 2, 100 + (uint64_t)round);
        size_t r = rss_bytes();
        if (round == 1)
            base = r;
        if (r > peak)
            peak = r;
    }
    EXPECT(peak < 4 * base + 64 * MiB, "RSS grew from %zu KiB (round 2) to %zu KiB", base / 1024,
                  peak / 1024);
}
END_TEST

/* ------------------------------------------------------------------ */
/* (b) thread churn, Larson-style                                      */

enum { LANES = 4, SLOTS = 1000, OPS_PER_GEN = 2000, BASE_GEN = 5 };

/* ~200 generations by default; TEST_CHURN_GENERATIONS=N makes it a soak run
 * (raise CK_DEFAULT_TIMEOUT to match). */
static int churn_generations = 200;

struct lane {
    void *p[SLOTS];
    size_t size[SLOTS];
    uint64_t rng;
    int gen;
};

struct churn {
    struct lane lane[LANES];
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    int lanes_done;
    atomic_long mismatches, alloc_failures, create_failures;
    atomic_size_t base_rss, peak_rss;
    atomic_int gens_run;
};

struct churn_arg {
    struct churn *c;
    int lane;
};

static void *churn_worker(void *arg)
{
    struct churn_arg *a = arg;
    struct churn *c = a->c;
    struct lane *l = &c->lane[a->lane];
    for (int op = 0; op < OPS_PER_GEN; op++) {
        unsigned i = (unsigned)(rng_next(&l->rng) % SLOTS);
        if (l->p[i]) {
            if (!block_ok(l->p[i], l->size[i]))
                atomic_fetch_add(&c->mismatches, 1);
            hak_free(l->p[i]);
            l->p[i] = NULL;
        }
        size_t s = random_size(&l->rng, 0);
        if (s > 32 * KiB)
            s = 32 * KiB;
        void *p = hak_malloc(s);
        if (!p) {
            atomic_fetch_add(&c->alloc_failures, 1);
            continue;
        }
        fill_block(p, s);
        l->p[i] = p;
        l->size[i] = s;
    }
    atomic_fetch_add(&c->gens_run, 1);
    if (a->lane == 0) {
        size_t r = rss_bytes();
        if (l->gen == BASE_GEN)
            atomic_store(&c->base_rss, r);
        size_t pk = atomic_load(&c->peak_rss);
        while (r > pk && !atomic_compare_exchange_weak(&c->peak_rss, &pk, r))
            ;
    }
    /* hand the array to a new thread, then exit */
    if (++l->gen < churn_generations) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc;
        while ((rc = pthread_create(&t, &at, churn_worker, a)) == EAGAIN)
            usleep(1000);
        pthread_attr_destroy(&at);
        if (rc == 0)
            return NULL;
        atomic_fetch_add(&c->create_failures, 1);
    }
    pthread_mutex_lock(&c->mu);
    c->lanes_done++;
    pthread_cond_signal(&c->done_cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

START_TEST(test_thread_churn_larson_bounded_rss)
{
    struct churn *c = calloc(1, sizeof *c);
    EXPECT_NONNULL(c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->done_cv, NULL);
    struct churn_arg args[LANES];
    for (int i = 0; i < LANES; i++) {
        c->lane[i].rng = mix64(77 + (uint64_t)i) | 1;
        args[i].c = c;
        args[i].lane = i;
    }
    double t0 = now_s();
    for (int i = 0; i < LANES; i++) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        EXPECT_INT_EQ(pthread_create(&t, &at, churn_worker, &args[i]), 0);
        pthread_attr_destroy(&at);
    }
    pthread_mutex_lock(&c->mu);
    while (c->lanes_done < LANES)
        pthread_cond_wait(&c->done_cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    double secs = now_s() - t0;
    size_t end_rss = rss_bytes();

    /* everything still live: verify and free from this (yet another) thread */
    long final_bad = 0;
    for (int i = 0; i < LANES; i++)
        for (int k = 0; k < SLOTS; k++)
            if (c->lane[i].p[k]) {
                if (!block_ok(c->lane[i].p[k], c->lane[i].size[k]))
                    final_bad++;
                hak_free(c->lane[i].p[k]);
            }
    size_t base = atomic_load(&c->base_rss), peak = atomic_load(&c->peak_rss);
    long mism = atomic_load(&c->mismatches), fail = atomic_load(&c->alloc_failures);
    long cfail = atomic_load(&c->create_failures);
    int gens = atomic_load(&c->gens_run);
    free(c);
    fprintf(stderr, "thread churn: %d thread generations in %.2f s; RSS base %zu KiB, peak %zu KiB, end %zu KiB\n",
            gens, secs, base / 1024, peak / 1024, end_rss / 1024);
    EXPECT(cfail == 0, "pthread_create failed %ld times", cfail);
    EXPECT_INT_EQ(gens, LANES * churn_generations);
    EXPECT(mism == 0, "%ld blocks had a corrupted pattern when freed by a later thread", mism);
    EXPECT(final_bad == 0, "%ld blocks had a corrupted pattern at the end", final_bad);
    EXPECT(fail == 0, "%ld allocations failed", fail);
    EXPECT1(base > 0);
    EXPECT(peak < 4 * base + 64 * MiB,
                  "RSS not bounded: %zu KiB after %d generations, peak %zu KiB", base / 1024, BASE_GEN, peak / 1024);
    EXPECT(end_rss < 4 * base + 64 * MiB,
                  "RSS not bounded: %zu KiB after %d generations, %zu KiB at the end", base / 1024, BASE_GEN,
                  end_rss / 1024);
}
END_TEST

/* ------------------------------------------------------------------ */
/* thread exit                                                         */

static pthread_key_t late_key;
static atomic_int late_ok;

static void late_destructor(void *v)
{
    /* runs after hakmem's own thread-exit flush (our key is created later) */
    if (!block_ok(v, 200))
        return;
    hak_free(v);
    int good = 1;
    for (int i = 0; i < 100; i++) {
        size_t s = 16 + (size_t)i * 37;
        void *p = hak_malloc(s);
        if (!p) {
            good = 0;
            break;
        }
        fill_block(p, s);
        if (!block_ok(p, s))
            good = 0;
        hak_free(p);
    }
    void *big = hak_malloc(300000);
    if (!big)
        good = 0;
    else
        hak_free(big);
    if (good)
        atomic_fetch_add(&late_ok, 1);
}

static void *late_thread(void *arg)
{
    (void)arg;
    void *p = hak_malloc(200);
    if (!p)
        return NULL;
    fill_block(p, 200);
    pthread_setspecific(late_key, p);
    /* leave some state behind in the thread caches */
    for (int i = 0; i < 1000; i++)
        hak_free(hak_malloc(16 + (size_t)(i % 64) * 16));
    return NULL;
}

START_TEST(test_thread_exit_destructor_can_still_allocate)
{
    /* make sure hakmem is initialised (and its key exists) before ours */
    hak_free(hak_malloc(1));
    EXPECT_INT_EQ(pthread_key_create(&late_key, late_destructor), 0);
    enum { N = 20 };
    for (int i = 0; i < N; i++) {
        pthread_t t;
        EXPECT_INT_EQ(pthread_create(&t, NULL, late_thread, NULL), 0);
        pthread_join(t, NULL);
    }
    pthread_key_delete(late_key);
    EXPECT_INT_EQ(atomic_load(&late_ok), N);
}
END_TEST

/* ------------------------------------------------------------------ */
/* (c) fork from a multi-threaded process                              */

/* Skipped under --enable-sanitizer=thread: ThreadSanitizer does not
 * support a fork in a multi-threaded process (a child that starts a thread
 * dies), and hakmem's fork handler holds all its locks at once, 74, more
 * than TSan's deadlock detector can track (64: it stops the process). */
#define TSAN_FORK_WHY "ThreadSanitizer does not support fork() in a multi-threaded process, " \
    "and hakmem's fork handler holds more locks at once (74) than its deadlock detector tracks (64)"

enum { HAMMER_SLOTS = 256 };

struct hammer {
    _Atomic(void *) p[HAMMER_SLOTS];
    size_t size[HAMMER_SLOTS];
    uint64_t rng;
    atomic_long ops;
};

static atomic_int hammer_stop;
static atomic_long hammer_bad;

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    while (!atomic_load_explicit(&hammer_stop, memory_order_relaxed)) {
        unsigned i = (unsigned)(rng_next(&h->rng) % HAMMER_SLOTS);
        void *old = atomic_exchange(&h->p[i], NULL);
        if (old) {
            if (!block_ok(old, h->size[i]))
                atomic_fetch_add(&hammer_bad, 1);
            hak_free(old);
        }
        size_t s = random_size(&h->rng, 2);
        void *p = hak_malloc(s);
        if (!p) {
            atomic_fetch_add(&hammer_bad, 1);
            continue;
        }
        fill_block(p, s);
        h->size[i] = s;
        atomic_store_explicit(&h->p[i], p, memory_order_release); /* published only when filled */
        atomic_fetch_add_explicit(&h->ops, 1, memory_order_relaxed);
    }
    for (int i = 0; i < HAMMER_SLOTS; i++) {
        void *p = atomic_exchange(&h->p[i], NULL);
        if (p) {
            if (!block_ok(p, h->size[i]))
                atomic_fetch_add(&hammer_bad, 1);
            hak_free(p);
        }
    }
    return NULL;
}

static void *child_thread(void *arg)
{
    int *ok = arg;
    *ok = 0;
    for (int i = 0; i < 2000; i++) {
        size_t s = 16 + (size_t)(i * 53) % 70000;
        void *p = hak_malloc(s);
        if (!p)
            return NULL;
        fill_block(p, s);
        if (!block_ok(p, s))
            return NULL;
        hak_free(p);
    }
    *ok = 1;
    return NULL;
}

/* The forked child: exit status 0 on success, else a code naming the step. */
static int fork_child(struct hammer *hs, int nh, void **mine, size_t *mine_size, int nmine)
{
    static const size_t sizes[] = { 1, 16, 100, 1024, 1025, 5000, 65536, 200000, 262144, 300000, 3 * MiB };
    void *keep[sizeof sizes / sizeof sizes[0]];
    /* blocks this thread allocated before fork */
    for (int i = 0; i < nmine; i++) {
        if (!block_ok(mine[i], mine_size[i]))
            return 10;
        hak_free(mine[i]);
    }
    /* blocks owned by the hammer threads, which do not exist here */
    for (int t = 0; t < nh; t++)
        for (int i = 0; i < HAMMER_SLOTS; i++) {
            void *p = atomic_load_explicit(&hs[t].p[i], memory_order_acquire);
            if (!p)
                continue;
            if (!block_ok(p, hs[t].size[i]))
                return 11;
            hak_free(p);
        }
    /* fresh allocations across tiny / mid / large */
    for (int round = 0; round < 5; round++) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            void *p = hak_malloc(sizes[k]);
            if (!p)
                return 12;
            fill_block(p, sizes[k]);
            keep[k] = p;
        }
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            if (!block_ok(keep[k], sizes[k]))
                return 13;
            hak_free(keep[k]);
        }
    }
    void *c = hak_calloc(1000, 100);
    if (!c)
        return 14;
    void *r = hak_realloc(c, 500000);
    if (!r)
        return 15;
    hak_free(r);
    /* and a new thread in the child */
    pthread_t t;
    int ok = 0;
    if (pthread_create(&t, NULL, child_thread, &ok) != 0)
        return 16;
    pthread_join(t, NULL);
    if (!ok)
        return 17;
    return 0;
}

START_TEST(test_fork_while_threads_allocate_child_can_allocate)
{
    SKIP_UNDER_SANITIZER("thread", TSAN_FORK_WHY);
    enum { NH = 2, FORKS = 8, NMINE = 200 };
    static struct hammer hs[NH];
    pthread_t th[NH];
    atomic_store(&hammer_stop, 0);
    atomic_store(&hammer_bad, 0);
    for (int i = 0; i < NH; i++) {
        memset(&hs[i], 0, sizeof hs[i]);
        hs[i].rng = mix64(900 + (uint64_t)i) | 1;
        EXPECT_INT_EQ(pthread_create(&th[i], NULL, hammer_thread, &hs[i]), 0);
    }
    uint64_t rng = 4242;
    for (int f = 0; f < FORKS; f++) {
        void *mine[NMINE];
        size_t mine_size[NMINE];
        for (int i = 0; i < NMINE; i++) {
            mine_size[i] = random_size(&rng, 5);
            mine[i] = hak_malloc(mine_size[i]);
            EXPECT_NONNULL(mine[i]);
            fill_block(mine[i], mine_size[i]);
        }
        usleep(10000 + (useconds_t)(rng_next(&rng) % 20000));
        pid_t pid = fork();
        EXPECT_INT_NE(pid, -1);
        if (pid == 0) {
            alarm(30);
            _exit(fork_child(hs, NH, mine, mine_size, NMINE));
        }
        /* wait, but never forever: a deadlocked child is a failure */
        int st = 0;
        double deadline = now_s() + 20;
        pid_t w;
        while ((w = waitpid(pid, &st, WNOHANG)) == 0 && now_s() < deadline)
            usleep(1000);
        if (w == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            atomic_store(&hammer_stop, 1);
            ck_abort_msg("fork %d: child did not finish within 20 s (deadlock after fork?)", f);
        }
        EXPECT(WIFEXITED(st), "fork %d: child killed by signal %d", f, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        EXPECT(WEXITSTATUS(st) == 0, "fork %d: child failed at step %d", f, WEXITSTATUS(st));
        for (int i = 0; i < NMINE; i++) {
            EXPECT1(block_ok(mine[i], mine_size[i]));
            hak_free(mine[i]);
        }
    }
    atomic_store(&hammer_stop, 1);
    long ops = 0;
    for (int i = 0; i < NH; i++) {
        pthread_join(th[i], NULL);
        ops += atomic_load(&hs[i].ops);
    }
    EXPECT_INT_EQ(atomic_load(&hammer_bad), 0);
    EXPECT_INT_GT(ops, 0);
}
END_TEST

START_TEST(test_fork_child_of_child_can_allocate)
{
    SKIP_UNDER_SANITIZER("thread", TSAN_FORK_WHY);
    /* fork twice in a row: the grandchild's allocator state must be sane */
    void *p = hak_malloc(1000);
    EXPECT_NONNULL(p);
    fill_block(p, 1000);
    pid_t pid = fork();
    EXPECT_INT_NE(pid, -1);
    if (pid == 0) {
        alarm(20);
        pid_t g = fork();
        if (g < 0)
            _exit(2);
        void *q = hak_malloc(5000);
        if (!q || !block_ok(p, 1000))
            _exit(3);
        fill_block(q, 5000);
        hak_free(p);
        hak_free(q);
        if (g == 0)
            _exit(0);
        int st;
        if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            _exit(4);
        _exit(0);
    }
    int st;
    EXPECT_INT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
    EXPECT1(block_ok(p, 1000));
    hak_free(p);
}
END_TEST

static Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");

    TCase *tc = tcase_create("cross_thread");
    tcase_set_timeout(tc, timeout_at_least(60));
    tcase_add_test(tc, test_cross_thread_free_preserves_contents);
    tcase_add_test(tc, test_cross_thread_free_many_threads_with_large_blocks);
    tcase_add_test(tc, test_cross_thread_free_repeated_rounds_rss_bounded);
    suite_add_tcase(s, tc);

    tc = tcase_create("churn");
    tcase_set_timeout(tc, timeout_at_least(60));
    tcase_add_test(tc, test_thread_churn_larson_bounded_rss);
    tcase_add_test(tc, test_thread_exit_destructor_can_still_allocate);
    suite_add_tcase(s, tc);

    tc = tcase_create("fork");
    tcase_set_timeout(tc, timeout_at_least(60));
    tcase_add_test(tc, test_fork_while_threads_allocate_child_can_allocate);
    tcase_add_test(tc, test_fork_child_of_child_can_allocate);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *g = getenv("TEST_CHURN_GENERATIONS");
    if (g && atoi(g) > BASE_GEN)
        churn_generations = atoi(g);
    struct rlimit rl = { 0, 0 };
    setrlimit(RLIMIT_CORE, &rl);
    SRunner *sr = srunner_create(threads_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
