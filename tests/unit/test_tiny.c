/* The tiny front end: tls_sll reuse, batch refill, spill, remote frees,
 * orphaning at thread exit and adoption, and the hardening checks. */
#include "unit.h"
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(test_free_then_malloc_reuses_block_lifo)
{
    unit_init();
    void *p = hak_malloc(40);
    hak_free(p);
    ck_assert_ptr_eq(hak_malloc(40), p);
}
END_TEST

/* A heap's first refill of a class takes a few blocks (a short-lived
 * thread gives back few at exit); the next one takes a batch. */
START_TEST(test_first_refill_takes_a_few_blocks_the_next_a_batch)
{
    unit_init();
    unsigned c = hak_size_class(200);
    void *p[5];
    p[0] = hak_malloc(200);
    ck_assert_uint_eq(hak_sll_count(&hak_tls_heap->sll[c]), 3);
    for (int i = 1; i < 5; i++)
        p[i] = hak_malloc(200);
    ck_assert_uint_eq(hak_sll_count(&hak_tls_heap->sll[c]), hak_classes[c].batch - 1);
    for (int i = 0; i < 5; i++)
        hak_free(p[i]);
}
END_TEST

/* Teardown visits only the classes a thread touched, and gives back all
 * they hold: a thread that allocated in two classes leaves nothing in its
 * cache, and its mask names those two. */
static void *alloc_two_classes(void *arg)
{
    uint64_t *mask = arg;
    void *a = hak_malloc(24), *b = hak_malloc(3000);
    *mask = hak_heap_classes(hak_tls_heap);
    hak_free(a);
    hak_free(b);
    return hak_tls_heap;
}

START_TEST(test_a_heap_knows_the_classes_it_touched)
{
    unit_init();
    uint64_t mask = 0;
    pthread_t t;
    void *h;
    pthread_create(&t, NULL, alloc_two_classes, &mask);
    pthread_join(t, &h);
    ck_assert_uint_eq(mask, ((uint64_t)1 << hak_size_class(24)) | ((uint64_t)1 << hak_size_class(3000)));
    for (unsigned c = 0; c < HAK_NCLASS; c++)
        ck_assert_uint_eq(hak_sll_count(&((hak_heap_t *)h)->sll[c]), 0);
}
END_TEST

START_TEST(test_tls_list_never_exceeds_its_cap)
{
    unit_init();
    unsigned c = hak_size_class(64);
    unsigned n = hak_classes[c].cap * 3;
    void **v = malloc(n * sizeof *v);
    for (unsigned i = 0; i < n; i++)
        v[i] = hak_malloc(64);
    for (unsigned i = 0; i < n; i++) {
        hak_free(v[i]);
        ck_assert_uint_le(hak_sll_count(&hak_tls_heap->sll[c]), hak_classes[c].cap);
    }
    free(v);
}
END_TEST

/* Spills move runs of one span's blocks at a time; every block counts
 * once: in the cache, or back on its span (used drops). */
START_TEST(test_spilled_blocks_are_back_on_their_spans)
{
    unit_init();
    unsigned c = hak_size_class(48);
    unsigned n = hak_classes[c].cap * 4;
    void **v = malloc(n * sizeof *v);
    hak_span_t *spans[64];
    unsigned nspans = 0;
    for (unsigned i = 0; i < n; i++) {
        v[i] = hak_malloc(48);
        hak_span_t *s = hak_span_of((uintptr_t)v[i]);
        bool seen = false;
        for (unsigned k = 0; k < nspans; k++)
            seen |= spans[k] == s;
        if (!seen) {
            ck_assert_uint_lt(nspans, 64);
            spans[nspans++] = s;
        }
    }
    uint64_t used = 0;
    for (unsigned k = 0; k < nspans; k++)
        used += spans[k]->used;
    uint32_t cached = hak_sll_count(&hak_tls_heap->sll[c]);
    /* every other block first, so that runs are short */
    for (unsigned i = 0; i < n; i += 2)
        hak_free(v[i]);
    for (unsigned i = 1; i < n; i += 2)
        hak_free(v[i]);
    uint64_t after = 0;
    for (unsigned k = 0; k < nspans; k++)
        after += spans[k]->used;
    ck_assert_uint_eq(used - after, n + cached - hak_sll_count(&hak_tls_heap->sll[c]));
    ck_assert_uint_le(hak_sll_count(&hak_tls_heap->sll[c]), hak_classes[c].cap);
    free(v);
}
END_TEST

