/* large.c — blocks above the slab classes.  Each is its own mapping, 2 MiB
 * aligned and a whole number of 2 MiB windows long, so that the registry
 * finds its record with the same single load as slab memory.  The record
 * lives out of line (metadata never sits next to user data), which also
 * lets a 2 MiB block fill exactly one window — one huge page.
 *
 * A block's capacity is its size class (four per power of two, see
 * bigcache.c), so that a recycled block fits every request of its class.
 * Freed blocks go to BigCache; what BigCache does not keep goes to the
 * batch, which also supplies mappings before the kernel is asked.
 *
 * Transparent huge pages: the 2 MiB windows that a block covers entirely
 * are marked MADV_HUGEPAGE (option), so they fault in as one page each —
 * on these machines a 4 KiB fault costs ~13 us and a 2 MiB one ~120 us,
 * 55 times less per byte.  So is a last window the block covers at least
 * three quarters of: its 384-511 small faults cost 40 times the huge one,
 * and the memory the block cannot use is at most a third of its own.
 * Windows covered less keep small pages. */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define LARGE_LIVE   0x68616b4c41524745ull   /* "hakLARGE" */
#define LARGE_CACHED 0x68616b4c43414348ull   /* "hakLCACH" */

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_large_t *rec_free;

static hak_large_t *rec_new(void)
{
    pthread_mutex_lock(&rec_lock);
    hak_large_t *l = rec_free;
    if (l != NULL)
        rec_free = l->next;
    pthread_mutex_unlock(&rec_lock);
    if (l == NULL)
        l = hak_meta_alloc(sizeof *l);
    if (l != NULL)
        memset(l, 0, sizeof *l);
    return l;
}

static void rec_put(hak_large_t *l)
{
    l->magic = 0;
    pthread_mutex_lock(&rec_lock);
    l->next = rec_free;
    rec_free = l;
    pthread_mutex_unlock(&rec_lock);
}

static size_t round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

size_t hak_large_capacity(size_t size)
{
    unsigned c = hak_bigcache_class_ceil(size);
    size_t cap = c < HAK_BC_NCLASS ? hak_bigcache_class_size(c) : size;
    return round_up(cap, 4096);
}

/* The bytes from the block's start that are marked huge: the windows
 * the block covers whole, or the last one three quarters. */
static size_t huge_part(size_t cap)
{
    return hak_opt.large_hugepage ? (cap + HAK_SS_SIZE / 4) & ~(HAK_SS_SIZE - 1) : 0;
}

/* Marks huge_part(cap) as huge, the rest not (the mapping may come from a
 * user of the other kind); no syscall when the mapping is already marked
 * so. */
static uint8_t set_huge(uintptr_t base, size_t map, size_t cap, uint8_t was)
{
    size_t full = huge_part(cap);
    uint8_t want = full == 0 ? HAK_HUGE_NONE : full == map ? HAK_HUGE_ALL : HAK_HUGE_MIXED;
    if (want == was && want != HAK_HUGE_MIXED)
        return want;
    if (full > 0)
        hak_os_advise((void *)base, full, MADV_HUGEPAGE);
    if (was != HAK_HUGE_NONE && full < map)
        hak_os_advise((void *)(base + full), map - full, MADV_NOHUGEPAGE);
    return want;
}

/* A user asked for `size` bytes of the block: they are likely to be
 * resident from now on (bigcache.c prefers blocks that would fault
 * nothing in for a request).  Not rounded up to the huge-page windows:
 * a window marked after some of its pages were faulted in keeps small
 * pages. */
static void touch(hak_large_t *l, size_t size)
{
    if (l->touched < size)
        l->touched = size;
}

