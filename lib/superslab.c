/* superslab.c — where spans come from and where they go back.
 *
 * SuperSlab mode: 2 MiB-aligned regions of 32 slabs; slab 0 holds the
 * header (its untouched pages cost address space, not memory).  A span is a
 * run of free slabs of any SuperSlab, for any class: one class per
 * SuperSlab would leave every class its own half-empty 2 MiB.  A SuperSlab
 * whose slabs are all free goes to a small cache, beyond it back to the
 * kernel.
 *
 * Standalone mode (--disable-superslab, HAKMEM_TINY_USE_SUPERSLAB=0): each
 * span is its own 64 KiB-aligned mapping with out-of-line metadata.
 *
 * All of it runs under one lock: a span serves hundreds of allocations. */
#include "internal.h"

#include <string.h>
#include <sys/mman.h>

#define SS_MAGIC   0x68616b5353ull      /* "hakSS" */
#define SS_USABLE  (~(uint32_t)1)       /* slab 0 is the header */

/* Free slab slots point here: its owner is never a heap, so the free fast
 * path falls through to the slow path, which reports the pointer. */
hak_span_t hak_span_none;

static pthread_mutex_t ss_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_ss_t   *ss_partial;          /* SuperSlabs with free slabs */
static hak_ss_t   *ss_empty;            /* cached, all slabs free */
static uint32_t    ss_empty_count;
static hak_span_t *standalone_free;     /* recycled out-of-line span records */
static uint32_t    dirty_slabs;         /* free slabs that may hold pages */

static void ss_list_push(hak_ss_t **head, hak_ss_t *ss)
{
    ss->prev = NULL;
    ss->next = *head;
    if (*head)
        (*head)->prev = ss;
    *head = ss;
}

static void ss_list_remove(hak_ss_t **head, hak_ss_t *ss)
{
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        *head = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
    ss->next = ss->prev = NULL;
}

