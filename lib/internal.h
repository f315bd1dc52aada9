/* internal.h — types, constants and cross-file prototypes of hakmem.
 *
 * Prototypes are grouped by the file that defines them.  Names with the
 * `hak_` prefix and no HAK_EXPORT are internal (the libraries are built with
 * -fvisibility=hidden).  Fast paths live in static inline functions in
 * alloc.h so that the API wrappers and the interposer inline them.
 */
#ifndef HAKMEM_INTERNAL_H
#define HAKMEM_INTERNAL_H

#include "config.h"
#include "hakmem.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>

/* Everything declared below is internal: saying so on the declarations (not
 * only through -fvisibility on the definitions) lets the compiler address
 * globals directly instead of through the GOT on the fast paths. */
#pragma GCC visibility push(hidden)

#define HAK_EXPORT __attribute__((visibility("default")))
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define HAK_NOINLINE __attribute__((noinline))
#define HAK_COLD __attribute__((cold, noinline))
#define HAK_NORETURN __attribute__((noreturn))

/* Geometry.  A SuperSlab is 2 MiB, 2 MiB-aligned, cut into 32 slabs of
 * 64 KiB; slab 0 holds the header, so a pointer reaches its metadata with a
 * mask and a shift.  The registry covers the 47-bit user address space at
 * SuperSlab granularity. */
#define HAK_SLAB_SHIFT   16
#define HAK_SLAB_SIZE    ((size_t)1 << HAK_SLAB_SHIFT)
#define HAK_SS_SHIFT     21
#define HAK_SS_SIZE      ((size_t)1 << HAK_SS_SHIFT)
#define HAK_SS_SLABS     32
#define HAK_ADDR_BITS    47
#define HAK_REG_ENTRIES  ((size_t)1 << (HAK_ADDR_BITS - HAK_SS_SHIFT))

#define HAK_ALIGN        16
#define HAK_TINY_MAX     1024              /* fast-path class table limit */
#define HAK_MID_MAX      (256 * 1024)      /* largest slab-backed class */
#define HAK_NCLASS       52
#define HAK_NTINY        20                /* classes 0..19 are <= 1 KiB */
#define HAK_SPAN_MAX_SLABS 16

/* Where a mapping has MADV_HUGEPAGE set (large blocks mark only the 2 MiB
 * windows they fill); the next user of the mapping may want it otherwise. */
enum { HAK_HUGE_NONE = 0, HAK_HUGE_ALL, HAK_HUGE_MIXED };

/* Registry entry: pointer to a metadata object, low bits say which. */
#define HAK_TAG_CHUNK 1u   /* hak_chunk_t: SuperSlab header or table of standalone slabs */
#define HAK_TAG_LARGE 2u   /* hak_large_t at the base of a large mapping */
#define HAK_TAG_MASK  7u

typedef struct hak_heap_s  hak_heap_t;
typedef struct hak_span_s  hak_span_t;

enum { HAK_SPAN_FREE = 0, HAK_SPAN_OWNED, HAK_SPAN_ORPHAN };
enum { HAK_LIST_NONE = 0, HAK_LIST_AVAIL, HAK_LIST_FULL, HAK_LIST_ORPHAN };

/* A span: one or more consecutive slabs carved into blocks of one class.
 * Fields read by the free fast path come first.  Everything below `remote`
 * belongs to the owner thread (or to whoever holds the orphan lock while
 * the span is an orphan). */
struct hak_span_s {
    _Atomic(hak_heap_t *) owner;      /* NULL: orphan or free */
    uintptr_t start;                  /* first block */
    uint64_t  div_magic;              /* floor(2^64 / bsize) + 1 (see hak_span_is_block) */
    uint64_t  div_limit;              /* capacity * (div_magic * bsize - 2^64) */
    uint32_t  sll_off;                /* offsetof(hak_heap_t, sll[cls]) */
    uint32_t  bsize;
    uint8_t   cls;
    _Atomic uint8_t state;            /* HAK_SPAN_*; read under the orphan lock by other threads */
    _Atomic uint8_t list;             /* HAK_LIST_*; read by freeing threads (tiny.c) */
    uint8_t   nslabs;
    _Atomic uint8_t notified;         /* on its owner's notify stack: not to be released (tiny.c) */
    _Atomic(uintptr_t) remote;        /* cross-thread frees: stack top and count (span.c) */
    void     *free;                   /* local free list (mangled links) */
    uint32_t  used;                   /* blocks out: with the user or in a tls_sll */
    uint32_t  carved;                 /* blocks cut from the tail so far */
    uint32_t  capacity;
    uint32_t  first_slab;             /* index within its SuperSlab */
    hak_span_t *next, *prev;          /* circular list: heap avail/full, orphans */
    struct hak_ss_s *ss;              /* NULL for a standalone mapping */
    hak_span_t *notify_next;          /* link of the notify stack, while notified */
};

