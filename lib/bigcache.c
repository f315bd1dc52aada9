/* bigcache.c — freed large blocks kept mapped for the next allocation of
 * their size class: a hit costs no syscall and no page fault.
 *
 * Classes are four per power of two from 16 KiB to 1 GiB, so a hit in the
 * request's class wastes at most a quarter of the block.  A block is filed
 * under the largest class its capacity covers and found from the smallest
 * class that covers the request (or, if that one is empty, the next two).
 * Within a class the newest block comes first (its pages are warm), but a
 * block that was allocated by the same call site is preferred: the site is
 * a label for what the block is for, and a block recycled for the same
 * purpose is the likeliest to have the right pages resident.
 *
 * In front of the classes, each thread's slot holds the block that thread
 * freed last.  Its pages are the likeliest to be in this core's caches, and
 * that is worth more than a close fit: a program that frees one large block
 * and allocates another of a different size (a buffer per request) writes
 * the new block at cache speed instead of memory speed — 1.25x the
 * throughput of larson's large profile.  So the slot serves any request
 * that fits the block's mapping, up to four times smaller than its
 * capacity and with the same whole huge-page windows (no madvise on reuse);
 * the site preference still ranks first.  Slots are atomic pointers, taken
 * and given by exchange; threads beyond RECENT_SLOTS share them.
 *
 * One lock per class, so threads working on different sizes never meet,
 * and none is held across a syscall.  Bytes held are bounded (option):
 * beyond the bound the oldest block of any class is evicted.  Blocks older
 * than the decay time are evicted by decay.c.  Evicted blocks go to the
 * batch through large.c.  Whether a freed block is kept at all is the
 * retention threshold that elo.c chooses. */
#include "internal.h"

#define BC_MIN_SHIFT 14               /* classes start above 16 KiB */
#define SITE_SCAN    8                /* entries looked at for a site match */
#define RECENT_SLOTS 8                /* per-thread fronts (threads beyond share) */

typedef struct {
    pthread_mutex_t lock;
    hak_large_t *head, *tail;         /* newest first */
    _Atomic uint64_t oldest_ms;       /* freed_ms of tail; UINT64_MAX if empty */
} __attribute__((aligned(64))) bc_class_t;

static bc_class_t classes[HAK_BC_NCLASS] = {
    [0 ... HAK_BC_NCLASS - 1] = { PTHREAD_MUTEX_INITIALIZER, NULL, NULL, UINT64_MAX },
};
static _Atomic uint64_t held;

static _Atomic(hak_large_t *) recent[RECENT_SLOTS];
static _Atomic unsigned recent_threads;
static __thread unsigned recent_slot __attribute__((tls_model("initial-exec"))); /* 1 + index */

size_t hak_bigcache_class_size(unsigned c)
{
    size_t base = (size_t)1 << (BC_MIN_SHIFT + c / 4);
    return base + (base / 4) * (c % 4 + 1);
}

/* The smallest class whose size is at least `size`. */
unsigned hak_bigcache_class_ceil(size_t size)
{
    if (size <= ((size_t)1 << BC_MIN_SHIFT))
        return 0;
    size_t s = size - 1;
    unsigned p = 63 - (unsigned)__builtin_clzll(s);       /* 2^p <= s < 2^(p+1) */
    unsigned q = (unsigned)((s >> (p - 2)) & 3);
    unsigned c = (p - BC_MIN_SHIFT) * 4 + q;
    return c < HAK_BC_NCLASS ? c : HAK_BC_NCLASS;
}

/* The largest class whose size is at most `capacity`. */
unsigned hak_bigcache_class_floor(size_t capacity)
{
    unsigned c = hak_bigcache_class_ceil(capacity);
    if (c >= HAK_BC_NCLASS)
        return capacity >= hak_bigcache_class_size(HAK_BC_NCLASS - 1) ? HAK_BC_NCLASS - 1 : HAK_BC_NCLASS;
    if (hak_bigcache_class_size(c) > capacity)
        return c == 0 ? HAK_BC_NCLASS : c - 1;
    return c;
}

static void unlink_entry(bc_class_t *k, hak_large_t *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        k->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        k->tail = l->prev;
    l->next = l->prev = NULL;
    atomic_store_explicit(&k->oldest_ms, k->tail ? k->tail->freed_ms : UINT64_MAX,
                          memory_order_relaxed);
}

/* The calling thread's slot. */
static _Atomic(hak_large_t *) *my_recent(void)
{
    unsigned s = recent_slot;
    if (__builtin_expect(s == 0, 0))
        recent_slot = s = 1 + atomic_fetch_add_explicit(&recent_threads, 1, memory_order_relaxed) % RECENT_SLOTS;
    return &recent[s - 1];
}