static hak_large_t *map_block(size_t size, size_t align)
{
    size_t cap = hak_large_capacity(size);
    size_t map = round_up(cap, HAK_SS_SIZE);
    size_t map_align = align > HAK_SS_SIZE ? align : HAK_SS_SIZE;
    bool zero = true;
    uint8_t huge = HAK_HUGE_NONE;
    void *base = hak_batch_map(map, map_align, &zero, &huge);
    if (base == NULL)
        return NULL;
    hak_large_t *l = rec_new();
    if (l == NULL) {
        hak_batch_release(base, map, map, huge);
        errno = ENOMEM;
        return NULL;
    }
    l->user = (uintptr_t)base;
    l->map_size = map;
    l->capacity = cap;
    l->dirty = zero ? 0 : map;             /* past cap too: a recycled range */
    if (zero) {
        atomic_fetch_add_explicit(&hak_stats.large_fresh_bytes, cap, memory_order_relaxed);
        atomic_fetch_add_explicit(&hak_stats.large_calls, 1, memory_order_relaxed);
    }
    l->huge = set_huge((uintptr_t)base, map, cap, huge);
    return l;
}

/* Live large blocks, their usable bytes and their mappings, for the
 * statistics (mallinfo's hblks and hblkhd) and BigCache's bound.  A thread
 * with a heap adds them up on its own and publishes them every
 * LIVE_BATCH operations, or when its bytes are LIVE_SLACK off: two threads
 * that allocate large blocks by the million would otherwise spend a third
 * of their time handing these counters' cache line to each other
 * (larson-large).  What a thread has not published yet it sees itself
 * (hak_large_live_bytes), and the readers of the statistics publish
 * theirs first, so a single thread's figures are exact; another thread's
 * lag by at most LIVE_BATCH blocks or LIVE_SLACK bytes.  A thread's heap
 * teardown publishes what is left; after it (other key destructors) and
 * without a heap, every operation publishes at once. */
#define LIVE_BATCH 16
#define LIVE_SLACK ((int64_t)16 << 20)

static __thread struct {
    int64_t live, bytes, mapped;
    uint64_t allocs, frees;
    unsigned ops;
} unpublished __attribute__((tls_model("initial-exec")));

void hak_large_publish(void)
{
    if (unpublished.ops == 0)
        return;
    hak_stats_add(&hak_stats.large_live, unpublished.live, NULL);
    hak_stats_add(&hak_stats.large_live_bytes, unpublished.bytes, NULL);
    hak_stats_add(&hak_stats.large_live_mapped, unpublished.mapped, NULL);
    atomic_fetch_add_explicit(&hak_stats.large_allocs, unpublished.allocs, memory_order_relaxed);
    atomic_fetch_add_explicit(&hak_stats.large_frees, unpublished.frees, memory_order_relaxed);
    unpublished.live = unpublished.bytes = unpublished.mapped = 0;
    unpublished.allocs = unpublished.frees = 0;
    unpublished.ops = 0;
}

size_t hak_large_live_bytes(void)
{
    return (size_t)(atomic_load_explicit(&hak_stats.large_live_bytes, memory_order_relaxed) +
                    (uint64_t)unpublished.bytes);
}

/* sign: +1 in, -1 out; op: counts an allocation (+1) or a free (-1). */
static void large_live(const hak_large_t *l, int sign, int op)
{
    unpublished.live += sign;
    unpublished.bytes += sign * (int64_t)l->capacity;
    unpublished.mapped += sign * (int64_t)l->map_size;
    unpublished.allocs += op > 0;
    unpublished.frees += op < 0;
    if (++unpublished.ops >= LIVE_BATCH || unpublished.bytes > LIVE_SLACK || unpublished.bytes < -LIVE_SLACK ||
        hak_tls_heap->kind == HAK_HEAP_SENTINEL)
        hak_large_publish();
}

static hak_large_t *fit_block(size_t size, size_t cap, size_t align);