/* What the registry points at for slab-backed memory: which span covers each
 * 64 KiB of a 2 MiB window.  A SuperSlab header starts with one; standalone
 * slabs (--disable-superslab) share out-of-line tables. */
typedef struct hak_chunk_s {
    hak_span_t *span_of[HAK_SS_SLABS];
} hak_chunk_t;

typedef struct hak_ss_s {
    hak_chunk_t chunk;                /* must be first */
    uint64_t    magic;
    uint32_t    free_mask;            /* bit i set: slab i is free */
    uint32_t    dirty_mask;           /* free slabs whose pages may be resident */
    uint32_t    pending_mask;         /* free slabs queued in the batch for decommit */
    uint8_t     huge;                 /* HAK_HUGE_ALL: MADV_HUGEPAGE applied */
    uint8_t     pad[3];
    uint64_t    released_ms;          /* last time a slab became free */
    struct hak_ss_s *next, *prev;     /* pool list */
    hak_span_t  spans[HAK_SS_SLABS];  /* spans[i] describes a span starting at slab i */
} hak_ss_t;

/* A large block: its own mapping, 2 MiB-aligned and a whole number of
 * 2 MiB windows long, described by an out-of-line record that the registry
 * points at.  While the block is in BigCache the record stays registered
 * (so that a second free is recognised) and sits on a cache list. */
typedef struct hak_large_s {
    uint64_t   magic;                 /* LARGE_LIVE/LARGE_CACHED ^ secret */
    uintptr_t  user;                  /* the pointer handed out: the mapping's base */
    size_t     map_size;              /* multiple of 2 MiB */
    size_t     size;                  /* requested */
    size_t     capacity;              /* usable: class size, page multiple, <= map_size */
    size_t     dirty;                 /* bytes from user that may hold data (<= map_size) */
    size_t     touched;               /* bytes from user likely resident: what its users asked
                                       * for since its pages were dropped (large.c, touch) */
    const void *site;                 /* call site of the allocation or free */
    uint64_t   freed_ms;              /* when it entered BigCache */
    struct hak_large_s *next, *prev;  /* BigCache class list; record free list */
    uint8_t    cls;                   /* BigCache class (floor of capacity) */
    uint8_t    huge;                  /* HAK_HUGE_*: where MADV_HUGEPAGE is set */
    bool       tail_queued;           /* pages past capacity queued for decommit */
} hak_large_t;

/* `room` counts down to 0 as blocks are pushed: the free fast path's
 * capacity check and its update are one decrement.  A refill that moves a
 * span's whole free list (hak_span_take) may leave it below 0, down to
 * -cap; frees then go to the slow path, which spills.  `frees` counts the
 * blocks pushed by frees (not by refills) for the size-class statistics:
 * it shares the cache line the free writes anyway, so it costs free one
 * `add` and malloc nothing (32 bytes: a list never straddles a cache
 * line, and h->sll[c] is one shift).  It is a plain field, written by
 * the owner only; stats.c reads it. */
typedef struct hak_sll_s {
    void     *head;                   /* mangled singly linked list */
    int32_t   room;                   /* cap - blocks on the list */
    uint32_t  cap;
    uint64_t  frees;                  /* blocks pushed by the owner's frees */
    uint64_t  pad;                    /* a power-of-two size: see above */
} hak_sll_t;
_Static_assert(sizeof(hak_sll_t) == 32, "hak_sll_t is indexed by a shift");

/* Slow-path counts of one class in one heap, for the statistics: blocks
 * moved into the tls_sll by refills, out of it by spills, and blocks this
 * thread freed onto another span's remote queue.  With `frees`, they give
 * the class's allocations (refilled + frees - spilled - cached) without
 * touching malloc's fast path.  Written by the owner only (relaxed load
 * and store, as HAK_COUNT_HEAP), read by the report. */
typedef struct hak_class_counts_s {
    _Atomic uint64_t refilled, spilled, remote;
} hak_class_counts_t;
#define HAK_COUNT_OWN(field, k) \
    atomic_store_explicit(&(field), \
                          atomic_load_explicit(&(field), memory_order_relaxed) + (k), \
                          memory_order_relaxed)