START_TEST(test_blocks_are_16_byte_aligned_and_distinct)
{
    unit_init();
    enum { N = 2000 };
    static char *v[N];
    for (int i = 0; i < N; i++) {
        size_t size = 1 + (size_t)(i * 37) % HAK_TINY_MAX;
        v[i] = hak_malloc(size);
        ck_assert_uint_eq((uintptr_t)v[i] % 16, 0);
        memset(v[i], i & 0xff, size);
    }
    for (int i = 0; i < N; i++) {
        size_t size = 1 + (size_t)(i * 37) % HAK_TINY_MAX;
        size_t bad = size;
        for (size_t k = 0; k < size && bad == size; k++)
            if ((unsigned char)v[i][k] != (i & 0xff))
                bad = k;
        ck_assert_uint_eq(bad, size);
        hak_free(v[i]);
    }
}
END_TEST

/* Frees arg in a thread of its own; returns that thread's heap. */
static void *remote_free_worker(void *arg)
{
    hak_free(arg);
    return hak_tls_heap;
}

START_TEST(test_cross_thread_free_lands_on_remote_queue)
{
    unit_init();
    void *p = hak_malloc(48);
    hak_span_t *s = hak_span_of((uintptr_t)p);
    pthread_t t;
    pthread_create(&t, NULL, remote_free_worker, p);
    pthread_join(t, NULL);
    ck_assert_ptr_eq(hak_remote_top(atomic_load(&s->remote)), p);
    ck_assert_uint_eq(hak_remote_count(atomic_load(&s->remote)), 1);
    unsigned used = s->used;
    ck_assert_uint_eq(hak_span_drain_remote(s), 1);
    ck_assert_uint_eq(s->used, used - 1);
}
END_TEST

/* An owner thread and a freeing thread, in turns: the owner allocates
 * blocks of one span until its cache is empty, the other frees them all,
 * the owner allocates once more and reports its cache, then frees. */
#define WHOLE_SIZE 512
static struct {
    pthread_barrier_t turn;
    void *blocks[4096];
    unsigned n;
    hak_span_t *span;
    bool one_span;
    unsigned cached_after_malloc, cached_after_free;
} whole;

static void *whole_owner(void *arg)
{
    (void)arg;
    unsigned c = hak_size_class(WHOLE_SIZE);
    whole.blocks[0] = hak_malloc(WHOLE_SIZE);
    whole.span = hak_span_of((uintptr_t)whole.blocks[0]);
    whole.n = 1;
    whole.one_span = true;
    while (whole.n < hak_classes[c].cap * 3 / 2 || hak_sll_count(&hak_tls_heap->sll[c]) > 0) {
        whole.blocks[whole.n] = hak_malloc(WHOLE_SIZE);
        whole.one_span &= hak_span_of((uintptr_t)whole.blocks[whole.n++]) == whole.span;
    }
    pthread_barrier_wait(&whole.turn);        /* the main thread frees them */
    pthread_barrier_wait(&whole.turn);
    void *p = hak_malloc(WHOLE_SIZE);
    whole.cached_after_malloc = hak_sll_count(&hak_tls_heap->sll[c]);
    hak_free(p);
    whole.cached_after_free = hak_sll_count(&hak_tls_heap->sll[c]);
    return NULL;
}

/* The owner learns a remote queue's length from the word it takes it
 * with, and an empty cache takes a drained span's free list whole, even
 * past its capacity (up to twice it): no walk over blocks that other
 * threads wrote.  Its next free spills it back below capacity. */
START_TEST(test_empty_cache_takes_a_remote_queue_whole)
{
    unit_init();
    unsigned c = hak_size_class(WHOLE_SIZE), cap = hak_classes[c].cap;
    pthread_barrier_init(&whole.turn, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, whole_owner, NULL);
    pthread_barrier_wait(&whole.turn);
    ck_assert(whole.one_span);
    ck_assert_uint_gt(whole.n, cap);
    ck_assert_uint_le(whole.n, 2 * cap);
    for (unsigned i = 0; i < whole.n; i++)
        hak_free(whole.blocks[i]);
    hak_tiny_push_runs(hak_tls_heap);        /* what this thread still holds */
    uintptr_t w = atomic_load(&whole.span->remote);
    ck_assert_uint_eq(hak_remote_count(w), whole.n);
    ck_assert_ptr_eq(hak_remote_top(w), whole.blocks[whole.n - 1]);
    pthread_barrier_wait(&whole.turn);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&whole.turn);
    ck_assert_uint_eq(whole.cached_after_malloc, whole.n - 1);
    ck_assert_uint_le(whole.cached_after_free, cap);
}
END_TEST