static hak_ss_t *ss_new(void)
{
    hak_ss_t *ss = ss_empty;
    if (ss != NULL) {
        ss_list_remove(&ss_empty, ss);
        ss_empty_count--;
        return ss;
    }
    /* Memory given back earlier comes before a new mapping. */
    bool zero = true;
    uint8_t huge = HAK_HUGE_NONE;
    if ((ss = hak_batch_map(HAK_SS_SIZE, HAK_SS_SIZE, &zero, &huge)) == NULL)
        return NULL;
    /* A small heap keeps small pages: a huge one would make a 2 MiB
     * SuperSlab resident for its first few blocks.  A big heap walks more
     * pages than the TLB holds, and a huge page is one TLB entry and one
     * fault where 4 KiB pages are 512 of each. */
    size_t mapped = (size_t)atomic_load_explicit(&hak_stats.superslabs, memory_order_relaxed) * HAK_SS_SIZE;
    uint8_t want = mapped >= hak_opt.ss_hugepage_after ? HAK_HUGE_ALL : HAK_HUGE_NONE;
    if (want != huge)
        hak_os_advise(ss, HAK_SS_SIZE, want == HAK_HUGE_ALL ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    if (!zero)
        memset(ss, 0, sizeof *ss);
    ss->huge = want;
    ss->magic = SS_MAGIC;
    ss->free_mask = SS_USABLE;
    for (unsigned i = 0; i < HAK_SS_SLABS; i++)
        ss->chunk.span_of[i] = &hak_span_none;
    if (!hak_registry_set((uintptr_t)ss, HAK_SS_SIZE, (uintptr_t)&ss->chunk | HAK_TAG_CHUNK)) {
        /* No room for its registry entry (commit limit, max_map_count):
         * the mapping goes back whole, and the refill fails with ENOMEM. */
        hak_batch_release(ss, HAK_SS_SIZE, sizeof *ss, ss->huge);
        return NULL;
    }
    hak_stats_add(&hak_stats.superslabs, 1, &hak_stats.superslabs_peak);
    hak_stats_add(&hak_stats.slab_mapped, HAK_SS_SIZE, NULL);
    HAK_COUNT(refill_new_ss);
    return ss;
}

static void ss_unmap(hak_ss_t *ss)
{
    hak_registry_set((uintptr_t)ss, HAK_SS_SIZE, 0);
    hak_stats_add(&hak_stats.superslabs, -1, NULL);
    hak_stats_add(&hak_stats.slab_mapped, -(int64_t)HAK_SS_SIZE, NULL);
    dirty_slabs -= (uint32_t)__builtin_popcount(ss->dirty_mask);
    hak_batch_release(ss, HAK_SS_SIZE, HAK_SS_SIZE, ss->huge);
}

static void ss_retire(hak_ss_t *ss)
{
    if (ss_empty_count < hak_opt.ss_cache) {
        ss_list_push(&ss_empty, ss);
        ss_empty_count++;
        return;
    }
    ss_unmap(ss);
}

/* First run of n free slabs in mask, or -1. */
static int find_run(uint32_t mask, unsigned n)
{
    uint32_t run = (n == 32) ? ~0u : ((1u << n) - 1);
    for (unsigned i = 1; i + n <= HAK_SS_SLABS; i++)
        if (((mask >> i) & run) == run)
            return (int)i;
    return -1;
}

static hak_span_t *ss_acquire(unsigned cls, unsigned n)
{
    hak_ss_t *ss;
    int first = -1;
    for (ss = ss_partial; ss != NULL; ss = ss->next)
        if ((first = find_run(ss->free_mask, n)) >= 0)
            break;
    if (ss == NULL) {
        ss = ss_new();
        if (ss == NULL)
            return NULL;
        ss_list_push(&ss_partial, ss);
        first = find_run(ss->free_mask, n);
        hak_assert(first > 0);
    }
    uint32_t bits = ((n == 32) ? ~0u : ((1u << n) - 1)) << first;
    ss->free_mask &= ~bits;
    if (ss->pending_mask & bits)
        hak_batch_cancel((char *)ss + ((size_t)first << HAK_SLAB_SHIFT), (size_t)n << HAK_SLAB_SHIFT);
    ss->pending_mask &= ~bits;
    dirty_slabs -= (uint32_t)__builtin_popcount(ss->dirty_mask & bits);
    ss->dirty_mask &= ~bits;
    if (ss->free_mask == 0)
        ss_list_remove(&ss_partial, ss);
    hak_span_t *s = &ss->spans[first];
    hak_span_init(s, cls, (uintptr_t)ss + ((size_t)first << HAK_SLAB_SHIFT), n);
    s->ss = ss;
    s->first_slab = (uint32_t)first;
    for (unsigned i = 0; i < n; i++)
        ss->chunk.span_of[first + i] = s;
    return s;
}

static void ss_release(hak_span_t *s)
{
    hak_ss_t *ss = s->ss;
    unsigned first = s->first_slab, n = s->nslabs;
    for (unsigned i = 0; i < n; i++)
        ss->chunk.span_of[first + i] = &hak_span_none;
    bool was_full = ss->free_mask == 0;
    uint32_t bits = ((n == 32) ? ~0u : ((1u << n) - 1)) << first;
    ss->free_mask |= bits;
    dirty_slabs += (uint32_t)__builtin_popcount(bits & ~ss->dirty_mask);
    ss->dirty_mask |= bits;
    ss->released_ms = hak_now_ms();
    hak_decay_wake((size_t)dirty_slabs << HAK_SLAB_SHIFT);
    if (was_full)
        ss_list_push(&ss_partial, ss);
    if (ss->free_mask == SS_USABLE) {
        ss_list_remove(&ss_partial, ss);
        ss_retire(ss);
    }
}

/* Points the registry slots of n standalone slabs at `to`.  Their window
 * tables exist: standalone_acquire made them before mapping. */
static void standalone_map(uintptr_t base, unsigned n, hak_span_t *to)
{
    for (unsigned i = 0; i < n; i++) {
        uintptr_t a = base + ((size_t)i << HAK_SLAB_SHIFT);
        hak_chunk_t *c = hak_registry_chunk_for(a);
        hak_assert(c != NULL);
        c->span_of[(a >> HAK_SLAB_SHIFT) & (HAK_SS_SLABS - 1)] = to;
    }
}

static hak_span_t *standalone_acquire(unsigned cls, unsigned n)
{
    size_t bytes = (size_t)n << HAK_SLAB_SHIFT;
    hak_span_t *s = standalone_free;
    if (s != NULL)
        standalone_free = s->next;
    else if ((s = hak_meta_alloc(sizeof *s)) == NULL)
        return NULL;
    void *base = hak_os_map_aligned(bytes, HAK_SLAB_SIZE);
    if (base == NULL) {
        s->next = standalone_free;
        standalone_free = s;
        return NULL;
    }
    /* Window tables first, so that registering cannot fail half-way. */
    for (unsigned i = 0; i < n; i++) {
        if (hak_registry_chunk_for((uintptr_t)base + ((size_t)i << HAK_SLAB_SHIFT)) == NULL) {
            hak_os_unmap(base, bytes);
            s->next = standalone_free;
            standalone_free = s;
            return NULL;
        }
    }
    hak_span_init(s, cls, (uintptr_t)base, n);
    s->ss = NULL;
    hak_stats_add(&hak_stats.slab_mapped, (int64_t)bytes, NULL);
    standalone_map((uintptr_t)base, n, s);
    return s;
}

static void standalone_release(hak_span_t *s)
{
    unsigned n = s->nslabs;
    uintptr_t base = s->start;
    standalone_map(base, n, &hak_span_none);
    hak_os_unmap((void *)base, (size_t)n << HAK_SLAB_SHIFT);
    hak_stats_add(&hak_stats.slab_mapped, -((int64_t)n << HAK_SLAB_SHIFT), NULL);
    s->next = standalone_free;
    standalone_free = s;
}

hak_span_t *hak_span_acquire(unsigned cls)
{
    unsigned n = hak_classes[cls].nslabs;
    pthread_mutex_lock(&ss_lock);
    hak_span_t *s = hak_opt.use_superslab ? ss_acquire(cls, n) : standalone_acquire(cls, n);
    pthread_mutex_unlock(&ss_lock);
    if (s != NULL)
        atomic_fetch_add_explicit(&hak_stats.spans_acquired, 1, memory_order_relaxed);
    return s;
}

void hak_span_release(hak_span_t *s)
{
    hak_assert(s->used == 0 && atomic_load_explicit(&s->notified, memory_order_relaxed) == 0);
    atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
    s->state = HAK_SPAN_FREE;
    atomic_store_explicit(&s->list, HAK_LIST_NONE, memory_order_relaxed);
    pthread_mutex_lock(&ss_lock);
    if (s->ss != NULL)
        ss_release(s);
    else
        standalone_release(s);
    pthread_mutex_unlock(&ss_lock);
    atomic_fetch_add_explicit(&hak_stats.spans_released, 1, memory_order_relaxed);
}

/* Queues for decommit the free slabs that have been free for `age_ms`,
 * in SuperSlabs still in use and in the empty ones kept in the cache;
 * returns how many free slabs still hold pages. */
static unsigned decay_list(hak_ss_t *ss, uint64_t now_ms, uint64_t age_ms)
{
    unsigned left = 0;
    for (; ss != NULL; ss = ss->next) {
        uint32_t d = ss->dirty_mask & ss->free_mask;
        if (d == 0)
            continue;
        if (now_ms - ss->released_ms < age_ms) {
            left += (unsigned)__builtin_popcount(d);
            continue;
        }
        for (unsigned i = 0; i < HAK_SS_SLABS;) {
            if (!(d >> i & 1)) {
                i++;
                continue;
            }
            unsigned j = i;
            while (j < HAK_SS_SLABS && (d >> j & 1))
                j++;
            hak_batch_decommit((char *)ss + ((size_t)i << HAK_SLAB_SHIFT), (size_t)(j - i) << HAK_SLAB_SHIFT);
            atomic_fetch_add_explicit(&hak_stats.slab_decommits, j - i, memory_order_relaxed);
            i = j;
        }
        ss->pending_mask |= d;
        ss->dirty_mask &= ~d;
        dirty_slabs -= (uint32_t)__builtin_popcount(d);
    }
    return left;
}

unsigned hak_superslab_decay(uint64_t now_ms, uint64_t age_ms)
{
    pthread_mutex_lock(&ss_lock);
    unsigned left = decay_list(ss_partial, now_ms, age_ms) + decay_list(ss_empty, now_ms, age_ms);
    pthread_mutex_unlock(&ss_lock);
    return left;
}

/* hak_trim: the empty SuperSlabs kept for reuse go back too, and every
 * free slab is decommitted whatever its age. */
void hak_superslab_trim(void)
{
    pthread_mutex_lock(&ss_lock);
    hak_ss_t *ss;
    while ((ss = ss_empty) != NULL) {
        ss_list_remove(&ss_empty, ss);
        ss_empty_count--;
        ss_unmap(ss);
    }
    decay_list(ss_partial, hak_now_ms(), 0);
    pthread_mutex_unlock(&ss_lock);
}

void hak_superslab_lock(void)       { pthread_mutex_lock(&ss_lock); }
void hak_superslab_unlock(void)     { pthread_mutex_unlock(&ss_lock); }
void hak_superslab_reset_lock(void) { pthread_mutex_init(&ss_lock, NULL); }