static inline uint32_t hak_sll_count(const hak_sll_t *l) { return (uint32_t)((int32_t)l->cap - l->room); }


/* Debug counters of the allocation pipeline, by report section (the
 * names are those of the report); see HAK_COUNT below. */
#if HAKMEM_DEBUG_COUNTERS
#define HAK_COUNTERS_REFILL(X) \
    X(refill_local) X(refill_remote) X(refill_carve) X(refill_partial) \
    X(refill_full_scan) X(refill_adopt) X(refill_steal) X(refill_new_span) X(refill_new_ss)
#define HAK_COUNTERS_FREE(X) \
    X(free_tls_sll) X(free_ss_local) X(free_ss_remote) X(free_large) X(free_invalid)
#define HAK_COUNTERS_EARLY(X) X(malloc_zero) X(free_null) X(realloc_inplace)
#define HAK_COUNTERS_SPILL(X) X(spill)
#define HAK_COUNTERS(X) \
    HAK_COUNTERS_REFILL(X) HAK_COUNTERS_FREE(X) HAK_COUNTERS_EARLY(X) HAK_COUNTERS_SPILL(X)
typedef struct {
#define HAK_X(n) _Atomic uint64_t n;
    HAK_COUNTERS(HAK_X)
#undef HAK_X
} hak_counters_t;
#endif

/* Cross-thread frees into full spans that a thread holds back, a run of
 * blocks of one span per tiny class, to push each run with one CAS
 * instead of one per block (tiny.c): fewer atomics on lines the owner and
 * other freeing threads write too, while the owner, which does not
 * allocate from a full span, loses nothing by waiting.  A thread freeing another's blocks mostly frees runs of one
 * span per class (the producer's current span), so a slot per class
 * keeps runs long where one hashed table of a few slots kept breaking
 * them.  What a thread holds is bounded (a run is at most
 * HAK_REMOTE_RUN_MAX blocks and HAK_REMOTE_RUN_BYTES, 80 KiB for the 20
 * tiny classes) and goes out at its next refill, trim or exit, so an
 * owner never waits long for its blocks. */
#define HAK_REMOTE_RUN_BYTES (4 * 1024)
#define HAK_REMOTE_RUN_MAX   64
typedef struct hak_remote_run_s {
    hak_span_t *span;                 /* NULL: slot empty */
    void       *first, *last;         /* linked first -> ... -> last, tagged */
    uint32_t    n, pad;
} hak_remote_run_t;

/* A thread's heap: the tls_sll front end and the spans the thread owns. */
struct hak_heap_s {
    hak_sll_t   sll[HAK_NCLASS];
    hak_span_t *avail[HAK_NCLASS];    /* spans with local free or uncarved blocks */
    hak_span_t *full[HAK_NCLASS];     /* spans with neither (may have remote frees) */
    hak_heap_t *next_heap, *prev_heap;
    int         kind;                 /* HAK_HEAP_* */
    _Atomic int busy;                 /* 1: its thread changes its span lists; 2: a thief does (tiny.c) */
    _Atomic uint32_t slow_ticks;      /* slow-path entries, written by its thread */
    uint32_t    seen_ticks;           /* slow_ticks at a thief's last look (under heaps_lock) */
    uint64_t    seen_ms;              /* when a thief saw slow_ticks change (hak_now_ms; 0: never) */
    hak_class_counts_t cls_counts[HAK_NCLASS];
    /* Bit c: the heap has refilled class c or freed a block of class c
     * into another thread's span.  What teardown, trim and the statistics
     * visit: a short-lived thread touches a class or two of the 52.
     * Written by the owner only (relaxed), read by the report. */
    _Atomic uint64_t classes;
    uint32_t    runs_held;            /* slots of runs[] in use */
    hak_remote_run_t runs[HAK_NTINY];  /* by class */
#if HAKMEM_DEBUG_COUNTERS
    hak_counters_t counters;          /* written by the owner thread only */
#endif
    /* Full spans of this heap into which other threads have freed: its
     * refills would find them only by scanning (scan_full), so the first
     * free into a full span since the span was last drained pushes the
     * span here (a Treiber stack through notify_next), and the owner
     * takes the stack whole before it maps new memory (tiny.c).
     * HAK_NOTIFY_CLOSED once the heap is torn down.  Last, and kept by
     * heap_setup: a freeing thread may still be looking at it. */
    _Atomic(hak_span_t *) notify;
};
#define HAK_NOTIFY_CLOSED ((hak_span_t *)1)
enum { HAK_HEAP_THREAD = 0, HAK_HEAP_SHARED, HAK_HEAP_SENTINEL };