/* A thread freeing another thread's blocks of a full span holds them, a
 * run per span, and pushes each run with one CAS: at a full run, at its
 * next refill, at exit.  Blocks of a span the owner still allocates from
 * go at once. */
static struct {
    pthread_barrier_t turn;
    void *blocks[8];
    unsigned held;
} runs;

/* Allocates 48 B blocks until the span of the first is full and the cache
 * empty; the first 8 go to runs.blocks, the others to `rest`. */
static unsigned fill_a_span_of_48(void **rest, unsigned max)
{
    unsigned c = hak_size_class(48), n = 0;
    for (unsigned i = 0; i < 8; i++)
        runs.blocks[i] = hak_malloc(48);
    hak_span_t *s = hak_span_of((uintptr_t)runs.blocks[0]);
    while ((!hak_span_exhausted(s) || hak_sll_count(&hak_tls_heap->sll[c]) > 0) && n < max)
        rest[n++] = hak_malloc(48);
    return n;
}

static void *free_and_wait(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < 8; i++)
        hak_free(runs.blocks[i]);
    runs.held = hak_tls_heap->runs_held;
    pthread_barrier_wait(&runs.turn);         /* the main thread looks */
    pthread_barrier_wait(&runs.turn);
    return NULL;                              /* exit pushes the run */
}

START_TEST(test_cross_thread_frees_go_out_a_run_at_a_time)
{
    unit_init();
    static void *rest[4096];
    unsigned nrest = fill_a_span_of_48(rest, 4096);
    hak_span_t *s = hak_span_of((uintptr_t)runs.blocks[0]);
    ck_assert_uint_eq(s->list, HAK_LIST_FULL);
    for (unsigned i = 1; i < 8; i++)
        ck_assert_ptr_eq(hak_span_of((uintptr_t)runs.blocks[i]), s);
    pthread_barrier_init(&runs.turn, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, free_and_wait, NULL);
    pthread_barrier_wait(&runs.turn);
    ck_assert_uint_eq(runs.held, 1);
    ck_assert_uint_eq(atomic_load(&s->remote), 0);
    unsigned used = s->used;
    pthread_barrier_wait(&runs.turn);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&runs.turn);
    uintptr_t w = atomic_load(&s->remote);
    ck_assert_uint_eq(hak_remote_count(w), 8);
    ck_assert_ptr_eq(hak_remote_top(w), runs.blocks[7]);
    ck_assert_uint_eq(hak_span_drain_remote(s), 8);
    ck_assert_uint_eq(s->used, used - 8);
    for (unsigned i = 0; i < nrest; i++)
        hak_free(rest[i]);
}
END_TEST

static void *free_one_and_wait(void *arg)
{
    hak_free(arg);
    pthread_barrier_wait(&runs.turn);         /* the main thread looks */
    pthread_barrier_wait(&runs.turn);
    return NULL;
}

START_TEST(test_cross_thread_frees_into_a_span_in_use_go_at_once)
{
    unit_init();
    void *p = hak_malloc(48);
    hak_span_t *s = hak_span_of((uintptr_t)p);
    ck_assert_uint_eq(s->list, HAK_LIST_AVAIL);
    pthread_barrier_init(&runs.turn, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, free_one_and_wait, p);
    pthread_barrier_wait(&runs.turn);
    ck_assert_uint_eq(hak_remote_count(atomic_load(&s->remote)), 1);   /* while its thread lives */
    pthread_barrier_wait(&runs.turn);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&runs.turn);
}
END_TEST

/* The first free into a span on its owner's full list puts the span on
 * the owner's notify stack; the owner's next refill takes the stack and
 * allocates from the span again. */
static void *whole_owner_notified(void *arg)
{
    (void)arg;
    unsigned c = hak_size_class(WHOLE_SIZE);
    whole.blocks[0] = hak_malloc(WHOLE_SIZE);
    whole.span = hak_span_of((uintptr_t)whole.blocks[0]);
    whole.n = 1;
    whole.one_span = true;
    while (!hak_span_exhausted(whole.span) || hak_sll_count(&hak_tls_heap->sll[c]) > 0) {
        whole.blocks[whole.n] = hak_malloc(WHOLE_SIZE);
        whole.one_span &= hak_span_of((uintptr_t)whole.blocks[whole.n++]) == whole.span;
    }
    pthread_barrier_wait(&whole.turn);        /* the main thread frees one */
    pthread_barrier_wait(&whole.turn);
    whole.cached_after_malloc = hak_span_of((uintptr_t)hak_malloc(WHOLE_SIZE)) == whole.span;
    whole.cached_after_free = atomic_load(&whole.span->notified);
    return NULL;
}

