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
 * purpose is the likeliest to have the right pages resident.  Above both
 * comes a block whose earlier users asked for at least as much as the
 * request (`touched`): its pages are resident, another's would fault in,
 * 4 KiB at a time, where the program touches them (rank).  Such a block
 * is looked for in all three classes before one that does not cover the
 * request is taken from the first.
 *
 * In front of the classes, each thread's slot holds the block that thread
 * freed last.  Its pages are the likeliest to be in this core's caches, and
 * that is worth more than a close fit: a program that frees one large block
 * and allocates another of a different size (a buffer per request) writes
 * the new block at cache speed instead of memory speed — 1.25x the
 * throughput of larson's large profile.  So the slot serves any request
 * that fits the block's mapping, up to four times smaller than its
 * capacity and with the same whole huge-page windows (no madvise on reuse),
 * unless a class block ranks above it.  Slots are atomic pointers, taken
 * and given by exchange; threads beyond RECENT_SLOTS share them.  A miss
 * files every slot's block in its class, where it can be found: a slot's
 * thread may have exited.
 *
 * A request that finds nothing in its classes (a miss) is still served
 * from the cache when a block of another class can be made to fit it
 * (hak_bigcache_take_fit, resized by large.c): its resident pages save
 * the page faults a fresh mapping would take, one per 4 KiB.
 *
 * One lock per class, so threads working on different sizes never meet,
 * and none is held across a syscall.  Bytes held are bounded: beyond the
 * bound the oldest block of any class is evicted.  The bound follows the
 * program (hak_bigcache_bound): HAKMEM_BIGCACHE_MAX, or what the program
 * has freed since its recent peak of live large blocks, when that is more.
 * Blocks older than the decay time are evicted by decay.c, whatever the
 * bound.  Evicted blocks go to the batch through large.c.  Whether a
 * freed block is kept at all is the retention threshold that elo.c
 * chooses. */
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

