/* span.c — the blocks of one span: carving the unused tail, the owner's
 * local free list, and the remote queue that other threads push to (the
 * push is inline in alloc.h, beside free's fast path; the owner's side is
 * here).
 *
 * Invariant: used = capacity - carved_unused - local free - nothing else;
 * that is, a block counts as used while it is with the user, in some
 * thread's tls_sll, or on the remote queue.  used == 0 means the span is
 * empty and can go back to its SuperSlab. */
#include "alloc.h"

#define CARVE_BYTES (16 * 1024)

void hak_span_init(hak_span_t *s, unsigned cls, uintptr_t start, unsigned nslabs)
{
    uint32_t bsize = hak_classes[cls].bsize;
    uint32_t cap = (uint32_t)(((size_t)nslabs << HAK_SLAB_SHIFT) / bsize);
    atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
    atomic_store_explicit(&s->remote, 0, memory_order_relaxed);
    s->start = start;
    s->bsize = bsize;
    s->capacity = cap;
    /* floor(2^64 / bsize) + 1; UINT64_MAX / bsize falls one short of
     * 2^64 / bsize exactly when bsize is a power of two */
    s->div_magic = UINT64_MAX / bsize + 1 + (UINT64_MAX % bsize == bsize - 1);
    s->div_limit = cap * (s->div_magic * bsize);   /* the product wraps: e = magic * bsize - 2^64 */
    s->sll_off = (uint32_t)(offsetof(hak_heap_t, sll) + cls * sizeof(hak_sll_t));
    s->cls = (uint8_t)cls;
    s->nslabs = (uint8_t)nslabs;
    s->state = HAK_SPAN_FREE;
    atomic_store_explicit(&s->list, HAK_LIST_NONE, memory_order_relaxed);
    s->free = NULL;
    s->used = 0;
    s->carved = 0;
    s->next = s->prev = NULL;
}

bool hak_span_exhausted(const hak_span_t *s)
{
    return s->free == NULL && s->carved == s->capacity;
}

/* Moves up to `want` blocks into the tls list `l` (which the caller has
 * found empty or nearly so), or more when a whole free list moves (below):
 * local free list first, then the remote queue, then fresh blocks from
 * the uncarved tail. */
unsigned hak_span_take(hak_span_t *s, hak_sll_t *l, unsigned want)
{
    unsigned got = 0;
    if (s->free == NULL && atomic_load_explicit(&s->remote, memory_order_relaxed) != 0)
        hak_span_drain_remote(s);
    /* The local free list holds carved - used blocks.  An empty cache
     * takes it whole if that leaves it no more than twice full (room goes
     * below 0, see hak_sll_t): its links are read, and checked, once, as
     * malloc hands the blocks out, overlapped with the caller's use of
     * them.  Twice, because remote frees come back a span's worth at a
     * time, in queues longer than a cache. */
    if (s->free != NULL) {
        HAK_COUNT(refill_local);
        if (l->head == NULL && s->carved - s->used <= 2 * l->cap) {
            l->head = s->free;
            s->free = NULL;
            got = s->carved - s->used;
        } else {
            void *first = s->free, *last = NULL, *b = first;
            while (b != NULL && got < want) {
                last = b;
                got++;
                uintptr_t next = hak_link_decode(b);
                if (next != 0 && !hak_span_is_block(s, next))
                    hak_fatal("corrupted span free list", b);
                b = (void *)next;
            }
            s->free = b;
            *(void **)last = hak_link_encode(last, l->head);
            l->head = first;
        }
    }
    if (got < want && s->carved < s->capacity) {
        HAK_COUNT(refill_carve);
        /* Carving writes a link into every block, which faults its page
         * in: carve no more than CARVE_BYTES ahead of demand. */
        unsigned n = s->capacity - s->carved;
        unsigned limit = CARVE_BYTES / s->bsize ? CARVE_BYTES / s->bsize : 1;
        if (n > want - got)
            n = want - got;
        if (got == 0 && n > limit)
            n = limit;
        /* Push in reverse so the list hands out ascending addresses. */
        uintptr_t b = s->start + (uintptr_t)(s->carved + n - 1) * s->bsize;
        for (unsigned i = 0; i < n; i++, b -= s->bsize) {
            *(void **)b = hak_link_encode((void *)b, l->head);
            ((void **)b)[1] = (void *)hak_free_tag;
            l->head = (void *)b;
        }
        s->carved += n;
        got += n;
    }
    l->room -= got;
    s->used += got;
    if (got > 0)
        hak_stats_add(&hak_class_stats[s->cls].out, got, &hak_class_stats[s->cls].out_peak);
    return got;
}

/* The queue's links are checked where every free-list link is: by
 * hak_span_take when it walks them, by hak_sll_pop otherwise.  Only a
 * local free list that is not empty needs the queue's tail. */
unsigned hak_span_drain_remote(hak_span_t *s)
{
    uintptr_t w = atomic_exchange_explicit(&s->remote, 0, memory_order_acquire);
    if (w == 0)
        return 0;
    HAK_COUNT(refill_remote);
    unsigned n = hak_remote_count(w);
    void *list = hak_remote_top(w);
    if (n == 0 || list == NULL || !hak_span_is_block(s, (uintptr_t)list))
        hak_fatal("corrupted remote free list", list);
    if (n > s->used)
        hak_fatal("remote free of a block that was not allocated (double free?)", list);
    if (s->free != NULL) {
        void *last = list;
        for (unsigned k = 1; k < n; k++) {
            uintptr_t next = hak_link_decode(last);
            if (next == 0 || !hak_span_is_block(s, next))
                hak_fatal("corrupted remote free list", last);
            last = (void *)next;
        }
        *(void **)last = hak_link_encode(last, s->free);
    }
    s->free = list;
    s->used -= n;
    hak_stats_add(&hak_class_stats[s->cls].out, -(int64_t)n, NULL);
    return n;
}