START_TEST(test_a_free_into_a_full_span_notifies_its_owner)
{
    unit_init();
    pthread_barrier_init(&whole.turn, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, whole_owner_notified, NULL);
    pthread_barrier_wait(&whole.turn);
    ck_assert(whole.one_span);
    hak_span_t *s = whole.span;
    ck_assert_uint_eq(s->list, HAK_LIST_FULL);
    hak_heap_t *owner = atomic_load(&s->owner);
    hak_free(whole.blocks[0]);
    hak_tiny_push_runs(hak_tls_heap);
    ck_assert_uint_eq(atomic_load(&s->notified), 1);
    ck_assert_ptr_eq(atomic_load(&owner->notify), s);
    ck_assert_uint_eq(hak_remote_count(atomic_load(&s->remote)), 1);
    pthread_barrier_wait(&whole.turn);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&whole.turn);
    ck_assert_uint_eq(whole.cached_after_malloc, 1);   /* its next block came from s */
    ck_assert_uint_eq(whole.cached_after_free, 0);
}
END_TEST

/* A producer that keeps a large live set and hands its newest blocks to
 * another thread to free: what comes back to its full spans serves its
 * next allocations before anything new is carved, so the blocks out of
 * their spans (with the user, in caches or on remote queues) stay near
 * the live set plus one round (the shape of xmalloc-test).  Without the
 * notify stack the owner found those spans only by scanning its full
 * list, eight spans per refill, the old full spans of the live set first. */
#define PC_LIVE   (300 * 1024)
#define PC_ROUND  2048
#define PC_ROUNDS 20
static struct {
    pthread_barrier_t turn;
    void **live, **round;
    uint64_t out_base, out_most;
} pc;

static void *producer_with_live_set(void *arg)
{
    (void)arg;
    unsigned c = hak_size_class(64);
    for (unsigned i = 0; i < PC_LIVE; i++)
        pc.live[i] = hak_malloc(64);
    pc.out_base = atomic_load(&hak_class_stats[c].out);
    pc.out_most = 0;
    for (unsigned r = 0; r < PC_ROUNDS; r++) {
        for (unsigned i = 0; i < PC_ROUND; i++)
            pc.round[i] = hak_malloc(64);
        uint64_t out = atomic_load(&hak_class_stats[c].out) - pc.out_base;
        if (out > pc.out_most)
            pc.out_most = out;
        pthread_barrier_wait(&pc.turn);       /* the other thread frees them */
        pthread_barrier_wait(&pc.turn);
    }
    for (unsigned i = 0; i < PC_LIVE; i++)
        hak_free(pc.live[i]);
    return NULL;
}

START_TEST(test_producer_reuses_remotely_freed_blocks_before_carving_more)
{
    unit_init();
    pc.live = malloc(PC_LIVE * sizeof *pc.live);
    pc.round = malloc(PC_ROUND * sizeof *pc.round);
    pthread_barrier_init(&pc.turn, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, producer_with_live_set, NULL);
    for (unsigned r = 0; r < PC_ROUNDS; r++) {
        pthread_barrier_wait(&pc.turn);
        for (unsigned i = PC_ROUND; i-- > 0;)
            hak_free(pc.round[i]);
        hak_tiny_push_runs(hak_tls_heap);
        pthread_barrier_wait(&pc.turn);
    }
    pthread_join(t, NULL);
    pthread_barrier_destroy(&pc.turn);
    free(pc.live);
    free(pc.round);
    /* a round, and what a refill carves or caches beyond it */
    ck_assert_uint_le(pc.out_most, 3 * PC_ROUND);
}
END_TEST

/* A thread that only frees gets a heap of its own at its first cross-
 * thread free, so that it can hold runs; heaps of exited threads are
 * reused by the threads that come after them. */
