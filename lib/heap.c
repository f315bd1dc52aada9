/* heap.c — thread heaps: creation on a thread's first allocation, teardown
 * at thread exit (pthread key destructor), the shared heap that serves
 * threads already torn down, and the fork handlers.
 *
 * hak_tls_heap starts as &hak_heap_empty, whose lists are empty and whose
 * caps are zero: the fast paths need no "initialised?" test, they simply
 * miss into the slow path, which creates the heap. */
#include "alloc.h"

#include <string.h>

hak_heap_t hak_heap_empty = { .kind = HAK_HEAP_SENTINEL };
static hak_heap_t heap_dead = { .kind = HAK_HEAP_SENTINEL };
static hak_heap_t heap_shared = { .kind = HAK_HEAP_SHARED };

__thread hak_heap_t *hak_tls_heap __attribute__((tls_model("initial-exec"))) = &hak_heap_empty;

static pthread_mutex_t heaps_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_heap_t *heaps;               /* live thread heaps */
static hak_heap_t *heaps_free;          /* recycled */
static pthread_key_t heap_key;

static void heap_setup(hak_heap_t *h, int kind)
{
    /* not notify: a thread freeing into a span of this heap's last life
     * may be about to find it closed (or, reopened, empty: then the new
     * owner passes over the span, which is no longer its) */
    memset(h, 0, offsetof(hak_heap_t, notify));
    atomic_store_explicit(&h->notify, NULL, memory_order_release);
    h->kind = kind;
    for (unsigned c = 0; c < HAK_NCLASS; c++)
        h->sll[c].cap = h->sll[c].room = hak_classes[c].cap;
}

/* A retired heap taken by a new thread: teardown left the lists of every
 * class it touched empty and their counts folded into the totals, and
 * nothing else was ever used, so only those classes need their counts
 * reset (the whole struct is a few KiB; a thread that lives for one
 * allocation would pay more for the memset than for the allocation). */
static void heap_reuse(hak_heap_t *h)
{
    for (uint64_t m = hak_heap_classes(h); m != 0; m &= m - 1) {
        unsigned c = (unsigned)__builtin_ctzll(m);
        hak_assert(h->sll[c].head == NULL && h->sll[c].room == (int32_t)h->sll[c].cap);
        hak_assert(h->avail[c] == NULL && h->full[c] == NULL);
        h->sll[c].frees = 0;
        memset(&h->cls_counts[c], 0, sizeof h->cls_counts[c]);
    }
    hak_assert(h->runs_held == 0 && h->kind == HAK_HEAP_THREAD);
    atomic_store_explicit(&h->classes, 0, memory_order_relaxed);
    atomic_store_explicit(&h->busy, 0, memory_order_relaxed);
    atomic_store_explicit(&h->slow_ticks, 0, memory_order_relaxed);
    h->seen_ticks = 0;
    h->seen_ms = 0;
    atomic_store_explicit(&h->notify, NULL, memory_order_release);
}

static void heap_link(hak_heap_t *h)
{
    h->prev_heap = NULL;
    h->next_heap = heaps;
    if (heaps)
        heaps->prev_heap = h;
    heaps = h;
}

static void heap_unlink(hak_heap_t *h)
{
    if (h->prev_heap)
        h->prev_heap->next_heap = h->next_heap;
    else
        heaps = h->next_heap;
    if (h->next_heap)
        h->next_heap->prev_heap = h->prev_heap;
}

static void heap_teardown(hak_heap_t *h)
{
    hak_tiny_close_notify(h);
    hak_tiny_flush(h);
    hak_tiny_orphan_all(h);
}

/* A heap's allocations and frees of class c.  The owner writes `frees`
 * and the tls_sll's room with plain stores on the free fast path (an
 * atomic there would cost an instruction), so a report reading a live
 * heap races with its thread: the figures are a snapshot, each word read
 * whole (aligned 64- and 32-bit loads), which is all a report needs.
 * ThreadSanitizer would flag those reads; they are deliberate, hence the
 * attribute (and the reads are spelt out here rather than through
 * hak_sll_count, which might not be inlined into an uninstrumented
 * function). */
__attribute__((no_sanitize("thread")))
static void class_counts(const hak_heap_t *h, unsigned c, hak_class_totals_t *t)
{
    const volatile hak_sll_t *l = &h->sll[c];
    uint64_t frees = l->frees, cached = (uint32_t)((int32_t)l->cap - l->room);
    const hak_class_counts_t *k = &h->cls_counts[c];
    uint64_t remote = atomic_load_explicit(&k->remote, memory_order_relaxed);
    t->allocs = atomic_load_explicit(&k->refilled, memory_order_relaxed) + frees -
                atomic_load_explicit(&k->spilled, memory_order_relaxed) - cached;
    t->frees = frees + remote;
    t->remote = remote;
}