_Static_assert(HAK_NCLASS <= 64, "a heap's classes are one 64-bit mask");
static inline uint64_t hak_heap_classes(const hak_heap_t *h)
{
    return atomic_load_explicit(&h->classes, memory_order_relaxed);
}
static inline void hak_heap_touch(hak_heap_t *h, unsigned c)
{
    uint64_t m = atomic_load_explicit(&h->classes, memory_order_relaxed);
    if (!(m >> c & 1))
        atomic_store_explicit(&h->classes, m | (uint64_t)1 << c, memory_order_relaxed);
}

typedef struct hak_class_s {
    uint32_t bsize;
    uint32_t nslabs;                  /* slabs per span */
    uint32_t cap;                     /* tls_sll capacity */
    uint32_t batch;                   /* blocks per refill and per spill */
    uint32_t run_max;                 /* cross-thread frees held per run (tiny classes) */
} hak_class_t;

/* ---- os.c ---- */
struct timespec hak_os_clock(clockid_t clock);
uint64_t hak_now_ms(void);                             /* coarse monotonic clock */
uint64_t hak_now_ns(void);                             /* monotonic clock */
void  *hak_os_remap(void *old, size_t old_size, size_t size, void *target); /* NULL: failed; target NULL: in place */
void  *hak_os_map(size_t size);                       /* NULL on failure */
void  *hak_os_reserve(size_t size);                   /* read-only, not accounted or charged */
bool   hak_os_commit(void *p, size_t size);           /* reserved range made writable */
void  *hak_os_map_aligned(size_t size, size_t align);
void  *hak_os_reserve_aligned(size_t size, size_t align); /* PROT_NONE until hak_os_commit */
void   hak_os_unmap(void *p, size_t size);               /* never fails: may defer (max_map_count) */
void   hak_os_retry_unmaps(void);
bool   hak_os_advise(void *p, size_t size, int advice);  /* counted */
bool   hak_os_try_unmap(void *p, size_t size);
void   hak_fatal(const char *what, const void *ptr) HAK_NORETURN HAK_COLD;
void   hak_warn(const char *msg);
void   hak_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* %s only */
void   hak_write_str(int fd, const char *s);
size_t hak_fmt_u64(char *buf, uint64_t v);
size_t hak_fmt_hex(char *buf, uintptr_t v);
void  *hak_meta_alloc(size_t size);                   /* zeroed, never freed */
void   hak_meta_lock(void);
void   hak_meta_unlock(void);
void   hak_meta_reset(void);

/* ---- options.c ---- */
typedef struct hak_options_s {
    bool     use_superslab;
    bool     stats;
    uint32_t ss_cache;
    uint32_t mid_max;
    uint32_t tls_cap_scale;           /* percent */
    size_t   bigcache_max;            /* bytes held by BigCache, at least ... */
    size_t   bigcache_peak;           /* ... or what live large blocks fell below their peak, up to this */
    uint32_t bigcache_live;           /* ... or this percentage of the live large bytes */
    uint32_t decay_ms;                /* age at which cached memory goes back */
    bool     decay_thread;            /* a background thread applies decay */
    size_t   batch_bytes;             /* flush the batch at this many bytes ... */
    uint32_t batch_ranges;            /* ... or this many ranges */
    bool     madv_free;               /* MADV_FREE instead of MADV_DONTNEED */
    size_t   retain_max;              /* released address space kept mapped */
    bool     large_hugepage;          /* MADV_HUGEPAGE on filled 2 MiB windows */
    size_t   ss_hugepage_after;       /* SuperSlab bytes mapped before they get MADV_HUGEPAGE */
    bool     elo;                     /* tournament picks the retention threshold */
    size_t   large_release;           /* fixed threshold when elo is off */
    uint32_t elo_epoch;               /* large operations per epoch */
    uint32_t elo_fault_ns;            /* price of a 4 KiB page faulted in (0: measured) */
    uint32_t elo_call_ns;             /* price of a kernel call (0: measured) */
    uint32_t elo_hold_ns;             /* cost of holding 1 MiB for 1 s */
    bool     verbose;                 /* list build and options at init */
    const char *stats_file;           /* NULL: stderr; points into environ */
} hak_options_t;
extern hak_options_t hak_opt;
void hak_options_init(void);
void hak_options_print(int fd);

/* ---- sizeclass.c ---- */
extern const uint16_t hak_tiny_sll_off[HAK_TINY_MAX + 1];
extern hak_class_t hak_classes[HAK_NCLASS];
void     hak_sizeclass_init(void);
unsigned hak_size_class(size_t size);                 /* size <= HAK_MID_MAX */
int      hak_aligned_class(size_t size, size_t align);/* -1: none fits */