START_TEST(test_a_thread_that_only_frees_gets_a_heap_and_heaps_are_reused)
{
    unit_init();
    void *first = NULL;
    for (int i = 0; i < 20; i++) {
        pthread_t t;
        void *h;
        pthread_create(&t, NULL, remote_free_worker, hak_malloc(48));
        pthread_join(t, &h);
        ck_assert_ptr_ne(h, &hak_heap_empty);
        ck_assert_uint_eq(((hak_heap_t *)h)->kind, HAK_HEAP_THREAD);
        if (i == 0)
            first = h;
        ck_assert_ptr_eq(h, first);            /* the one heap, retired and taken again */
    }
}
END_TEST

static void *alloc_and_exit(void *arg)
{
    void **out = arg;
    for (int i = 0; i < 100; i++)
        out[i] = hak_malloc(96);
    return NULL;
}

/* 100 blocks of 96 bytes from a thread that has exited: one orphan span. */
static hak_span_t *orphaned_blocks(void **blocks)
{
    pthread_t t;
    pthread_create(&t, NULL, alloc_and_exit, blocks);
    pthread_join(t, NULL);
    return hak_span_of((uintptr_t)blocks[0]);
}

/* glibc frees a dead detached thread's TLS holding the lock that
 * pthread_create takes: a free that started the decay thread deadlocked.
 * Frees leave the start to the next allocation's slow path. */
START_TEST(test_frees_never_start_the_decay_thread_allocations_do)
{
    unit_init();
    if (!hak_opt.decay_thread)
        return;
    void *v[100];
    orphaned_blocks(v);
    hak_decay_wake(SIZE_MAX);                 /* a layer holds enough: wanted */
    ck_assert(hak_decay_thread_wanted());
    for (int i = 0; i < 100; i++)
        hak_free(v[i]);                       /* orphans' blocks: every one a slow path */
    ck_assert(hak_decay_thread_wanted());
    hak_free(hak_malloc(1 << 20));           /* a large malloc: always a slow path */
    ck_assert(!hak_decay_thread_wanted());
}
END_TEST

START_TEST(test_exited_thread_spans_are_orphaned_and_freed_into_remotely)
{
    unit_init();
    void *blocks[100];
    hak_span_t *s = orphaned_blocks(blocks);
    ck_assert_ptr_null(atomic_load(&s->owner));
    ck_assert_uint_eq(s->state, HAK_SPAN_ORPHAN);
    hak_free(blocks[0]);
    ck_assert_ptr_null(atomic_load(&s->owner));      /* not adopted by a free */
    ck_assert_ptr_eq(hak_remote_top(atomic_load(&s->remote)), blocks[0]);
    ck_assert_uint_eq(hak_remote_count(atomic_load(&s->remote)), 1);
    for (int i = 1; i < 100; i++)
        hak_free(blocks[i]);
}
END_TEST

START_TEST(test_orphan_is_adopted_by_a_refill_of_its_class)
{
    unit_init();
    void *blocks[100];
    hak_span_t *s = orphaned_blocks(blocks);
    for (int i = 0; i < 50; i++)
        hak_free(blocks[i]);
    uint64_t adopted = atomic_load(&hak_stats.adopted);
    void *p = hak_malloc(96);                        /* this thread's first 96 */
    ck_assert_ptr_eq(hak_span_of((uintptr_t)p), s);
    ck_assert_ptr_eq(atomic_load(&s->owner), hak_tls_heap);
    ck_assert_uint_eq(atomic_load(&hak_stats.adopted), adopted + 1);
    hak_free(p);
    for (int i = 50; i < 100; i++)
        hak_free(blocks[i]);
}
END_TEST

START_TEST(test_fully_freed_orphan_is_released_by_the_decay)
{
    unit_init();
    void *blocks[100];
    hak_span_t *s = orphaned_blocks(blocks);
    for (int i = 0; i < 100; i++)
        hak_free(blocks[i]);
    ck_assert_uint_eq(s->state, HAK_SPAN_ORPHAN);
    ck_assert_uint_ge(hak_tiny_reclaim_orphans(), 1);
    ck_assert_uint_eq(s->state, HAK_SPAN_FREE);
}
END_TEST

/* The blocks of a thread blocked in pthread_join, freed by the thread it
 * waits for, which then allocates as many of the same size: at once, or
 * (`wait`) after its first allocation, when its refill has seen the
 * waiting thread, sleeps past HAK_STEAL_IDLE_MS and then goes on. */
#define STEAL_SIZE   176
#define STEAL_BLOCKS 2000
static void *steal_blocks[STEAL_BLOCKS];