static bool recent_fits(const hak_large_t *l, size_t size, size_t align)
{
    size_t cap = hak_large_capacity(size);
    return cap <= l->map_size && cap * 4 >= l->capacity &&
           cap >> HAK_SS_SHIFT == l->capacity >> HAK_SS_SHIFT &&
           (align <= HAK_SS_SIZE || (l->user & (align - 1)) == 0);
}

/* Links a block into its class, newest first.  A block demoted from a slot
 * starts its decay time again: it stays at most twice the decay time. */
static void file(hak_large_t *l)
{
    bc_class_t *k = &classes[l->cls];
    l->freed_ms = hak_now_ms();
    pthread_mutex_lock(&k->lock);
    l->prev = NULL;
    l->next = k->head;
    if (k->head)
        k->head->prev = l;
    else
        k->tail = l;
    k->head = l;
    atomic_store_explicit(&k->oldest_ms, k->tail->freed_ms, memory_order_relaxed);
    pthread_mutex_unlock(&k->lock);
}

/* Puts `l` in the slot; whatever it displaces goes to its class. */
static void recent_give(_Atomic(hak_large_t *) *slot, hak_large_t *l)
{
    hak_large_t *o = atomic_exchange_explicit(slot, l, memory_order_acq_rel);
    if (o != NULL)
        file(o);
}

/* The request's own class first; when it is empty, a block of one of the
 * next two classes (up to half again as big) is better than a new mapping:
 * its pages are already resident, a new block's would have to be faulted
 * in, and the bigger block would otherwise sit in the cache unused.  With
 * `site_only`, nothing but a block from the same site. */
static hak_large_t *class_take(size_t size, size_t align, const void *site, bool site_only)
{
    unsigned c = hak_bigcache_class_ceil(size);
    if (c >= HAK_BC_NCLASS)
        return NULL;
    unsigned last = c + 2 < HAK_BC_NCLASS ? c + 2 : HAK_BC_NCLASS - 1;
    /* Racy peek, so that a miss takes no lock: oldest_ms, a relaxed atomic
     * kept under the lock, is UINT64_MAX exactly when the class is empty. */
    while (c <= last &&
           atomic_load_explicit(&classes[c].oldest_ms, memory_order_relaxed) == UINT64_MAX)
        c++;
    if (c > last)
        return NULL;
    bc_class_t *k = &classes[c];
    hak_large_t *found = NULL, *first = NULL;
    pthread_mutex_lock(&k->lock);
    unsigned n = 0;
    for (hak_large_t *l = k->head; l != NULL && n < SITE_SCAN; l = l->next, n++) {
        if (align > HAK_SS_SIZE && (l->user & (align - 1)) != 0)
            continue;
        if (first == NULL)
            first = l;
        if (l->site == site) {
            found = l;
            break;
        }
    }
    if (found == NULL && !site_only)
        found = first;
    if (found != NULL)
        unlink_entry(k, found);
    pthread_mutex_unlock(&k->lock);
    return found;
}

/* Order of preference: the thread's last block from the same site, a
 * class block from the same site, the thread's last, any class block. */
hak_large_t *hak_bigcache_take(size_t size, size_t align, const void *site)
{
    _Atomic(hak_large_t *) *slot = my_recent();
    hak_large_t *r = NULL, *l = NULL;
    if (atomic_load_explicit(slot, memory_order_relaxed) != NULL) {
        r = atomic_exchange_explicit(slot, NULL, memory_order_acquire);
        if (r != NULL && !recent_fits(r, size, align)) {
            recent_give(slot, r);
            r = NULL;
        }
    }
    if (r != NULL && r->site != site)
        l = class_take(size, align, site, true);
    else if (r == NULL)
        l = class_take(size, align, site, false);
    if (l == NULL) {
        l = r;
        r = NULL;
    }
    if (r != NULL)
        recent_give(slot, r);
    if (l == NULL) {
        atomic_fetch_add_explicit(&hak_stats.bc_misses, 1, memory_order_relaxed);
        return NULL;
    }
    if (l->site == site)
        atomic_fetch_add_explicit(&hak_stats.bc_site_hits, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&held, l->capacity, memory_order_relaxed);
    atomic_fetch_add_explicit(&hak_stats.bc_hits, 1, memory_order_relaxed);
    return l;
}

/* A block leaves the cache for the batch; `why` counts the reason. */
static void drop(hak_large_t *l, _Atomic uint64_t *why)
{
    atomic_fetch_sub_explicit(&held, l->capacity, memory_order_relaxed);
    atomic_fetch_add_explicit(why, 1, memory_order_relaxed);
    hak_large_release(l);
}