/* Under heaps_lock, with the unlink (see counters_fold). */
static void class_counts_fold(hak_heap_t *h)
{
    for (uint64_t m = hak_heap_classes(h); m != 0; m &= m - 1) {
        unsigned c = (unsigned)__builtin_ctzll(m);
        hak_class_totals_t t;
        class_counts(h, c, &t);
        atomic_fetch_add_explicit(&hak_class_stats[c].allocs, t.allocs, memory_order_relaxed);
        atomic_fetch_add_explicit(&hak_class_stats[c].frees, t.frees, memory_order_relaxed);
        atomic_fetch_add_explicit(&hak_class_stats[c].remote, t.remote, memory_order_relaxed);
    }
}

/* Retired heaps and heapless threads, the shared heap (under its lock:
 * its lists change under it) and every live heap. */
void hak_heap_class_sum(hak_class_totals_t out[HAK_NCLASS])
{
    pthread_mutex_lock(&heaps_lock);
    pthread_mutex_lock(&shared_lock);
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        hak_class_totals_t t;
        out[c].allocs = atomic_load_explicit(&hak_class_stats[c].allocs, memory_order_relaxed);
        out[c].frees = atomic_load_explicit(&hak_class_stats[c].frees, memory_order_relaxed);
        out[c].remote = atomic_load_explicit(&hak_class_stats[c].remote, memory_order_relaxed);
        /* The shared heap before hak_heap_global_init: all zero. */
        class_counts(&heap_shared, c, &t);
        out[c].allocs += t.allocs;
        out[c].frees += t.frees;
        out[c].remote += t.remote;
        for (hak_heap_t *h = heaps; h != NULL; h = h->next_heap) {
            if (!(hak_heap_classes(h) >> c & 1))
                continue;
            class_counts(h, c, &t);
            out[c].allocs += t.allocs;
            out[c].frees += t.frees;
            out[c].remote += t.remote;
        }
    }
    pthread_mutex_unlock(&shared_lock);
    pthread_mutex_unlock(&heaps_lock);
}

#if HAKMEM_DEBUG_COUNTERS
/* Under heaps_lock, in the same critical section as the unlink, so that
 * hak_heap_counters_sum sees a heap's counts exactly once. */
static void counters_fold(hak_heap_t *h)
{
#define HAK_X(n) \
    atomic_fetch_add_explicit(&hak_counters.n, \
                              atomic_load_explicit(&h->counters.n, memory_order_relaxed), \
                              memory_order_relaxed); \
    atomic_store_explicit(&h->counters.n, 0, memory_order_relaxed);
    HAK_COUNTERS(HAK_X)
#undef HAK_X
}

/* Retired heaps and heapless threads, plus every live heap. */
void hak_heap_counters_sum(hak_counter_totals_t *out)
{
    pthread_mutex_lock(&heaps_lock);
#define HAK_X(n) out->n = atomic_load_explicit(&hak_counters.n, memory_order_relaxed);
    HAK_COUNTERS(HAK_X)
#undef HAK_X
    for (hak_heap_t *h = heaps; h != NULL; h = h->next_heap) {
#define HAK_X(n) out->n += atomic_load_explicit(&h->counters.n, memory_order_relaxed);
        HAK_COUNTERS(HAK_X)
#undef HAK_X
    }
    pthread_mutex_unlock(&heaps_lock);
}
#else
#define counters_fold(h) ((void)0)
#endif

static void heap_retire(hak_heap_t *h)
{
    pthread_mutex_lock(&heaps_lock);
    heap_unlink(h);
    counters_fold(h);
    class_counts_fold(h);
    h->next_heap = heaps_free;
    heaps_free = h;
    pthread_mutex_unlock(&heaps_lock);
    atomic_fetch_sub_explicit(&hak_stats.heaps, 1, memory_order_relaxed);
}

/* Other key destructors may still free or allocate after this one: they
 * find heap_dead, which frees by remote push and allocates from the shared
 * heap under a lock. */
static void heap_thread_exit(void *arg)
{
    hak_heap_t *h = arg;
    hak_large_publish();
    hak_tls_heap = &heap_dead;
    heap_teardown(h);
    heap_retire(h);
}

bool hak_heap_global_init(void)
{
    heap_setup(&heap_shared, HAK_HEAP_SHARED);
    return pthread_key_create(&heap_key, heap_thread_exit) == 0;
}

hak_heap_t *hak_heap_init_thread(void)
{
    hak_heap_t *h = hak_tls_heap;
    if (h != &hak_heap_empty)
        return h;
    pthread_mutex_lock(&heaps_lock);
    h = heaps_free;
    if (h != NULL)
        heaps_free = h->next_heap;
    pthread_mutex_unlock(&heaps_lock);
    if (h != NULL)
        heap_reuse(h);
    else if ((h = hak_meta_alloc(sizeof *h)) != NULL)
        heap_setup(h, HAK_HEAP_THREAD);
    else
        return NULL;
    pthread_mutex_lock(&heaps_lock);
    heap_link(h);
    pthread_mutex_unlock(&heaps_lock);
    atomic_fetch_add_explicit(&hak_stats.heaps, 1, memory_order_relaxed);
    /* Set the TLS pointer first: pthread_setspecific may allocate. */
    hak_tls_heap = h;
    pthread_setspecific(heap_key, h);
    return h;
}