/* ---- registry.c ---- */
extern uintptr_t *hak_registry;
extern _Atomic uintptr_t hak_addr_limit;   /* 0 before init, then 2^47 */
bool   hak_registry_init(void);
bool   hak_registry_set(uintptr_t base, size_t size, uintptr_t entry); /* false: ENOMEM (never when clearing) */
bool   hak_registry_prepare(uintptr_t base, size_t size); /* a later set of these windows cannot fail */
hak_chunk_t *hak_registry_chunk_for(uintptr_t addr); /* standalone slabs; NULL on ENOMEM */
void   hak_registry_lock(void);
void   hak_registry_unlock(void);
void   hak_registry_reset(void);

/* ---- superslab.c ---- */
hak_span_t *hak_span_acquire(unsigned cls);
void        hak_span_release(hak_span_t *s);
void        hak_superslab_lock(void);
void        hak_superslab_unlock(void);
void        hak_superslab_reset_lock(void);
extern hak_span_t hak_span_none;

/* ---- span.c ---- */
void     hak_span_init(hak_span_t *s, unsigned cls, uintptr_t start, unsigned nslabs);
unsigned hak_span_take(hak_span_t *s, hak_sll_t *l, unsigned want);
/* The remote queue is one word: the top block in the low HAK_ADDR_BITS
 * bits (slab memory lies below 2^47, which is all the registry covers)
 * and the number of blocks queued above them, so that the owner learns the
 * length with the exchange that takes the queue and need not walk it: the
 * walk was a chain of cache misses on lines the freeing threads wrote,
 * which the owner pays again, overlapped with the caller's own use of the
 * block, when it hands the block out.  The count has 17 bits: a span of
 * one slab holds at most 64 KiB / 16 blocks, and spans of several slabs
 * (sizeclass.c) are for blocks above 8 KiB. */
#define HAK_REMOTE_ONE ((uintptr_t)1 << HAK_ADDR_BITS)
#define HAK_REMOTE_TOP (HAK_REMOTE_ONE - 1)
static inline void *hak_remote_top(uintptr_t w) { return (void *)(w & HAK_REMOTE_TOP); }
static inline unsigned hak_remote_count(uintptr_t w) { return (unsigned)(w / HAK_REMOTE_ONE); }
_Static_assert(HAK_SLAB_SIZE / HAK_ALIGN < UINTPTR_MAX / HAK_REMOTE_ONE &&
               HAK_SPAN_MAX_SLABS * HAK_SLAB_SIZE / 8192 < UINTPTR_MAX / HAK_REMOTE_ONE,
               "a span's blocks fit the remote queue's count");

unsigned hak_span_drain_remote(hak_span_t *s);
bool     hak_span_exhausted(const hak_span_t *s);

/* ---- tiny.c (slab-backed classes: tiny and mid share the front end) ---- */
void *hak_tiny_refill_pop(hak_heap_t *h, unsigned cls);
void  hak_tiny_free_slow(void *p, hak_span_t *s, hak_heap_t *h);   /* s: the registry's span of p */
void  hak_tiny_flush(hak_heap_t *h);
void  hak_tiny_push_runs(hak_heap_t *h);              /* the held cross-thread frees */
void  hak_tiny_close_notify(hak_heap_t *h);           /* teardown: take the stack, refuse more */
void  hak_tiny_orphan_all(hak_heap_t *h);
size_t hak_tiny_usable(void *p);                      /* 0: not a slab block */
unsigned hak_tiny_reclaim_orphans(void);              /* fully freed orphans released */
void  hak_tiny_trim(hak_heap_t *h);                   /* the caller's caches, all of them */
unsigned hak_tiny_give_spans(hak_heap_t *v, hak_heap_t *to, unsigned cls, hak_span_t **out, unsigned max);
void  hak_orphan_lock(void);
void  hak_orphan_unlock(void);
void  hak_orphan_reset_lock(void);

/* ---- heap.c ---- */
extern __thread hak_heap_t *hak_tls_heap __attribute__((tls_model("initial-exec")));
extern hak_heap_t hak_heap_empty;
hak_heap_t *hak_heap_init_thread(void);               /* may return the shared heap */
hak_heap_t *hak_heap_lock_shared(void);
#define HAK_STEAL_IDLE_MS 8    /* a heap this long out of its slow path may be robbed */
unsigned hak_heap_steal(hak_heap_t *self, unsigned cls, hak_span_t **out, unsigned max);
void  hak_heap_unlock_shared(void);
void  hak_heap_fork_prepare(void);
void  hak_heap_fork_parent(void);
void  hak_heap_fork_child(void);
bool  hak_heap_global_init(void);

