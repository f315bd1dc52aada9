/* hakmem.c — the public hak_* API: routing by size, the slow paths behind
 * alloc.h, standard semantics (errno, overflow, alignment rules, realloc),
 * and once-only initialisation.
 *
 * Initialisation happens on the first slow-path call, never allocates, and
 * reads options straight from the environment: the first malloc may come
 * from the dynamic loader before any constructor has run. */
#include "alloc.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uintptr_t hak_secret;
uintptr_t hak_free_tag;
_Atomic int hak_ready;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static bool init_failed;

static uintptr_t make_secret(void)
{
    uintptr_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        struct timespec ts = hak_os_clock(CLOCK_MONOTONIC);
        s = (uintptr_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uintptr_t)&ts ^ (uintptr_t)getpid() << 32;
    }
    return s;
}

static void stats_at_exit(void) __attribute__((destructor));
static void stats_at_exit(void)
{
    if (atomic_load(&hak_ready) && hak_opt.stats)
        hak_stats_exit_report();
}

bool hak_init_slow(void)
{
    pthread_mutex_lock(&init_lock);
    if (!atomic_load_explicit(&hak_ready, memory_order_relaxed) && !init_failed) {
        hak_options_init();
        hak_sizeclass_init();
        hak_secret = make_secret();
        hak_elo_init();
        /* The tag must never look like a heap pointer or a small integer. */
        hak_free_tag = (make_secret() ^ hak_secret) | ((uintptr_t)1 << 63) | 1;
        if (!hak_registry_init() || !hak_heap_global_init()) {
            init_failed = true;
        } else {
            pthread_atfork(hak_heap_fork_prepare, hak_heap_fork_parent, hak_heap_fork_child);
            atomic_store_explicit(&hak_ready, 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&init_lock);
    return atomic_load_explicit(&hak_ready, memory_order_acquire);
}

static inline bool ensure_init(void)
{
    return likely(atomic_load_explicit(&hak_ready, memory_order_acquire)) || hak_init_slow();
}

/* A slab-class allocation from a heap that is not a live thread heap:
 * the thread has exited (its key destructor ran), or has not got a heap
 * and cannot get one. */
static void *alloc_shared(unsigned c)
{
    hak_heap_t *sh = hak_heap_lock_shared();
    void *p = hak_sll_pop(&sh->sll[c]);
    if (p == NULL)
        p = hak_tiny_refill_pop(sh, c);
    hak_heap_unlock_shared();
    return p;
}

static void *alloc_class(unsigned c)
{
    hak_heap_t *h = hak_tls_heap;
    if (unlikely(h == &hak_heap_empty))
        h = hak_heap_init_thread();
    void *p;
    if (unlikely(h == NULL || h->kind != HAK_HEAP_THREAD))
        p = alloc_shared(c);
    else if ((p = hak_sll_pop(&h->sll[c])) == NULL)
        p = hak_tiny_refill_pop(h, c);
    if (unlikely(p == NULL))
        errno = ENOMEM;
    return p;
}

/* Slow paths give cached memory back now and then, and allocations start
 * the decay thread when it was asked for, at a point where no hakmem lock
 * is held.  Frees never start it: glibc frees a dead detached thread's
 * TLS from __nptl_free_stacks holding dl_stack_cache_lock, which
 * pthread_create takes, and a start there deadlocked that thread and then
 * every thread that created another (bench/larson_sized under the build
 * before this rule).  Slab blocks take the slow path often (frees at
 * spills and remote frees, mallocs at refills), and reading the clock
 * costs more than their pop or push: they look at it every 16th time
 * only. */
static inline void slow_path_done(void)
{
    hak_decay_tick();
    hak_decay_start_pending();
}

static __thread unsigned slow_slab_ops __attribute__((tls_model("initial-exec")));

/* Out of line: their callers then need no stack frame of their own. */
static __attribute__((noinline)) void slab_slow_path_tick(void) { slow_path_done(); }
static __attribute__((noinline)) void slab_free_tick(void) { hak_decay_tick(); }

static inline void slab_slow_path_done(void)
{
    if (unlikely((++slow_slab_ops & 15) == 0))
        slab_slow_path_tick();
}

static inline void slab_free_path_done(void)
{
    if (unlikely((++slow_slab_ops & 15) == 0))
        slab_free_tick();
}

static HAK_NOINLINE void *alloc_slow(size_t size, const void *site)
{
    if (unlikely(!ensure_init())) {
        errno = ENOMEM;
        return NULL;
    }
    if (size == 0)
        HAK_COUNT(malloc_zero);
    if (size <= hak_opt.mid_max) {
        void *p = alloc_class(hak_size_class(size));
        slab_slow_path_done();
        return p;
    }
    if (size > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = hak_large_alloc(size, 0, false, site);
    slow_path_done();
    return p;
}

/* Mid sizes first: a hit in the thread's cache of a mid class is as cheap
 * as malloc's fast path, one branch and a jump later (malloc's own stays
 * tiny: a second branch there gave it a stack frame, and the rest of the
 * slow path is out of line for the same reason).  Before the thread has a
 * heap its lists are empty. */
void *hak_alloc_slow(size_t size, const void *site)
{
    if (size - (HAK_TINY_MAX + 1) < HAK_MID_MAX - HAK_TINY_MAX) {
        void *p = hak_sll_pop(&hak_tls_heap->sll[hak_mid_class(size)]);
        if (likely(p != NULL))
            return p;
    }
    return alloc_slow(size, site);
}

/* Reached by a tail call from malloc, so that the fast path need not
 * fetch its return address: ours is malloc's caller.  (Without the tail
 * call, -O0, the site is malloc itself: large blocks are then cached
 * without the same-site preference.) */
HAK_NOINLINE void *hak_alloc_slow_caller(size_t size)
{
    return hak_alloc_slow(size, __builtin_return_address(0));
}

/* A free of slab memory that free's fast path did not finish: a block of
 * another thread's span, a full cache, or misuse.  The span and the heap
 * come from the fast path, which has looked them up already. */
void hak_free_span_slow(void *p, hak_span_t *s, hak_heap_t *h)
{
    slab_free_path_done();              /* first: the free is then a tail call */
    hak_tiny_free_slow(p, s, h);
}

/* A free of anything but slab memory (free's fast path sends that to
 * hak_free_span_slow): NULL, a large block, or misuse. */
void hak_free_slow(void *p)
{
    if (p == NULL) {
        HAK_COUNT(free_null);
        return;
    }
    /* 0 (not ours) before initialisation and above the address space */
    uintptr_t e = hak_registry_entry((uintptr_t)p);
    hak_large_t *l = hak_large_of(e, p);
    if (l == NULL) {
        HAK_COUNT(free_invalid);
        if (hak_large_is_cached(e, p))
            hak_fatal("free(): double free detected", p);
        hak_fatal("free(): invalid pointer", p);
    }
    HAK_COUNT(free_large);
    hak_large_free(l, NULL);
    hak_decay_tick();                   /* a free: no thread start (above) */
}

/* A sized delete whose size does not name the block's class (or is not
 * a large block's size), or of anything but tiny slab memory.  Operator
 * new(n) serves n from class hak_size_class(n), or from a large block
 * when n is above the slab limit, so any other size is misuse.  What is
 * not a block of ours at all is left to free's own diagnostics. */
void hak_free_sized_slow(void *p, size_t size)
{
    uintptr_t a = (uintptr_t)p, e = hak_registry_entry(a);
    bool fits = true;
    if ((e & HAK_TAG_MASK) == HAK_TAG_CHUNK) {
        hak_span_t *s = hak_chunk_span(e, a);
        if (s != &hak_span_none && hak_span_is_block(s, a))
            fits = size <= hak_opt.mid_max && hak_size_class(size) == s->cls;
    } else {
        hak_large_t *l = hak_large_of(e, p);
        if (l != NULL)
            fits = size > hak_opt.mid_max && size <= hak_large_usable(l);
    }
    if (unlikely(!fits))
        hak_fatal("operator delete(): size does not match the block (sized delete of another size)", p);
    hak_free_inline(p);
}

/* Usable size of a block hakmem owns; aborts on a foreign pointer. */
size_t hak_usable_impl(void *p, const char *what)
{
    if (p == NULL)
        return 0;
    size_t n = hak_tiny_usable(p);
    if (n)
        return n;
    hak_large_t *l = hak_large_of(hak_registry_entry((uintptr_t)p), p);
    if (l != NULL)
        return hak_large_usable(l);
    hak_fatal(what, p);
}

void *hak_calloc_impl(size_t n, size_t size, const void *site)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > hak_opt.mid_max && ensure_init()) {
        /* large.c zeroes only what a recycled block may have dirtied. */
        if (total > PTRDIFF_MAX) {
            errno = ENOMEM;
            return NULL;
        }
        void *p = hak_large_alloc(total, 0, true, site);
        slow_path_done();
        return p;
    }
    void *p = hak_malloc_inline(total, site);
    if (p != NULL)
        memset(p, 0, total);
    return p;
}

void *hak_realloc_impl(void *p, size_t size, const void *site)
{
    if (p == NULL)
        return hak_malloc_inline(size, site);
    if (size == 0) {
        hak_free_inline(p);
        return NULL;
    }
    size_t old = hak_usable_impl(p, "realloc(): invalid pointer");
    hak_large_t *l = hak_large_of(hak_registry_entry((uintptr_t)p), p);
    if (l != NULL && size > hak_opt.mid_max && size <= PTRDIFF_MAX) {
        if (hak_large_resize(l, size)) {
            HAK_COUNT(realloc_inplace);
            return p;
        }
        void *q = hak_large_move(l, size);
        if (q != NULL)
            return q;
    }
    /* Stay in place when the block fits and would not waste more than half. */
    if (l == NULL && size <= old && (size >= old / 2 || old <= 32)) {
        HAK_COUNT(realloc_inplace);
        return p;
    }
    void *q = hak_malloc_inline(size, site);
    if (q == NULL)
        return NULL;
    memcpy(q, p, size < old ? size : old);
    hak_free_inline(p);
    return q;
}

void *hak_memalign_impl(size_t align, size_t size, const void *site)
{
    if (align <= HAK_ALIGN)
        return hak_malloc_inline(size, site);
    if (!ensure_init()) {
        errno = ENOMEM;
        return NULL;
    }
    if (size > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    int c = hak_aligned_class(size, align);
    if (c >= 0)
        return alloc_class((unsigned)c);
    void *p = hak_large_alloc(size, align, false, site);
    slow_path_done();
    return p;
}

static bool pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

void *hak_reallocarray_impl(void *p, size_t n, size_t size, const void *site)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_realloc_impl(p, total, site);
}

int hak_posix_memalign_impl(void **out, size_t align, size_t size, const void *site)
{
    if (!pow2(align) || align % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno;
    void *p = hak_memalign_impl(align, size, site);
    if (p == NULL) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

void *hak_aligned_alloc_impl(size_t align, size_t size, const void *site)
{
    if (!pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return hak_memalign_impl(align, size, site);
}

/* glibc's memalign rounds a non-power-of-two alignment up. */
void *hak_memalign_round_impl(size_t align, size_t size, const void *site)
{
    if (align > (SIZE_MAX >> 1) + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!pow2(align)) {
        size_t a = 1;
        while (a < align)
            a <<= 1;
        align = a;
    }
    return hak_memalign_impl(align, size, site);
}

/* glibc's pad is what to leave at the top of the heap; hakmem has no top,
 * and what it caches is bounded by its own options. */
int hak_trim_impl(size_t pad)
{
    (void)pad;
    return ensure_init() && hak_decay_trim();
}

/* ---- public API: the caller's return address is the call site ---- */

#define SITE __builtin_return_address(0)

HAK_EXPORT void *hak_malloc(size_t size)
{
    void *p = hak_malloc_fast(size);
    if (likely(p != NULL))
        return p;
    return hak_alloc_slow_caller(size);     /* a tail call: the site is our caller */
}
HAK_EXPORT void hak_free(void *p) { hak_free_inline(p); }
HAK_EXPORT void *hak_calloc(size_t n, size_t size) { return hak_calloc_impl(n, size, SITE); }
HAK_EXPORT void *hak_realloc(void *p, size_t size) { return hak_realloc_impl(p, size, SITE); }
HAK_EXPORT void *hak_reallocarray(void *p, size_t n, size_t size) { return hak_reallocarray_impl(p, n, size, SITE); }
HAK_EXPORT int hak_posix_memalign(void **out, size_t align, size_t size) { return hak_posix_memalign_impl(out, align, size, SITE); }
HAK_EXPORT void *hak_aligned_alloc(size_t align, size_t size) { return hak_aligned_alloc_impl(align, size, SITE); }
HAK_EXPORT void *hak_memalign(size_t align, size_t size) { return hak_memalign_round_impl(align, size, SITE); }
HAK_EXPORT size_t hak_malloc_usable_size(void *p) { return hak_usable_impl(p, "malloc_usable_size(): invalid pointer"); }
HAK_EXPORT void *hak_alloc_at(size_t size, const void *site) { return hak_malloc_inline(size, site); }
HAK_EXPORT void hak_free_at(void *p, const void *site) { (void)site; hak_free_inline(p); }
HAK_EXPORT int hak_trim(size_t pad) { return hak_trim_impl(pad); }
HAK_EXPORT const char *hak_version(void) { return PACKAGE_VERSION; }
HAK_EXPORT void hak_stats_print(int fd)
{
    if (ensure_init())
        hak_stats_report(fd);
}