static void *free_all_then_allocate(void *wait)
{
    for (int i = 0; i < STEAL_BLOCKS; i++)
        hak_free(steal_blocks[i]);
    for (int i = 0; i < STEAL_BLOCKS; i++) {
        steal_blocks[i] = hak_malloc(STEAL_SIZE);
        if (i == 0 && wait != NULL)
            usleep(2 * HAK_STEAL_IDLE_MS * 1000);
    }
    return NULL;
}

/* How many of steal_blocks lie in one of the spans in `was`. */
static unsigned blocks_in(hak_span_t *const *was, unsigned n)
{
    unsigned in = 0;
    for (int i = 0; i < STEAL_BLOCKS; i++) {
        uintptr_t a = (uintptr_t)steal_blocks[i];
        for (unsigned k = 0; k < n; k++)
            if (a - was[k]->start < (uintptr_t)was[k]->nslabs << HAK_SLAB_SHIFT) {
                in++;
                break;
            }
    }
    return in;
}

START_TEST(test_spans_of_an_idle_thread_are_stolen_instead_of_mapping_new_ones)
{
    unit_init();
    for (int i = 0; i < STEAL_BLOCKS; i++)
        steal_blocks[i] = hak_malloc(STEAL_SIZE);
    hak_span_t *was[STEAL_BLOCKS];
    unsigned spans = 0;
    for (int i = 0; i < STEAL_BLOCKS; i++) {
        hak_span_t *s = hak_span_of((uintptr_t)steal_blocks[i]);
        if (spans == 0 || was[spans - 1] != s)
            was[spans++] = s;
    }
    ck_assert_uint_ge(spans, 4);
    uint64_t stolen = atomic_load(&hak_stats.stolen);
    pthread_t t;
    pthread_create(&t, NULL, free_all_then_allocate, "wait");
    pthread_join(t, NULL);
    /* The thief maps one span while it notes that this thread is idle;
     * after that it takes this thread's spans, drained of its frees (an
     * empty one goes back to the SuperSlab and is taken again): nearly
     * all its blocks are where this thread's were. */
    ck_assert_uint_ge(atomic_load(&hak_stats.stolen), stolen + spans - 1);
    ck_assert_uint_ge(blocks_in(was, spans), STEAL_BLOCKS - 2 * was[0]->capacity);
    for (int i = 0; i < STEAL_BLOCKS; i++)
        hak_free(steal_blocks[i]);
}
END_TEST

/* A thread off the CPU for a moment (more threads than cores) keeps its
 * spans: the other thread maps new ones.  Unless the whole exchange took
 * longer than HAK_STEAL_IDLE_MS (a loaded machine), when stealing is
 * right. */
START_TEST(test_spans_of_a_thread_busy_a_moment_ago_are_not_stolen)
{
    unit_init();
    for (int i = 0; i < STEAL_BLOCKS; i++)
        steal_blocks[i] = hak_malloc(STEAL_SIZE);
    uint64_t stolen = atomic_load(&hak_stats.stolen);
    uint64_t start = hak_now_ms();
    pthread_t t;
    pthread_create(&t, NULL, free_all_then_allocate, NULL);
    pthread_join(t, NULL);
    if (hak_now_ms() - start < HAK_STEAL_IDLE_MS)
        ck_assert_uint_eq(atomic_load(&hak_stats.stolen), stolen);
    for (int i = 0; i < STEAL_BLOCKS; i++)
        hak_free(steal_blocks[i]);
}
END_TEST

START_TEST(test_cached_block_of_a_stolen_span_goes_back_by_remote_free)
{
    unit_init();
    for (int i = 0; i < STEAL_BLOCKS; i++)
        steal_blocks[i] = hak_malloc(STEAL_SIZE);
    void *kept = hak_malloc(STEAL_SIZE);
    hak_span_t *s = hak_span_of((uintptr_t)kept);
    hak_free(kept);                                  /* in this thread's cache */
    pthread_t t;
    pthread_create(&t, NULL, free_all_then_allocate, "wait");
    pthread_join(t, NULL);
    ck_assert_ptr_ne(atomic_load(&s->owner), hak_tls_heap);
    ck_assert_uint_eq(atomic_load(&s->remote), 0);
    hak_tiny_trim(hak_tls_heap);                     /* spills the cache */
    bool found = false;
    for (uintptr_t b = (uintptr_t)hak_remote_top(atomic_load(&s->remote)); b != 0; b = hak_link_decode((void *)b))
        found |= b == (uintptr_t)kept;
    ck_assert(found);
    for (int i = 0; i < STEAL_BLOCKS; i++)
        hak_free(steal_blocks[i]);
    /* counted once as allocated and once as freed, whatever its path */
    hak_class_totals_t sum[HAK_NCLASS];
    hak_heap_class_sum(sum);
    unsigned c = hak_size_class(STEAL_SIZE);
    ck_assert_uint_eq(sum[c].allocs, 2 * STEAL_BLOCKS + 1);
    ck_assert_uint_eq(sum[c].frees, 2 * STEAL_BLOCKS + 1);
}
END_TEST