/* ---- large.c ---- */
void  *hak_large_alloc(size_t size, size_t align, bool zero, const void *site);
void   hak_large_free(hak_large_t *l, const void *site);
size_t hak_large_usable(hak_large_t *l);
bool   hak_large_resize(hak_large_t *l, size_t size);
void  *hak_large_move(hak_large_t *l, size_t size);   /* mremap; NULL: copy instead */
void   hak_large_publish(void);                        /* this thread's live-block counts, to hak_stats */
size_t hak_large_live_bytes(void);                     /* live large bytes, as this thread sees them */
hak_large_t *hak_large_of(uintptr_t entry, void *p);
bool   hak_large_is_cached(uintptr_t entry, void *p);   /* freed, in BigCache */
void   hak_large_release(hak_large_t *l);             /* mapping to the batch */
size_t hak_large_capacity(size_t size);               /* class size, page multiple */
void   hak_large_lock(void);
void   hak_large_unlock(void);
void   hak_large_reset_lock(void);

/* ---- bigcache.c ---- */
#define HAK_BC_NCLASS 64                               /* (16 KiB, 1 GiB], 4 per power of two */
hak_large_t *hak_bigcache_take(size_t size, size_t cap, size_t align, const void *site); /* cap: hak_large_capacity(size) */
bool   hak_bigcache_put(hak_large_t *l);               /* false: not cached */
bool   hak_bigcache_put_piece(hak_large_t *l);         /* split-off windows; false: not cached */
hak_large_t *hak_bigcache_take_fit(size_t size, size_t align); /* a miss: another class's block */
size_t hak_bigcache_bound(void);                       /* bytes it may hold now */
void   hak_bigcache_note_live(void);                   /* live large bytes went up */
unsigned hak_bigcache_class_floor(size_t capacity);    /* HAK_BC_NCLASS: too big */
unsigned hak_bigcache_class_ceil(size_t size);
size_t hak_bigcache_class_size(unsigned c);
size_t hak_bigcache_held(void);
size_t hak_bigcache_decay(uint64_t now_ms, uint64_t age_ms); /* bytes evicted */
void   hak_bigcache_lock_all(void);
void   hak_bigcache_unlock_all(void);
void   hak_bigcache_reset_locks(void);

/* ---- batch.c ---- */
void  *hak_batch_take(size_t size, size_t align, bool *zero, uint8_t *huge);
void  *hak_batch_map(size_t size, size_t align, bool *zero, uint8_t *huge); /* take, else mmap */
void   hak_batch_release(void *p, size_t size, size_t resident, uint8_t huge); /* a whole mapping */
void   hak_batch_decommit(void *p, size_t size);             /* pages of a live mapping */
void   hak_batch_cancel(void *p, size_t size);               /* pages about to be reused */
void   hak_batch_flush(void);
size_t hak_batch_pending(void);
uint64_t hak_batch_oldest_ms(void);                          /* 0: nothing pending */
size_t hak_batch_retained(void);
void   hak_batch_lock(void);
void   hak_batch_unlock(void);
void   hak_batch_reset_lock(void);

/* ---- elo.c ---- */
#define HAK_ELO_ARMS 13
extern _Atomic size_t hak_elo_threshold;               /* release blocks at or above */
void   hak_elo_init(void);
void   hak_elo_alloc(size_t capacity);                 /* a large block went live */
void   hak_elo_free(size_t capacity);                  /* ... was freed */
void   hak_elo_event_alloc(size_t capacity, uint64_t t_ns);   /* the same at a given time, lock held */
void   hak_elo_event_free(size_t capacity, size_t bound, uint64_t t_ns);
size_t hak_elo_arm_threshold(unsigned arm);
double hak_elo_expected(double ra, double rb);
void   hak_elo_update(double *ra, double *rb, double score_a, double k);
typedef struct hak_elo_arm_s {
    double   rating;
    double   cost;                    /* smoothed predicted cost per event, ns */
    uint64_t samples;                 /* epochs scored */
    uint64_t epochs, wins, losses;    /* epochs it led; matches */
} hak_elo_arm_t;
typedef struct hak_elo_check_s {
    double predicted, measured;       /* the running arm, ns per event: last epoch */
    double predicted_sum, measured_sum;   /* ... all epochs, ns */
    double fault_ns, huge_ns, zap_ns, call_ns;   /* the prices: a 4 KiB fault, a 2 MiB one, a page given back, a call */
} hak_elo_check_t;
unsigned hak_elo_snapshot(hak_elo_arm_t out[HAK_ELO_ARMS], uint64_t *epochs, hak_elo_check_t *check);
void   hak_elo_lock(void);
void   hak_elo_unlock(void);
void   hak_elo_reset_lock(void);