void *hak_large_alloc(size_t size, size_t align, bool zero, const void *site)
{
    if (size > (size_t)PTRDIFF_MAX - 2 * HAK_SS_SIZE || align > ((size_t)1 << 40)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t cap = hak_large_capacity(size);
    hak_large_t *l = hak_bigcache_take(size, cap, align, site);
    if (l == NULL)
        l = fit_block(size, cap, align);
    if (l == NULL) {
        l = map_block(size, align);
        if (l == NULL) {
            /* Out of memory or address space: give back everything cached,
             * then try once more before failing. */
            hak_bigcache_decay(UINT64_MAX, 0);
            hak_batch_flush();
            l = map_block(size, align);
        }
        if (l == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        if (!hak_registry_set(l->user, l->map_size, (uintptr_t)l | HAK_TAG_LARGE)) {
            /* Registering can fail too (commit limit, max_map_count). */
            hak_large_release(l);
            errno = ENOMEM;
            return NULL;
        }
    }
    /* A thread's last freed block may be smaller than the request, within
     * its mapping (see bigcache.c); the pages it grows into are as clean
     * as `dirty` says. */
    if (l->capacity < cap) {
        if (l->tail_queued) {
            /* A shrink queued the tail for decommit: cancelled, it keeps
             * whatever it held. */
            hak_batch_cancel((void *)(l->user + l->capacity), l->map_size - l->capacity);
            l->tail_queued = false;
            l->dirty = l->map_size;
        }
        l->capacity = cap;
        atomic_fetch_add_explicit(&hak_stats.bc_grown_hits, 1, memory_order_relaxed);
    }
    if (zero && l->dirty > 0)
        memset((void *)l->user, 0, size < l->dirty ? size : l->dirty);
    if (l->dirty < l->capacity)
        l->dirty = l->capacity;
    l->size = size;
    touch(l, size);
    l->site = site;
    l->magic = LARGE_LIVE ^ hak_secret;
    large_live(l, 1, 1);
    hak_bigcache_note_live();
    hak_elo_alloc(l->capacity);
    return (void *)l->user;
}

/* The record of the live large block `p`, or NULL if `p` is not one. */
hak_large_t *hak_large_of(uintptr_t entry, void *p)
{
    if ((entry & HAK_TAG_MASK) != HAK_TAG_LARGE)
        return NULL;
    hak_large_t *l = (hak_large_t *)(entry & ~(uintptr_t)HAK_TAG_MASK);
    if (l->magic != (LARGE_LIVE ^ hak_secret) || l->user != (uintptr_t)p)
        return NULL;
    return l;
}

/* Is `p` a large block that sits freed in BigCache (a second free)? */
bool hak_large_is_cached(uintptr_t entry, void *p)
{
    if ((entry & HAK_TAG_MASK) != HAK_TAG_LARGE)
        return false;
    hak_large_t *l = (hak_large_t *)(entry & ~(uintptr_t)HAK_TAG_MASK);
    return l->magic == (LARGE_CACHED ^ hak_secret) && l->user == (uintptr_t)p;
}

size_t hak_large_usable(hak_large_t *l)
{
    return l->capacity;
}

/* In place within the mapping: shrinking below half gives the pages beyond
 * the new capacity back (through the batch), growing takes them again. */
bool hak_large_resize(hak_large_t *l, size_t size)
{
    size_t cap = hak_large_capacity(size);
    if (cap > l->map_size)
        return false;
    if (size <= l->capacity && size >= l->capacity / 2) {
        l->size = size;
        touch(l, size);
        return true;
    }
    if (cap < l->capacity) {
        if (l->dirty > cap) {
            hak_batch_decommit((void *)(l->user + cap), l->dirty - cap);
            l->tail_queued = true;
        }
    } else {
        /* Pages given up by an earlier shrink may still be queued: they
         * keep their old contents, which is fine for realloc. */
        hak_batch_cancel((void *)(l->user + l->capacity), cap - l->capacity);
    }
    /* A live block may be written up to its capacity; calloc relies on
     * `dirty` to know what a recycled block must have cleared. */
    large_live(l, -1, 0);
    if (cap < l->capacity || l->dirty < cap)
        l->dirty = cap;
    l->capacity = cap;
    l->size = size;
    if (l->touched > l->dirty)
        l->touched = l->dirty;
    touch(l, size);
    large_live(l, 1, 0);
    atomic_fetch_add_explicit(&hak_stats.large_inplace, 1, memory_order_relaxed);
    return true;
}

/* Grows a block's mapping to `map` without copying: mremap in place if the
 * address space after it is free, else onto a fresh 2 MiB-aligned range.
 * The pages move with it: none is faulted in again.  False when neither
 * works: mremap moves a single VMA, and a block whose windows are marked
 * differently (HAK_HUGE_MIXED) is two that the kernel will not merge once
 * both have pages.  Updates the mapping, the registry and the mapped
 * bytes; the caller sets the rest. */
static bool remap(hak_large_t *l, size_t map)
{
    uintptr_t old = l->user;
    size_t old_map = l->map_size;
    /* A tail given up by an earlier shrink may still be queued for
     * decommit: at its old place it would hit whatever is mapped there
     * next, in place it would hit the grown block (found by the fuzzer). */
    hak_batch_cancel((void *)old, old_map);
    l->tail_queued = false;
    /* The registry pieces of the new range are made writable before the
     * move, so that registering it cannot fail once the block has moved. */
    void *p = hak_registry_prepare(old, map) ? hak_os_remap((void *)old, old_map, map, NULL) : NULL;
    if (p == NULL) {
        /* An aligned target, reserved through os.c so that trims that
         * fail (max_map_count) are retried, not lost. */
        char *t = hak_os_reserve_aligned(map, HAK_SS_SIZE);
        if (t == NULL)
            return false;
        if (!hak_registry_prepare((uintptr_t)t, map)) {
            hak_os_unmap(t, map);
            return false;
        }
        /* The windows the block leaves are forgotten before it leaves
         * them: once the kernel has moved it, another thread may map a
         * slab there and register it, which clearing them afterwards
         * would undo (a later free of that slab's blocks: "invalid
         * pointer").  Nobody else may look the block up meanwhile: it is
         * being resized, not live or cached. */
        hak_registry_set(old, old_map, 0);
        p = hak_os_remap((void *)old, old_map, map, t);
        if (p == NULL) {
            hak_registry_set(old, old_map, (uintptr_t)l | HAK_TAG_LARGE);
            hak_os_unmap(t, map);
            return false;
        }
        /* The block replaced the reservation: counted once, below. */
        hak_stats_add(&hak_stats.mapped, -(int64_t)map, NULL);
    }
    hak_stats_add(&hak_stats.mapped, (int64_t)(map - old_map), &hak_stats.mapped_peak);
    atomic_fetch_add_explicit(&hak_stats.large_mremaps, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hak_stats.large_fresh_bytes, map - old_map, memory_order_relaxed);
    l->user = (uintptr_t)p;
    l->map_size = map;
    bool ok = hak_registry_set(l->user, map, (uintptr_t)l | HAK_TAG_LARGE);
    hak_assert(ok);
    (void)ok;
    return true;
}

/* realloc past the mapping. */
void *hak_large_move(hak_large_t *l, size_t size)
{
    size_t cap = hak_large_capacity(size);
    size_t map = round_up(cap, HAK_SS_SIZE);
    if (size > (size_t)PTRDIFF_MAX - 2 * HAK_SS_SIZE || map <= l->map_size)
        return NULL;
    large_live(l, -1, 0);
    bool moved = remap(l, map);
    if (moved) {
        l->capacity = cap;
        l->dirty = cap;
        l->size = size;
        l->huge = set_huge(l->user, map, cap, l->huge);
        touch(l, size);
    }
    large_live(l, 1, 0);
    return moved ? (void *)l->user : NULL;
}

/* Cuts the windows from `keep` on off a cached block `l` being resized for
 * a request: they become a cached block of their own (a whole number of
 * windows, its capacity all of them), registered, with the pages `l` had
 * there; NULL if there is no record for them (they stay with `l`). */
static hak_large_t *split(hak_large_t *l, size_t keep)
{
    hak_large_t *r = rec_new();
    if (r == NULL)
        return NULL;
    r->user = l->user + keep;
    r->map_size = l->map_size - keep;
    r->capacity = r->map_size;
    r->dirty = l->dirty > keep ? l->dirty - keep : 0;
    r->touched = l->touched > keep ? l->touched - keep : 0;
    r->huge = l->huge;
    if (l->huge == HAK_HUGE_MIXED) {
        /* The windows marked are those huge_part gave the block's
         * capacity (unless a hit grew it since: then a part that is not
         * all of one kind says so wrongly, which costs the huge pages of
         * a window, or a mremap that fails and is not used). */
        size_t hp = huge_part(l->capacity);
        r->huge = keep >= hp ? HAK_HUGE_NONE : HAK_HUGE_MIXED;
        l->huge = keep <= hp ? HAK_HUGE_ALL : HAK_HUGE_MIXED;
    }
    r->site = NULL;
    r->magic = LARGE_CACHED ^ hak_secret;
    bool ok = hak_registry_set(r->user, r->map_size, (uintptr_t)r | HAK_TAG_LARGE);
    hak_assert(ok);     /* the windows were registered already: nothing to allocate */
    (void)ok;
    l->map_size = keep;
    if (l->dirty > keep)
        l->dirty = keep;
    if (l->touched > keep)
        l->touched = keep;
    if (l->capacity > keep)
        l->capacity = keep;
    atomic_fetch_add_explicit(&hak_stats.bc_splits, 1, memory_order_relaxed);
    return r;
}

/* A miss in the request's classes: a cached block of another class,
 * resized to the request, before a fresh mapping whose every page would
 * fault in.  A bigger block keeps the windows the request needs and the
 * rest is split off into the cache; a smaller one grows within its
 * mapping, or by mremap, keeping its pages either way.  What the block
 * then holds beyond the request's capacity is at most that capacity, and
 * less than one 2 MiB window (bigcache.c chooses; see fit_cost). */
static hak_large_t *fit_block(size_t size, size_t cap, size_t align)
{
    hak_large_t *l = hak_bigcache_take_fit(size, align);
    if (l == NULL)
        return NULL;
    size_t need = round_up(cap, HAK_SS_SIZE);
    if (l->tail_queued) {
        /* The tail a shrink queued for decommit is the block's again,
         * with whatever it still holds. */
        hak_batch_cancel((void *)(l->user + l->capacity), l->map_size - l->capacity);
        l->tail_queued = false;
        l->dirty = l->map_size;
    }
    if (l->map_size > need) {
        hak_large_t *r = split(l, need);
        if (r != NULL && !hak_bigcache_put_piece(r))
            hak_large_release(r);
    } else if (l->map_size < need) {
        if (!remap(l, need)) {
            if (!hak_bigcache_put_piece(l))
                hak_large_release(l);
            return NULL;
        }
        atomic_fetch_add_explicit(&hak_stats.bc_fit_moves, 1, memory_order_relaxed);
    }
    l->capacity = cap;
    l->huge = set_huge(l->user, l->map_size, cap, l->huge);
    return l;
}

void hak_large_free(hak_large_t *l, const void *site)
{
    (void)site;
    l->magic = LARGE_CACHED ^ hak_secret;
    large_live(l, -1, -1);
    size_t cap = l->capacity;
    if (!hak_bigcache_put(l))
        hak_large_release(l);
    hak_elo_free(cap);
}

/* The block leaves hakmem's hands: unregister, mapping to the batch. */
void hak_large_release(hak_large_t *l)
{
    uintptr_t base = l->user;
    size_t map = l->map_size, dirty = l->dirty;
    uint8_t huge = l->huge;
    hak_registry_set(base, map, 0);
    rec_put(l);
    atomic_fetch_add_explicit(&hak_stats.large_released_bytes, dirty, memory_order_relaxed);
    atomic_fetch_add_explicit(&hak_stats.large_calls, 1, memory_order_relaxed);
    hak_batch_release((void *)base, map, dirty, huge);
}

void hak_large_lock(void)       { pthread_mutex_lock(&rec_lock); }
void hak_large_unlock(void)     { pthread_mutex_unlock(&rec_lock); }
void hak_large_reset_lock(void) { pthread_mutex_init(&rec_lock, NULL); }