START_TEST(test_empty_span_returns_to_superslab)
{
    unit_init();
    unsigned c = hak_size_class(512);
    unsigned per_span = hak_classes[c].nslabs * HAK_SLAB_SIZE / hak_classes[c].bsize;
    unsigned n = per_span * 4;
    void **v = malloc(n * sizeof *v);
    for (unsigned i = 0; i < n; i++)
        v[i] = hak_malloc(512);
    uint64_t released = atomic_load(&hak_stats.spans_released);
    for (unsigned i = 0; i < n; i++)
        hak_free(v[i]);
    ck_assert_uint_ge(atomic_load(&hak_stats.spans_released), released + 2);
    free(v);
}
END_TEST

START_TEST(test_double_free_aborts)
{
    unit_init();
    void *p = hak_malloc(24);
    hak_free(p);
    hak_free(p);
}
END_TEST

START_TEST(test_double_free_after_many_frees_aborts)
{
    unit_init();
    unsigned c = hak_size_class(24);
    unsigned n = hak_classes[c].cap * 2 + 1;
    void **v = malloc(n * sizeof *v);
    for (unsigned i = 0; i < n; i++)
        v[i] = hak_malloc(24);
    for (unsigned i = 0; i < n; i++)
        hak_free(v[i]);
    hak_free(v[0]);     /* the cache has spilled several times since */
}
END_TEST

START_TEST(test_corrupted_link_aborts_on_malloc)
{
    unit_init();
    void *a = hak_malloc(32), *b = hak_malloc(32);
    hak_free(a);
    hak_free(b);
    ((uintptr_t *)b)[0] ^= 1;          /* write after free */
    ck_assert_ptr_nonnull(hak_malloc(32));
}
END_TEST

static void *free_and_corrupt(void *arg)
{
    hak_free(arg);
    ((uintptr_t *)arg)[0] ^= 1;        /* write after free */
    return NULL;
}

/* The queue's links are not walked when it is taken: the malloc that
 * reaches the corrupted one aborts.  (Here the freeing thread holds its
 * free until it exits, a run of one block, and the push finds the
 * corrupted link first.) */
START_TEST(test_corrupted_link_in_remote_queue_aborts_on_malloc)
{
    unit_init();
    unsigned c = hak_size_class(WHOLE_SIZE);
    void *p = hak_malloc(WHOLE_SIZE);
    while (hak_sll_count(&hak_tls_heap->sll[c]) > 0)
        ck_assert_ptr_nonnull(hak_malloc(WHOLE_SIZE));
    pthread_t t;
    pthread_create(&t, NULL, free_and_corrupt, p);
    pthread_join(t, NULL);
    for (unsigned i = 0; i <= 2 * hak_classes[c].cap; i++)
        ck_assert_ptr_nonnull(hak_malloc(WHOLE_SIZE));
}
END_TEST

START_TEST(test_interior_pointer_free_aborts)
{
    unit_init();
    char *p = hak_malloc(64);
    hak_free(p + 16);
}
END_TEST

/* Why the fork checks are skipped under --enable-sanitizer=thread. */
#define TSAN_FORK_WHY "fork() with a live thread: ThreadSanitizer does not support fork in a " \
    "multi-threaded process, and hakmem's fork handler holds more locks at once (74) " \
    "than its deadlock detector can track (64)"

/* A thread that owns a span and stays alive until released. */
static pthread_barrier_t owner_ready, owner_done;
static void *owner_heap;
static void *owned_block;

static void *alloc_and_wait(void *arg)
{
    owned_block = hak_malloc(144);
    owner_heap = hak_tls_heap;
    pthread_barrier_wait(&owner_ready);
    pthread_barrier_wait(&owner_done);
    return NULL;
}

/* Forks while another thread owns spans; returns the child's exit status:
 * 0 if the span ended as the child expected (orphaned, or left to its
 * owner when the owner was marked busy) and the child could allocate. */