/* ---- superslab.c: decay of empty slabs ---- */
unsigned hak_superslab_decay(uint64_t now_ms, uint64_t age_ms); /* dirty slabs left */
void   hak_superslab_trim(void);                       /* empty cache too, every free slab */

/* ---- decay.c ---- */
void   hak_decay_tick(void);                           /* slow paths: maybe give memory back */
void   hak_decay_run(uint64_t now_ms);                 /* give back what is older than decay */
bool   hak_decay_trim(void);                           /* give back everything cached, now */
void   hak_decay_wake(size_t held);                    /* bytes held by a layer: start the clock */
void   hak_decay_start_pending(void);                  /* no lock held, not a free: may start the thread */
bool   hak_decay_thread_wanted(void);                  /* asked for, not started yet */
void   hak_decay_lock(void);
void   hak_decay_unlock(void);
void   hak_decay_fork_child(void);

/* ---- hakmem.c ---- */
extern uintptr_t hak_secret;       /* safe-linking key */
extern uintptr_t hak_free_tag;     /* marks a freed block (second word) */
extern _Atomic int hak_ready;
bool  hak_init_slow(void);
void *hak_alloc_slow(size_t size, const void *site);
void *hak_alloc_slow_caller(size_t size);             /* site: the caller's caller */
void  hak_free_slow(void *p);
void  hak_free_sized_slow(void *p, size_t size);   /* checks the size, then frees */
void  hak_free_span_slow(void *p, hak_span_t *s, hak_heap_t *h);  /* s, h: as free's fast path found them */
void *hak_realloc_impl(void *p, size_t size, const void *site);
void *hak_calloc_impl(size_t n, size_t size, const void *site);
void *hak_memalign_impl(size_t align, size_t size, const void *site);  /* align: power of two */
void *hak_memalign_round_impl(size_t align, size_t size, const void *site);
void *hak_aligned_alloc_impl(size_t align, size_t size, const void *site);
int   hak_posix_memalign_impl(void **out, size_t align, size_t size, const void *site);
int   hak_trim_impl(size_t pad);
void *hak_reallocarray_impl(void *p, size_t n, size_t size, const void *site);
size_t hak_usable_impl(void *p, const char *caller);

/* ---- stats.c ---- */
typedef struct hak_stats_s {
    _Atomic uint64_t mapped, mapped_peak, map_calls, unmap_calls;
    _Atomic uint64_t superslabs, superslabs_peak, spans_acquired, spans_released;
    _Atomic uint64_t orphaned, adopted, stolen, large_allocs, large_frees, heaps;
    _Atomic uint64_t madvise_calls, madvise_bytes, advise_calls;
    _Atomic uint64_t bc_hits, bc_site_hits, bc_misses, bc_puts, bc_rejects;
    _Atomic uint64_t bc_evicted, bc_decayed, bc_bytes_peak, bc_grown_hits;
    _Atomic uint64_t bc_fits, bc_splits, bc_fit_moves;    /* misses served by resizing a block */
    _Atomic uint64_t batch_flushes, batch_ranges, batch_bytes, batch_coalesced;
    _Atomic uint64_t batch_reused, batch_cancels, retained_reused;
    _Atomic uint64_t slab_decommits, large_inplace, large_mremaps;
    _Atomic uint64_t large_fresh_bytes;   /* of large blocks, handed out not resident */
    _Atomic uint64_t large_released_bytes, large_calls;   /* ... given back dirty; mappings and releases */
    _Atomic uint64_t slab_mapped;         /* SuperSlabs and standalone slabs, bytes */
    _Atomic uint64_t large_live, large_live_bytes, large_live_mapped; /* blocks, capacity, mappings */
} hak_stats_t;
extern hak_stats_t hak_stats;

/* Per size class: the counts of retired heaps (folded in at thread exit)
 * and of threads without a heap; live heaps count in their own
 * hak_class_counts_t and sll[].frees.  `out` is the blocks handed out of
 * spans (to users, thread caches or remote queues), with its peak. */
