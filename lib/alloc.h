/* alloc.h — the malloc and free fast paths, inlined into the API wrappers
 * (hakmem.c) and the interposer (malloc.c).
 *
 * malloc of a tiny size: class by table, pop the thread's tls_sll, return.
 * free of a block by the thread that owns its span: registry load, span
 * lookup, owner compare, block-boundary check, push.  Everything else —
 * first use, refill, spill, remote frees, mid and large sizes, misuse — is
 * a call to the slow path in hakmem.c.
 */
#ifndef HAKMEM_ALLOC_H
#define HAKMEM_ALLOC_H

#include "internal.h"

static inline void *hak_sll_pop(hak_sll_t *l)
{
    void *b = l->head;
    if (unlikely(b == NULL))
        return NULL;
    uintptr_t next = hak_link_decode(b);
    if (unlikely(next & (HAK_ALIGN - 1)))
        hak_fatal("malloc(): corrupted free list (bad link in freed block)", b);
    l->head = (void *)next;
    l->room++;
    ((void **)b)[1] = NULL;           /* clear the double-free tag */
    return b;
}

/* The link and the tag: two stores (the library is built with
 * -fno-tree-slp-vectorize, or GCC pairs them into a four-instruction
 * vector store). */
static inline void hak_sll_link(void *b, void *next)
{
    *(void **)b = hak_link_encode(b, next);
    ((void **)b)[1] = (void *)hak_free_tag;
}

/* A free's push (refills link their blocks in hak_span_take): counted. */
static inline void hak_sll_push(hak_sll_t *l, void *b)
{
    hak_sll_link(b, l->head);
    l->head = b;
    l->room--;
    l->frees++;
}

/* The class of a mid size (above HAK_TINY_MAX): four per power of two, as
 * hak_size_class computes it, inline. */
static inline unsigned hak_mid_class(size_t size)
{
    size_t s = size - 1;
    unsigned p = 63 - (unsigned)__builtin_clzll(s);      /* 2^p <= s */
    return 8 + (p - 7) * 4 + (unsigned)((s >> (p - 2)) & 3);
}

/* A tiny-class block from the thread's cache, or NULL (then the slow path:
 * first use, refill, larger sizes). */
static inline void *hak_malloc_fast(size_t size)
{
    if (likely(size <= HAK_TINY_MAX)) {
        hak_heap_t *h = hak_tls_heap;
        return hak_sll_pop((hak_sll_t *)((char *)h + hak_tiny_sll_off[size]));
    }
    return NULL;
}

static inline void *hak_malloc_inline(size_t size, const void *site)
{
    void *b = hak_malloc_fast(size);
    if (likely(b != NULL))
        return b;
    return hak_alloc_slow(size, site);
}

/* The registry entry of `a`.  hak_addr_limit is 0 until the registry
 * exists, so one compare covers both "not initialised" and "above the user
 * address space" (entry 0: not ours).  The load needs no other check: parts
 * of the table never written are mapped read-only and read as 0. */
static inline uintptr_t hak_registry_entry(uintptr_t a)
{
    if (unlikely(a >= atomic_load_explicit(&hak_addr_limit, memory_order_acquire)))
        return 0;
    return atomic_load_explicit((_Atomic uintptr_t *)&hak_registry[a >> HAK_SS_SHIFT],
                                memory_order_relaxed);
}

/* The span covering `a` in the chunk of registry entry `e` (tag checked by
 * the caller): a span, or &hak_span_none, never NULL. */
static inline hak_span_t *hak_chunk_span(uintptr_t e, uintptr_t a)
{
    return ((hak_chunk_t *)(e - HAK_TAG_CHUNK))->span_of[(a >> HAK_SLAB_SHIFT) & (HAK_SS_SLABS - 1)];
}

/* The span covering `a`, or &hak_span_none; NULL if the registry says the
 * address is not slab memory. */
static inline hak_span_t *hak_span_of(uintptr_t a)
{
    uintptr_t e = hak_registry_entry(a);
    return (e & HAK_TAG_MASK) == HAK_TAG_CHUNK ? hak_chunk_span(e, a) : NULL;
}