static bool recent_fits(const hak_large_t *l, size_t cap, size_t align)
{
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

/* How well a cached block suits a request, 1 to 4: a block whose
 * resident pages cover the request saves every page fault (+2), one from
 * the same call site is likely to be used the same way (+1). */
static unsigned rank(const hak_large_t *l, size_t size, const void *site)
{
    return 1 + (l->site == site ? 1 : 0) + (l->touched >= size ? 2 : 0);
}

/* The best ranked of class k's newest SITE_SCAN blocks that are aligned
 * and ranked above `min_rank`, with its rank; NULL if none.  Called with
 * k's lock held. */
static hak_large_t *best_ranked(bc_class_t *k, size_t size, size_t align, const void *site,
                                unsigned *min_rank)
{
    hak_large_t *found = NULL;
    unsigned n = 0;
    for (hak_large_t *l = k->head; l != NULL && n < SITE_SCAN && *min_rank < 4; l = l->next, n++) {
        if (align > HAK_SS_SIZE && (l->user & (align - 1)) != 0)
            continue;
        unsigned r = rank(l, size, site);
        if (r > *min_rank) {
            found = l;
            *min_rank = r;
        }
    }
    return found;
}

/* The request's own class first; when it is empty, a block of one of the
 * next two classes (up to half again as big) is better than a new mapping:
 * its pages are already resident, a new block's would have to be faulted
 * in, and the bigger block would otherwise sit in the cache unused.  A
 * block that covers the request (rank 3 or 4) is looked for in all three
 * before one that does not is taken from the first.  Only blocks ranked
 * above `min_rank`. */
static hak_large_t *class_take(size_t size, size_t align, const void *site, unsigned min_rank)
{
    unsigned c = hak_bigcache_class_ceil(size);
    if (c >= HAK_BC_NCLASS)
        return NULL;
    unsigned last = c + 2 < HAK_BC_NCLASS ? c + 2 : HAK_BC_NCLASS - 1;
    unsigned first = HAK_BC_NCLASS, first_rank = min_rank;
    for (; c <= last; c++) {
        bc_class_t *k = &classes[c];
        /* Racy peek, so that a miss takes no lock: oldest_ms, a relaxed
         * atomic kept under the lock, is UINT64_MAX exactly when the
         * class is empty. */
        if (atomic_load_explicit(&k->oldest_ms, memory_order_relaxed) == UINT64_MAX)
            continue;
        unsigned r = min_rank > 2 ? min_rank : 2;            /* covering ones only */
        pthread_mutex_lock(&k->lock);
        hak_large_t *l = best_ranked(k, size, align, site, &r);
        if (l != NULL)
            unlink_entry(k, l);
        pthread_mutex_unlock(&k->lock);
        if (l != NULL)
            return l;
        if (first == HAK_BC_NCLASS)
            first = c;
    }
    if (first == HAK_BC_NCLASS || first_rank >= 2)
        return NULL;
    bc_class_t *k = &classes[first];
    pthread_mutex_lock(&k->lock);
    hak_large_t *l = best_ranked(k, size, align, site, &first_rank);
    if (l != NULL)
        unlink_entry(k, l);
    pthread_mutex_unlock(&k->lock);
    return l;
}

/* The thread's last freed block, unless a class block ranks above it:
 * its pages are in this core's caches, but a page fault costs more than
 * a cache miss on every line of the page. */
hak_large_t *hak_bigcache_take(size_t size, size_t cap, size_t align, const void *site)
{
    _Atomic(hak_large_t *) *slot = my_recent();
    hak_large_t *r = NULL, *l = NULL;
    if (atomic_load_explicit(slot, memory_order_relaxed) != NULL) {
        r = atomic_exchange_explicit(slot, NULL, memory_order_acquire);
        if (r != NULL && !recent_fits(r, cap, align)) {
            recent_give(slot, r);
            r = NULL;
        }
    }
    unsigned r_rank = r != NULL ? rank(r, size, site) : 0;
    if (r_rank < 4)
        l = class_take(size, align, site, r_rank);
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

/* The bytes the cache may hold: HAKMEM_BIGCACHE_MAX, or, when more, what
 * the program's live large blocks (their capacity) have fallen short of
 * their peak of the last one to two decay times, or HAKMEM_BIGCACHE_LIVE
 * percent of what is live, up to HAKMEM_BIGCACHE_PEAK.  A program with hundreds of MiB of large blocks
 * frees them by the dozen and allocates as many again, of other sizes:
 * a fixed bound below what it frees evicts blocks it is about to want,
 * and each comes back as a fresh mapping faulted in page by page.  Under
 * this bound its large blocks, live and cached together, never take
 * more than at their peak (or than live plus HAKMEM_BIGCACHE_MAX, or the
 * live share): a program that keeps its live total level, replacing
 * blocks by others of new sizes, needs that share to find a block that
 * fits the next request among what it freed.  The
 * peak is kept for the decay period it was seen in and the next, so the
 * bound comes back down once the program has held less for that long;
 * what an idle program keeps goes back with the decay, whatever the
 * bound.  0 turns the cache off, whatever is live. */
static _Atomic size_t peak_now, peak_before;      /* this period's, the last one's */
static _Atomic uint64_t peak_period;               /* number of the period of peak_now */

/* Starts a new period when `now` is past the one the peak belongs to,
 * keeping the last one's peak unless a whole period has passed without a
 * look. */
static void roll_period(size_t live, uint64_t now)
{
    uint64_t period = now / hak_opt.decay_ms;
    uint64_t seen = atomic_load_explicit(&peak_period, memory_order_relaxed);
    if (period != seen &&
        atomic_compare_exchange_strong_explicit(&peak_period, &seen, period, memory_order_relaxed,
                                                memory_order_relaxed)) {
        atomic_store_explicit(&peak_before,
                              period == seen + 1 ? atomic_load_explicit(&peak_now, memory_order_relaxed) : 0,
                              memory_order_relaxed);
        atomic_store_explicit(&peak_now, live, memory_order_relaxed);
    }
}

/* The peak of the live large bytes over this period and the last, with
 * `live`. */
static size_t live_peak(size_t live, uint64_t now)
{
    roll_period(live, now);
    size_t p = atomic_load_explicit(&peak_now, memory_order_relaxed);
    size_t before = atomic_load_explicit(&peak_before, memory_order_relaxed);
    p = p > live ? p : live;
    return p > before ? p : before;
}

static size_t bound_at(uint64_t now)
{
    size_t b = hak_opt.bigcache_max, lim = hak_opt.bigcache_peak;
    if (b == 0 || lim <= b)
        return b;
    size_t live = hak_large_live_bytes();
    size_t freed = live_peak(live, now) - live;
    size_t share = live * hak_opt.bigcache_live / 100;     /* live < 2^47 */
    if (freed < share)
        freed = share;
    if (freed > lim)
        freed = lim;
    return freed > b ? freed : b;
}

size_t hak_bigcache_bound(void)
{
    return bound_at(hak_now_ms());
}

/* A block went live (large.c): the peak must see the program's highest
 * point, not only what is live between its frees, and belongs to the
 * period it was reached in (a peak noted into a stale period would be
 * forgotten by the next look, and the block freed right after it not
 * kept).  Below the noted peak there is nothing to note, and no clock to
 * read: a stale peak at least that high stands for this one until the
 * next look rolls the period. */
void hak_bigcache_note_live(void)
{
    size_t live = hak_large_live_bytes();
    size_t p = atomic_load_explicit(&peak_now, memory_order_relaxed);
    if (live <= p)
        return;
    roll_period(live, hak_now_ms());
    p = atomic_load_explicit(&peak_now, memory_order_relaxed);
    while (live > p && !atomic_compare_exchange_weak_explicit(&peak_now, &p, live, memory_order_relaxed,
                                                              memory_order_relaxed))
        ;
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

/* Makes room for `cap` more bytes within the bound; false if `cap` alone
 * is more than the bound allows.  The bound is worked out only when the
 * cache would pass HAKMEM_BIGCACHE_MAX, its least value. */
static bool make_room(size_t cap, uint64_t now)
{
    size_t base = hak_opt.bigcache_max;
    if (cap <= base && atomic_load_explicit(&held, memory_order_relaxed) + cap <= base)
        return true;
    size_t bound = bound_at(now);
    if (cap > bound)
        return false;
    while (atomic_load_explicit(&held, memory_order_relaxed) + cap > bound)
        if (!evict_oldest())
            break;
    return true;
}

bool hak_bigcache_put(hak_large_t *l)
{
    size_t cap = l->capacity;
    unsigned c = hak_bigcache_class_floor(cap);
    uint64_t now = hak_now_ms();
    if (c >= HAK_BC_NCLASS || cap >= atomic_load_explicit(&hak_elo_threshold, memory_order_relaxed) ||
        !make_room(cap, now)) {
        atomic_fetch_add_explicit(&hak_stats.bc_rejects, 1, memory_order_relaxed);
        return false;
    }
    l->cls = (uint8_t)c;
    l->freed_ms = now;
    hak_stats_add(&held, (int64_t)cap, &hak_stats.bc_bytes_peak);
    recent_give(my_recent(), l);
    atomic_fetch_add_explicit(&hak_stats.bc_puts, 1, memory_order_relaxed);
    hak_decay_wake(hak_bigcache_held());
    return true;
}

/* The windows a resized block did not need (large.c): filed in their
 * class, not in the thread's slot, which keeps the thread's last block. */
bool hak_bigcache_put_piece(hak_large_t *l)
{
    size_t cap = l->capacity;
    unsigned c = hak_bigcache_class_floor(cap);
    if (c >= HAK_BC_NCLASS || !make_room(cap, hak_now_ms()))
        return false;
    l->cls = (uint8_t)c;
    hak_stats_add(&held, (int64_t)cap, &hak_stats.bc_bytes_peak);
    file(l);
    hak_decay_wake(hak_bigcache_held());
    return true;
}

/* What serving a request of capacity `cap` (mapping `need`) from block `l`
 * costs, in bytes: the pages it must fault in, plus half of the resident
 * bytes it would hold beyond `cap` (memory the request cannot use, until
 * it is freed).  Windows beyond `need` cost nothing: large.c splits them
 * off and they stay cached.  A block smaller than `need` grows by mremap,
 * which keeps its pages (not one whose windows differ in huge-page
 * marking: two VMAs, which mremap does not move together).  -1: unusable,
 * including when more than `cap` would be held unused, so that a block
 * never holds more than twice what its request asked for. */
#define FIT_SCAN    4                 /* entries looked at per class */
#define MREMAP_COST ((int64_t)64 << 10) /* a mremap and a reservation, in fault bytes */

static int64_t fit_cost(const hak_large_t *l, size_t cap, size_t need, size_t align)
{
    if (align > HAK_SS_SIZE && (l->user & (align - 1)) != 0)
        return -1;
    size_t res = l->touched;
    if (res > need)
        res = need;
    int64_t faults = cap > res ? (int64_t)(cap - res) : 0;
    if (l->map_size >= need) {
        size_t waste = res > cap ? res - cap : 0;
        return waste > cap ? -1 : faults + (int64_t)waste / 2;
    }
    if (align > HAK_SS_SIZE || l->huge == HAK_HUGE_MIXED)
        return -1;
    return faults + MREMAP_COST;
}

/* The blocks in the threads' slots go to their classes, where a miss can
 * find them: a slot's thread may be gone (threads are numbered into the
 * slots, and a new one takes over an old one's slot only when it frees). */
static void demote_slots(void)
{
    for (unsigned i = 0; i < RECENT_SLOTS; i++) {
        if (atomic_load_explicit(&recent[i], memory_order_relaxed) == NULL)
            continue;
        hak_large_t *l = atomic_exchange_explicit(&recent[i], NULL, memory_order_acquire);
        if (l != NULL)
            file(l);
    }
}

/* The best of class k's first FIT_SCAN blocks for the request, and its
 * cost; NULL if none is usable.  Called with k's lock held. */
static hak_large_t *best_in(bc_class_t *k, size_t cap, size_t need, size_t align, int64_t *cost)
{
    hak_large_t *best = NULL;
    unsigned n = 0;
    for (hak_large_t *l = k->head; l != NULL && n < FIT_SCAN; l = l->next, n++) {
        int64_t c = fit_cost(l, cap, need, align);
        if (c >= 0 && (best == NULL || c < *cost)) {
            best = l;
            *cost = c;
        }
    }
    return best;
}

/* After a miss: the cached block of any class that serves the request
 * with the fewest page faults and the least memory held unused, if it
 * costs less than a fresh mapping (every page of `cap` faulted in).  The
 * caller (large.c) resizes it.  Every non-empty class is looked at, under
 * its lock, then the best one's lock is taken again to unlink its best
 * block: a miss happens once per mapping the cache could not supply, and
 * the page faults it saves cost far more than the locks. */
hak_large_t *hak_bigcache_take_fit(size_t size, size_t align)
{
    size_t cap = hak_large_capacity(size);
    size_t need = (cap + HAK_SS_SIZE - 1) & ~(HAK_SS_SIZE - 1);
    if (hak_bigcache_class_ceil(size) >= HAK_BC_NCLASS || hak_bigcache_held() == 0)
        return NULL;
    demote_slots();
    unsigned best_c = HAK_BC_NCLASS;
    int64_t best_cost = (int64_t)cap;
    for (unsigned c = 0; c < HAK_BC_NCLASS; c++) {
        bc_class_t *k = &classes[c];
        if (atomic_load_explicit(&k->oldest_ms, memory_order_relaxed) == UINT64_MAX)
            continue;
        int64_t cost = 0;
        pthread_mutex_lock(&k->lock);
        hak_large_t *l = best_in(k, cap, need, align, &cost);
        pthread_mutex_unlock(&k->lock);
        if (l != NULL && cost < best_cost) {
            best_cost = cost;
            best_c = c;
        }
    }
    if (best_c == HAK_BC_NCLASS)
        return NULL;
    bc_class_t *k = &classes[best_c];
    int64_t cost = 0;
    pthread_mutex_lock(&k->lock);
    hak_large_t *l = best_in(k, cap, need, align, &cost);   /* others may have taken some */
    if (l != NULL && cost < (int64_t)cap)
        unlink_entry(k, l);
    else
        l = NULL;
    pthread_mutex_unlock(&k->lock);
    if (l == NULL)
        return NULL;
    atomic_fetch_sub_explicit(&held, l->capacity, memory_order_relaxed);
    atomic_fetch_add_explicit(&hak_stats.bc_fits, 1, memory_order_relaxed);
    return l;
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