typedef struct hak_class_stats_s {
    _Atomic uint64_t allocs, frees, remote;
    _Atomic uint64_t out, out_peak;
} hak_class_stats_t;
extern hak_class_stats_t hak_class_stats[HAK_NCLASS];
typedef struct hak_class_totals_s {
    uint64_t allocs, frees, remote;
} hak_class_totals_t;
void hak_heap_class_sum(hak_class_totals_t out[HAK_NCLASS]); /* heap.c */
/* What the report and hak_stats_get share. */
typedef struct hak_stats_summary_s {
    uint64_t allocs[3], frees[3], in_use[3];  /* tiny, mid, large blocks */
    uint64_t in_use_bytes[3];
    uint64_t remote_frees, page_faults, peak_rss_bytes;
} hak_stats_summary_t;
void hak_stats_summary(hak_stats_summary_t *s, hak_class_totals_t t[HAK_NCLASS]);
/* glibc's mallinfo figures (malloc.c; see man/hakmem.3). */
typedef struct hak_mallinfo_s {
    uint64_t arena;       /* slab memory mapped: SuperSlabs, standalone slabs */
    uint64_t uordblks;    /* bytes of slab blocks out of their spans (thread caches too) */
    uint64_t hblks;       /* live large blocks */
    uint64_t hblkhd;      /* bytes mapped for them */
    uint64_t keepcost;    /* what hak_trim would give back: BigCache + pending */
    uint64_t usmblks;     /* peak of mapped bytes */
} hak_mallinfo_t;
void hak_stats_mallinfo(hak_mallinfo_t *m);
void hak_stats_add(_Atomic uint64_t *c, int64_t delta, _Atomic uint64_t *peak);
void hak_stats_report(int fd);
/* "168820736 (161.0 MiB)", below 1 KiB the figure alone: the report's
 * byte figures.  buf: HAK_FMT_BYTES_MAX (the longest is 33 characters). */
#define HAK_FMT_BYTES_MAX 40
size_t hak_fmt_bytes(char *buf, uint64_t v);
void hak_stats_exit_report(void);     /* HAKMEM_STATS=1: to HAKMEM_STATS_FILE or stderr */

#if HAKMEM_DEBUG_COUNTERS
extern hak_counters_t hak_counters;   /* heapless threads, and retired heaps */
typedef struct {
#define HAK_X(n) uint64_t n;
    HAK_COUNTERS(HAK_X)
#undef HAK_X
} hak_counter_totals_t;
void hak_heap_counters_sum(hak_counter_totals_t *out); /* heap.c */
/* The owner thread is the only writer of its heap's counters, so an
 * increment needs no read-modify-write: a relaxed load and store compile
 * to a plain add, and keep the report's reads from other threads free of
 * data races.  A thread without a heap of its own (before its first
 * allocation, after its exit) counts in the global totals. */
#define HAK_COUNT_HEAP(h, n, k) \
    atomic_store_explicit(&(h)->counters.n, \
                          atomic_load_explicit(&(h)->counters.n, memory_order_relaxed) + (k), \
                          memory_order_relaxed)
#define HAK_COUNT_N(n, k) do { \
        hak_heap_t *hc_ = hak_tls_heap; \
        if (likely(hc_->kind == HAK_HEAP_THREAD)) \
            HAK_COUNT_HEAP(hc_, n, k); \
        else \
            atomic_fetch_add_explicit(&hak_counters.n, (k), memory_order_relaxed); \
    } while (0)
#define HAK_COUNT(n) HAK_COUNT_N(n, 1)
#else
#define HAK_COUNT_HEAP(h, n, k) ((void)0)
#define HAK_COUNT(n) ((void)0)
#define HAK_COUNT_N(n, k) ((void)0)
#endif

#if HAKMEM_DEBUG
#define hak_assert(c) ((c) ? (void)0 : hak_fatal("assertion failed: " #c, NULL))
#else
#define hak_assert(c) ((void)0)
#endif

/* Safe-linking: a link is stored as next ^ (slot >> 12) ^ secret, so a
 * stray write or a leaked link does not give an attacker a usable pointer,
 * and a corrupted link is caught by the alignment check when decoded. */
static inline void *hak_link_encode(void *slot, void *next)
{
    return (void *)((uintptr_t)next ^ ((uintptr_t)slot >> 12) ^ hak_secret);
}
static inline uintptr_t hak_link_decode(void *slot)
{
    return (uintptr_t)(*(void **)slot) ^ ((uintptr_t)slot >> 12) ^ hak_secret;
}

#pragma GCC visibility pop

#endif /* HAKMEM_INTERNAL_H */