/* Is `a` the start of a block of span `s`?  One multiply and one compare
 * check both that the offset is a multiple of bsize and that it is below
 * capacity: with magic = floor(2^64/bsize) + 1 and e = magic*bsize - 2^64
 * (0 < e <= bsize), off*magic mod 2^64 is k*e for off = k*bsize, and at
 * least magic (far above capacity*e) for any other offset below 2^21.
 * hak_span_none has div_limit 0: nothing is a block of it. */
static inline bool hak_span_is_block(const hak_span_t *s, uintptr_t a)
{
    return (uint64_t)(a - s->start) * s->div_magic < s->div_limit;
}

/* Treiber stack push of k blocks linked first -> ... -> last, tagged,
 * onto s's remote queue; the owner takes the whole stack with one
 * exchange, so there is no ABA. */
static inline void hak_span_remote_push_run(hak_span_t *s, void *first, void *last, unsigned k)
{
    uintptr_t old = atomic_load_explicit(&s->remote, memory_order_relaxed);
    do {
        *(void **)last = hak_link_encode(last, hak_remote_top(old));
    } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old,
                                                    ((old & ~HAK_REMOTE_TOP) + k * HAK_REMOTE_ONE) | (uintptr_t)first,
                                                    memory_order_release, memory_order_relaxed));
}

static inline void hak_span_remote_push(hak_span_t *s, void *p)
{
    ((void **)p)[1] = (void *)hak_free_tag;
    hak_span_remote_push_run(s, p, p, 1);
}

/* free, and the C++ sized delete (cxx.c).  want_off is the tls_sll offset
 * that the class of the size given to sized delete has (HAK_ANY_CLASS: a
 * plain free, and the test folds away).  A size that names another class
 * than the block's goes to hak_free_sized_slow, which reports it. */
#define HAK_ANY_CLASS UINT32_MAX
static inline __attribute__((always_inline)) void hak_free_of_class(void *p, uint32_t want_off, size_t size)
{
    uintptr_t a = (uintptr_t)p;
    /* e ^ HAK_TAG_CHUNK is the chunk itself when the tag bits say chunk */
    uintptr_t c = hak_registry_entry(a) ^ HAK_TAG_CHUNK;
    if (likely((c & HAK_TAG_MASK) == 0)) {
        hak_span_t *s = ((hak_chunk_t *)c)->span_of[(a >> HAK_SLAB_SHIFT) & (HAK_SS_SLABS - 1)];
        if (want_off != HAK_ANY_CLASS && unlikely(s->sll_off != want_off)) {
            hak_free_sized_slow(p, size);
            return;
        }
        hak_heap_t *h = hak_tls_heap;
        if (likely(atomic_load_explicit(&s->owner, memory_order_relaxed) == h)) {
            hak_sll_t *l = (hak_sll_t *)((char *)h + s->sll_off);
            if (likely(hak_span_is_block(s, a) && ((void **)p)[1] != (void *)hak_free_tag)) {
                /* the capacity check and its update in one decrement; a
                 * full list is put back for the slow path (re-read after
                 * the barrier, or the compiler keeps the old value in a
                 * register and the decrement takes four instructions) */
                if (unlikely(--l->room < 0)) {
                    __asm__ volatile("" ::: "memory");
                    l->room++;
                } else {
                    hak_sll_link(p, l->head);
                    l->head = p;
                    l->frees++;               /* one add, on the line just written */
                    HAK_COUNT_HEAP(h, free_tls_sll, 1);   /* h owns a span: a thread heap */
                    return;
                }
            }
        }
        hak_free_span_slow(p, s, h);
        return;
    }
    if (want_off != HAK_ANY_CLASS)
        hak_free_sized_slow(p, size);
    else
        hak_free_slow(p);
}

static inline void hak_free_inline(void *p) { hak_free_of_class(p, HAK_ANY_CLASS, 0); }

#endif /* HAKMEM_ALLOC_H */