/* Evicts the oldest block of any class, or when the classes are empty a
 * slot's block; false if the cache is empty. */
static bool evict_oldest(void)
{
    unsigned best = HAK_BC_NCLASS;
    uint64_t best_ms = UINT64_MAX;
    for (unsigned c = 0; c < HAK_BC_NCLASS; c++) {
        uint64_t t = atomic_load_explicit(&classes[c].oldest_ms, memory_order_relaxed);
        if (t < best_ms) {
            best_ms = t;
            best = c;
        }
    }
    if (best == HAK_BC_NCLASS) {
        for (unsigned i = 0; i < RECENT_SLOTS; i++) {
            hak_large_t *l = atomic_exchange_explicit(&recent[i], NULL, memory_order_acquire);
            if (l != NULL) {
                drop(l, &hak_stats.bc_evicted);
                return true;
            }
        }
        return false;
    }
    bc_class_t *k = &classes[best];
    pthread_mutex_lock(&k->lock);
    hak_large_t *l = k->tail;
    if (l != NULL)
        unlink_entry(k, l);
    pthread_mutex_unlock(&k->lock);
    if (l != NULL)
        drop(l, &hak_stats.bc_evicted);
    return true;
}

bool hak_bigcache_put(hak_large_t *l)
{
    size_t cap = l->capacity;
    unsigned c = hak_bigcache_class_floor(cap);
    if (c >= HAK_BC_NCLASS || cap > hak_opt.bigcache_max ||
        cap >= atomic_load_explicit(&hak_elo_threshold, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&hak_stats.bc_rejects, 1, memory_order_relaxed);
        return false;
    }
    while (atomic_load_explicit(&held, memory_order_relaxed) + cap > hak_opt.bigcache_max)
        if (!evict_oldest())
            break;
    l->cls = (uint8_t)c;
    l->freed_ms = hak_now_ms();
    hak_stats_add(&held, (int64_t)cap, &hak_stats.bc_bytes_peak);
    recent_give(my_recent(), l);
    atomic_fetch_add_explicit(&hak_stats.bc_puts, 1, memory_order_relaxed);
    hak_decay_wake(hak_bigcache_held());
    return true;
}

size_t hak_bigcache_held(void)
{
    return atomic_load_explicit(&held, memory_order_relaxed);
}

/* Evicts every block freed at least `age_ms` before `now_ms`. */
size_t hak_bigcache_decay(uint64_t now_ms, uint64_t age_ms)
{
    size_t bytes = 0;
    for (unsigned i = 0; i < RECENT_SLOTS; i++) {
        if (atomic_load_explicit(&recent[i], memory_order_relaxed) == NULL)
            continue;
        hak_large_t *l = atomic_exchange_explicit(&recent[i], NULL, memory_order_acquire);
        if (l == NULL)
            continue;
        if (now_ms - l->freed_ms < age_ms) {
            recent_give(&recent[i], l);
            continue;
        }
        bytes += l->capacity;
        drop(l, &hak_stats.bc_decayed);
    }
    for (unsigned c = 0; c < HAK_BC_NCLASS; c++) {
        bc_class_t *k = &classes[c];
        uint64_t oldest = atomic_load_explicit(&k->oldest_ms, memory_order_relaxed);
        if (oldest == UINT64_MAX || now_ms - oldest < age_ms)
            continue;
        hak_large_t *out = NULL;
        pthread_mutex_lock(&k->lock);
        while (k->tail != NULL && now_ms - k->tail->freed_ms >= age_ms) {
            hak_large_t *l = k->tail;
            unlink_entry(k, l);
            l->next = out;
            out = l;
        }
        pthread_mutex_unlock(&k->lock);
        while (out != NULL) {
            hak_large_t *l = out;
            out = l->next;
            bytes += l->capacity;
            drop(l, &hak_stats.bc_decayed);
        }
    }
    return bytes;
}

void hak_bigcache_lock_all(void)
{
    for (unsigned c = 0; c < HAK_BC_NCLASS; c++)
        pthread_mutex_lock(&classes[c].lock);
}

void hak_bigcache_unlock_all(void)
{
    for (unsigned c = HAK_BC_NCLASS; c-- > 0;)
        pthread_mutex_unlock(&classes[c].lock);
}

void hak_bigcache_reset_locks(void)
{
    for (unsigned c = 0; c < HAK_BC_NCLASS; c++)
        pthread_mutex_init(&classes[c].lock, NULL);
}