static int fork_with_live_owner(bool busy)
{
    pthread_t t;
    pthread_barrier_init(&owner_ready, NULL, 2);
    pthread_barrier_init(&owner_done, NULL, 2);
    pthread_create(&t, NULL, alloc_and_wait, NULL);
    pthread_barrier_wait(&owner_ready);
    hak_heap_t *h = owner_heap;
    hak_span_t *s = hak_span_of((uintptr_t)owned_block);
    if (busy)
        atomic_store(&h->busy, 1);
    pid_t pid = fork();
    if (pid == 0) {
        hak_heap_t *o = atomic_load(&s->owner);
        bool as_expected = busy ? o == h : o == NULL && s->state == HAK_SPAN_ORPHAN;
        void *p = hak_malloc(144), *q = hak_malloc(100000);
        hak_free(p);
        hak_free(q);
        hak_free(owned_block);
        _exit(as_expected && p && q ? 0 : 1);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    atomic_store(&h->busy, 0);
    pthread_barrier_wait(&owner_done);
    pthread_join(t, NULL);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(test_fork_child_orphans_spans_of_other_threads)
{
    SKIP_UNDER_SANITIZER("thread", TSAN_FORK_WHY);
    unit_init();
    ck_assert_int_eq(fork_with_live_owner(false), 0);
}
END_TEST

START_TEST(test_fork_child_leaves_alone_a_heap_caught_mid_update)
{
    SKIP_UNDER_SANITIZER("thread", TSAN_FORK_WHY);
    unit_init();
    ck_assert_int_eq(fork_with_live_owner(true), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tiny");
    TCase *tc = tcase_create("front end");
    UNIT_TEST(tc, test_free_then_malloc_reuses_block_lifo);
    UNIT_TEST(tc, test_first_refill_takes_a_few_blocks_the_next_a_batch);
    UNIT_TEST(tc, test_a_heap_knows_the_classes_it_touched);
    UNIT_TEST(tc, test_tls_list_never_exceeds_its_cap);
    UNIT_TEST(tc, test_spilled_blocks_are_back_on_their_spans);
    UNIT_TEST(tc, test_blocks_are_16_byte_aligned_and_distinct);
    UNIT_TEST(tc, test_cross_thread_free_lands_on_remote_queue);
    UNIT_TEST(tc, test_empty_cache_takes_a_remote_queue_whole);
    UNIT_TEST(tc, test_cross_thread_frees_go_out_a_run_at_a_time);
    UNIT_TEST(tc, test_cross_thread_frees_into_a_span_in_use_go_at_once);
    UNIT_TEST(tc, test_a_free_into_a_full_span_notifies_its_owner);
    UNIT_TEST(tc, test_producer_reuses_remotely_freed_blocks_before_carving_more);
    UNIT_TEST(tc, test_a_thread_that_only_frees_gets_a_heap_and_heaps_are_reused);
    UNIT_TEST(tc, test_frees_never_start_the_decay_thread_allocations_do);
    UNIT_TEST(tc, test_exited_thread_spans_are_orphaned_and_freed_into_remotely);
    UNIT_TEST(tc, test_orphan_is_adopted_by_a_refill_of_its_class);
    UNIT_TEST(tc, test_fully_freed_orphan_is_released_by_the_decay);
    UNIT_TEST(tc, test_spans_of_an_idle_thread_are_stolen_instead_of_mapping_new_ones);
    UNIT_TEST(tc, test_spans_of_a_thread_busy_a_moment_ago_are_not_stolen);
    UNIT_TEST(tc, test_cached_block_of_a_stolen_span_goes_back_by_remote_free);
    UNIT_TEST(tc, test_empty_span_returns_to_superslab);
    UNIT_TEST(tc, test_fork_child_orphans_spans_of_other_threads);
    UNIT_TEST(tc, test_fork_child_leaves_alone_a_heap_caught_mid_update);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("misuse");
    tcase_add_test_raise_signal(tm, test_double_free_aborts, SIGABRT);
    tcase_add_test_raise_signal(tm, test_double_free_after_many_frees_aborts, SIGABRT);
    tcase_add_test_raise_signal(tm, test_corrupted_link_aborts_on_malloc, SIGABRT);
    tcase_add_test_raise_signal(tm, test_corrupted_link_in_remote_queue_aborts_on_malloc, SIGABRT);
    tcase_add_test_raise_signal(tm, test_interior_pointer_free_aborts, SIGABRT);
    suite_add_tcase(s, tm);
    return s;
}
UNIT_MAIN(suite)