hak_heap_t *hak_heap_lock_shared(void)
{
    pthread_mutex_lock(&shared_lock);
    return &heap_shared;
}

void hak_heap_unlock_shared(void) { pthread_mutex_unlock(&shared_lock); }

/* Before mapping a new span: spans of class c with remote frees waiting,
 * from the heap of a thread that has not been in its slow path for
 * HAK_STEAL_IDLE_MS (blocked in a join, say, while another thread frees
 * what it allocated: those frees would wait in its spans forever).  Not
 * merely since the last look: with more threads than cores a busy thread
 * is off the CPU for a few time slices at a time, and taking its spans
 * then only makes it take someone else's when it is back (prodcons with
 * 8 and 16 threads: tens of thousands of spans a second went round).
 * A heap whose thread is in its slow path right now is skipped, not
 * waited for. */
unsigned hak_heap_steal(hak_heap_t *self, unsigned c, hak_span_t **out, unsigned max)
{
    unsigned n = 0;
    uint64_t now = hak_now_ms();
    pthread_mutex_lock(&heaps_lock);
    for (hak_heap_t *v = heaps; v != NULL && n < max; v = v->next_heap) {
        if (v == self)
            continue;
        uint32_t ticks = atomic_load_explicit(&v->slow_ticks, memory_order_relaxed);
        if (ticks != v->seen_ticks || v->seen_ms == 0) {
            v->seen_ticks = ticks;
            v->seen_ms = now;
            continue;
        }
        if (now - v->seen_ms < HAK_STEAL_IDLE_MS)
            continue;
        int idle = 0;
        if (!atomic_compare_exchange_strong_explicit(&v->busy, &idle, 2, memory_order_acquire,
                                                     memory_order_relaxed))
            continue;
        n += hak_tiny_give_spans(v, self, c, out + n, max - n);
        atomic_store_explicit(&v->busy, 0, memory_order_release);
    }
    pthread_mutex_unlock(&heaps_lock);
    return n;
}

/* fork: hold every global lock across the fork, in one order, so the
 * child inherits consistent structures.  In the child only the forking
 * thread exists; the other heaps are torn down as if their threads had
 * exited, so their spans become orphans — except a heap whose thread was
 * changing its span lists at the moment of the fork: its lists cannot be
 * trusted, so it is left alone and what it held stays unused. */
void hak_heap_fork_prepare(void)
{
    pthread_mutex_lock(&heaps_lock);
    pthread_mutex_lock(&shared_lock);
    hak_orphan_lock();
    hak_superslab_lock();
    hak_bigcache_lock_all();
    hak_elo_lock();
    hak_large_lock();
    hak_batch_lock();
    hak_registry_lock();
    hak_meta_lock();
    hak_decay_lock();
}

void hak_heap_fork_parent(void)
{
    hak_decay_unlock();
    hak_meta_unlock();
    hak_registry_unlock();
    hak_batch_unlock();
    hak_large_unlock();
    hak_elo_unlock();
    hak_bigcache_unlock_all();
    hak_superslab_unlock();
    hak_orphan_unlock();
    pthread_mutex_unlock(&shared_lock);
    pthread_mutex_unlock(&heaps_lock);
}

void hak_heap_fork_child(void)
{
    hak_decay_fork_child();
    hak_meta_reset();
    hak_registry_reset();
    hak_batch_reset_lock();
    hak_large_reset_lock();
    hak_elo_reset_lock();
    hak_bigcache_reset_locks();
    hak_superslab_reset_lock();
    hak_orphan_reset_lock();
    pthread_mutex_init(&shared_lock, NULL);
    pthread_mutex_init(&heaps_lock, NULL);
    hak_heap_t *self = hak_tls_heap, *h = heaps, *next;
    for (; h != NULL; h = next) {
        next = h->next_heap;
        if (h == self)
            continue;
        if (atomic_load_explicit(&h->busy, memory_order_relaxed)) {
            heap_unlink(h);
            counters_fold(h);
            class_counts_fold(h);
            atomic_fetch_sub_explicit(&hak_stats.heaps, 1, memory_order_relaxed);
            continue;
        }
        /* Its held cross-thread frees may be caught mid-update (they are
         * changed without `busy`): pushing them could push a run twice.
         * Their blocks stay out, in this process only. */
        memset(h->runs, 0, sizeof h->runs);
        h->runs_held = 0;
        heap_teardown(h);
        heap_retire(h);
        /* and its thread may have been caught in a fast path, which
         * changes a list without `busy`: reset it whole, not by class
         * (keeping its link on the free list) */
        hak_heap_t *next_free = h->next_heap;
        heap_setup(h, HAK_HEAP_THREAD);
        h->next_heap = next_free;
    }
}
