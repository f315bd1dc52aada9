/* batch.c — every release of memory to the kernel goes through here.
 *
 * Two kinds of range arrive: pages of a mapping that stays in use (empty
 * slabs of a live SuperSlab; the tail of a shrunk large block), and whole
 * mappings nobody uses any more (large blocks leaving BigCache, empty
 * SuperSlabs beyond their cache).  They wait in one queue, coalesced when
 * adjacent, until enough is pending (bytes or ranges, options) or the
 * oldest has waited for the decay time; then one madvise per run of
 * adjacent ranges drops the pages.  Whole mappings then stay mapped as
 * retained address space, up to a limit, beyond which they are unmapped.
 *
 * Reuse comes first: a new SuperSlab or large block takes a pending
 * mapping (its pages still there: no madvise, no fault) or a retained one
 * (no mmap) before asking the kernel.  Pages about to be reused by their
 * owner are cancelled out of the queue.
 *
 * Everything is 2 MiB-aligned (SuperSlabs and large blocks) except the
 * page ranges of live mappings.  One lock; it is taken on slow paths only,
 * and held across the madvise calls so that a cancel never races one. */
#include "internal.h"

#include <sys/mman.h>

#define MAX_PENDING  1024
#define MAX_RETAINED 1024
#define MAP_CHUNK    ((size_t)32 << 20)

typedef struct {
    uintptr_t start, end;
    size_t    resident;               /* bytes that may hold pages (<= end - start) */
    bool      whole;                  /* a mapping we own, not pages of a live one */
    uint8_t   huge;                   /* HAK_HUGE_* */
    bool      reserved;               /* PROT_NONE, never used (rest of a chunk) */
} range_t;

static pthread_mutex_t batch_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned npending;
/* ms; 0 when nothing is pending.  Written under the lock, read without it
 * by the decay (hak_batch_oldest_ms): relaxed atomics, plain moves on
 * x86, so that the unlocked read is well defined. */
static _Atomic uint64_t pending_since;
static range_t  retained[MAX_RETAINED];
static unsigned nretained;
static size_t   retained_bytes;
static bool     retained_zero = true; /* false once MADV_FREE was used */

static range_t pending[MAX_PENDING];

static void remove_at(range_t *v, unsigned *n, unsigned i)
{
    v[i] = v[--*n];
}

/* Adds [start, end) to a range list, merging with a neighbour of the same
 * kind; false if the list is full. */
static bool add_range(range_t *v, unsigned *n, unsigned cap, range_t r)
{
    for (unsigned i = 0; i < *n; i++) {
        range_t *o = &v[i];
        if (o->whole != r.whole || o->huge != r.huge || o->reserved != r.reserved)
            continue;
        if (o->end == r.start || o->start == r.end) {
            if (o->end == r.start)
                o->end = r.end;
            else
                o->start = r.start;
            o->resident += r.resident;
            if (v == pending)
                atomic_fetch_add_explicit(&hak_stats.batch_coalesced, 1, memory_order_relaxed);
            return true;
        }
    }
    if (*n >= cap)
        return false;
    v[(*n)++] = r;
    return true;
}

static void sort_by_start(range_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        range_t r = v[i];
        unsigned j = i;
        for (; j > 0 && v[j - 1].start > r.start; j--)
            v[j] = v[j - 1];
        v[j] = r;
    }
}

static void retain_or_unmap(range_t r)
{
    size_t len = r.end - r.start;
    if (retained_bytes + len <= hak_opt.retain_max &&
        add_range(retained, &nretained, MAX_RETAINED, r)) {
        retained_bytes += len;
        return;
    }
    if (!hak_os_try_unmap((void *)r.start, len)) {
        /* Unmapping can fail at vm.max_map_count: keep the range, even
         * past the limit, rather than lose it (trim_retained tries again);
         * with no room left in the list, os.c empties it and remembers it. */
        if (add_range(retained, &nretained, MAX_RETAINED, r))
            retained_bytes += len;
        else
            hak_os_unmap((void *)r.start, len);
    }
}

/* Retained space beyond the limit is there only because an unmap failed:
 * try again, once per flush, with the ranges os.c is holding for the same
 * reason. */
static void trim_retained(void)
{
    hak_os_retry_unmaps();
    for (unsigned i = 0; i < nretained && retained_bytes > hak_opt.retain_max;) {
        size_t len = retained[i].end - retained[i].start;
        if (hak_os_try_unmap((void *)retained[i].start, len)) {
            retained_bytes -= len;
            remove_at(retained, &nretained, i);
        } else {
            i++;
        }
    }
}

static void flush_locked(void)
{
    trim_retained();
    if (npending == 0)
        return;
    int advice = hak_opt.madv_free ? MADV_FREE : MADV_DONTNEED;
    /* Mappings beyond the retention limit are unmapped, not advised. */
    unsigned n = 0;
    size_t will_retain = retained_bytes;
    for (unsigned i = 0; i < npending; i++) {
        range_t r = pending[i];
        size_t len = r.end - r.start;
        if (r.whole && will_retain + len > hak_opt.retain_max) {
            if (hak_os_try_unmap((void *)r.start, len))
                continue;
        } else if (r.whole) {
            will_retain += len;
        }
        pending[n++] = r;
    }
    sort_by_start(pending, n);
    for (unsigned i = 0; i < n;) {
        unsigned j = i + 1;
        while (j < n && pending[j].start == pending[j - 1].end)
            j++;
        hak_os_advise((void *)pending[i].start, pending[j - 1].end - pending[i].start, advice);
        atomic_fetch_add_explicit(&hak_stats.batch_coalesced, j - i - 1, memory_order_relaxed);
        i = j;
    }
    if (hak_opt.madv_free)
        retained_zero = false;
    for (unsigned i = 0; i < n; i++)
        if (pending[i].whole)
            retain_or_unmap(pending[i]);
    atomic_fetch_add_explicit(&hak_stats.batch_flushes, 1, memory_order_relaxed);
    npending = 0;
    atomic_store_explicit(&pending_since, 0, memory_order_relaxed);
}

static void cancel_locked(uintptr_t s, uintptr_t e);

/* What a flush would give back: the threshold counts resident bytes, not
 * address space, so that many sparsely used mappings make one batch. */
static size_t pending_resident(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < npending; i++)
        n += pending[i].resident;
    return n;
}

static void submit(range_t r)
{
    size_t len = r.end - r.start;
    pthread_mutex_lock(&batch_lock);
    /* A whole mapping may still have page ranges of its last owner queued:
     * they must not hit it after someone else has taken it. */
    if (r.whole)
        cancel_locked(r.start, r.end);
    if (!add_range(pending, &npending, hak_opt.batch_ranges, r)) {
        flush_locked();
        add_range(pending, &npending, hak_opt.batch_ranges, r);
    }
    if (atomic_load_explicit(&pending_since, memory_order_relaxed) == 0)
        atomic_store_explicit(&pending_since, hak_now_ms(), memory_order_relaxed);
    if (pending_resident() >= hak_opt.batch_bytes || npending >= hak_opt.batch_ranges)
        flush_locked();
    pthread_mutex_unlock(&batch_lock);
    atomic_fetch_add_explicit(&hak_stats.batch_ranges, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hak_stats.batch_bytes, len, memory_order_relaxed);
}

void hak_batch_release(void *p, size_t size, size_t resident, uint8_t huge)
{
    submit((range_t){ (uintptr_t)p, (uintptr_t)p + size, resident < size ? resident : size, true, huge, false });
}

void hak_batch_decommit(void *p, size_t size)
{
    submit((range_t){ (uintptr_t)p, (uintptr_t)p + size, size, false, HAK_HUGE_NONE, false });
}

/* Cuts [s, e) out of the pending page ranges: its owner is about to use
 * those pages again, and a later madvise would destroy what it writes. */
void hak_batch_cancel(void *p, size_t size)
{
    pthread_mutex_lock(&batch_lock);
    cancel_locked((uintptr_t)p, (uintptr_t)p + size);
    pthread_mutex_unlock(&batch_lock);
}

static void cancel_locked(uintptr_t s, uintptr_t e)
{
    for (unsigned i = 0; i < npending;) {
        range_t *r = &pending[i];
        if (r->whole || r->end <= s || r->start >= e) {
            i++;
            continue;
        }
        atomic_fetch_add_explicit(&hak_stats.batch_cancels, 1, memory_order_relaxed);
        if (r->start < s && r->end > e) {
            if (npending >= MAX_PENDING) {
                /* No room to split: give the whole range up instead. */
                remove_at(pending, &npending, i);
                continue;
            }
            pending[npending++] = (range_t){ e, r->end, r->end - e, false, HAK_HUGE_NONE, false };
            r->end = s;
        } else if (r->start < s) {
            r->end = s;
        } else if (r->end > e) {
            r->start = e;
        } else {
            remove_at(pending, &npending, i);
            continue;
        }
        r->resident = r->end - r->start;
        i++;
    }
    if (npending == 0)
        atomic_store_explicit(&pending_since, 0, memory_order_relaxed);
}

/* Carves an aligned piece of `size` out of v[i]; false if it has none. */
static bool carve(range_t *v, unsigned *n, unsigned cap, unsigned i, size_t size, size_t align,
                  uintptr_t *out)
{
    range_t r = v[i];
    uintptr_t s = (r.end - size) & ~(uintptr_t)(align - 1);   /* highest fit */
    if (r.end - r.start < size || s < r.start)
        return false;
    bool left = s > r.start, right = s + size < r.end;
    if (left && right && *n >= cap)
        return false;
    if (left && right) {
        v[i].end = s;
        v[(*n)++] = (range_t){ s + size, r.end, r.end - s - size, r.whole, r.huge, r.reserved };
    } else if (left) {
        v[i].end = s;
    } else if (right) {
        v[i].start = s + size;
    } else {
        remove_at(v, n, i);
    }
    if (i < *n && v[i].resident > v[i].end - v[i].start)
        v[i].resident = v[i].end - v[i].start;
    *out = s;
    return true;
}

/* Best fit from a list: the smallest range that can hold the piece. */
static bool take_from(range_t *v, unsigned *n, unsigned cap, size_t size, size_t align,
                      uintptr_t *out, uint8_t *huge, bool *reserved)
{
    int best = -1;
    for (unsigned i = 0; i < *n; i++) {
        size_t len = v[i].end - v[i].start;
        if (len >= size && (best < 0 || len < v[best].end - v[best].start)) {
            best = (int)i;
            if (len == size)
                break;
        }
    }
    if (best < 0)
        return false;
    *huge = v[best].huge;
    *reserved = v[best].reserved;
    if (carve(v, n, cap, (unsigned)best, size, align, out))
        return true;
    for (unsigned i = 0; i < *n; i++) {          /* alignment did not fit: any other */
        *huge = v[i].huge;
        *reserved = v[i].reserved;
        if (carve(v, n, cap, i, size, align, out))
            return true;
    }
    return false;
}

/* A mapping of `size` (a multiple of 2 MiB) aligned to `align` (at least
 * 2 MiB) from what was released, or NULL.  *zero says whether its pages
 * are known to read as zero, *huge whether MADV_HUGEPAGE is set on it. */
void *hak_batch_take(size_t size, size_t align, bool *zero, uint8_t *huge)
{
    uintptr_t p = 0;
    pthread_mutex_lock(&batch_lock);
    if (npending > 0) {
        /* Only whole mappings can be taken; pages of live ones are not ours. */
        int best = -1;
        for (unsigned i = 0; i < npending; i++) {
            size_t len = pending[i].end - pending[i].start;
            if (pending[i].whole && len >= size && (best < 0 || len < pending[best].end - pending[best].start))
                best = (int)i;
        }
        if (best >= 0) {
            *huge = pending[best].huge;
            if (carve(pending, &npending, MAX_PENDING, (unsigned)best, size, align, &p)) {
                if (npending == 0)
                    atomic_store_explicit(&pending_since, 0, memory_order_relaxed);
                *zero = false;
                atomic_fetch_add_explicit(&hak_stats.batch_reused, 1, memory_order_relaxed);
            }
        }
    }
    bool reserved = false;
    if (p == 0 && nretained > 0 &&
        take_from(retained, &nretained, MAX_RETAINED, size, align, &p, huge, &reserved)) {
        retained_bytes -= size;
        *zero = reserved || retained_zero;
        if (reserved && !hak_os_commit((void *)p, size)) {
            /* Past the commit limit, or no mapping left to split off: the
             * piece goes back (merging with what it was cut from). */
            retain_or_unmap((range_t){ p, p + size, 0, true, HAK_HUGE_NONE, true });
            p = 0;
        } else {
            atomic_fetch_add_explicit(&hak_stats.retained_reused, 1, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&batch_lock);
    return (void *)p;
}

static size_t drop_retained(void);

/* A mapping for a new SuperSlab or large block: released memory first;
 * else a new mapping of at least MAP_CHUNK whose rest is kept as retained
 * space, so that the kernel is asked for address space once per 32 MiB
 * rather than once per block, and consecutive blocks are adjacent, which
 * lets their releases coalesce into one madvise.  The chunk is reserved
 * PROT_NONE and each block made writable as it is carved (one mprotect):
 * under strict overcommit a writable chunk would be charged 32 MiB at the
 * first malloc of the process. */
void *hak_batch_map(size_t size, size_t align, bool *zero, uint8_t *huge)
{
    void *p = hak_batch_take(size, align, zero, huge);
    if (p != NULL)
        return p;
    *zero = true;
    *huge = HAK_HUGE_NONE;
    if (align <= HAK_SS_SIZE && size < MAP_CHUNK) {
        char *c = hak_os_reserve_aligned(MAP_CHUNK, HAK_SS_SIZE);
        if (c != NULL) {
            /* The top piece: takes carve from the top too, so the next
             * block lands right below this one (and the kernel merges their
             * writable ranges into one mapping). */
            if (hak_os_commit(c + MAP_CHUNK - size, size)) {
                range_t rest = { (uintptr_t)c, (uintptr_t)c + MAP_CHUNK - size, 0, true, HAK_HUGE_NONE, true };
                pthread_mutex_lock(&batch_lock);
                retain_or_unmap(rest);
                pthread_mutex_unlock(&batch_lock);
                return c + MAP_CHUNK - size;
            }
            /* The split failed (max_map_count): a mapping of just this
             * block needs none. */
            hak_os_unmap(c, MAP_CHUNK);
        }
    }
    if ((p = hak_os_map_aligned(size, align)) != NULL)
        return p;
    /* Out of address space (RLIMIT_AS) or mappings: what is retained is
     * in pieces too small or misaligned for this request, else a take
     * would have used it.  Give all of it back and ask once more. */
    if (drop_retained() == 0)
        return NULL;
    return hak_os_map_aligned(size, align);
}

/* Flushes, then unmaps every retained range; bytes unmapped. */
static size_t drop_retained(void)
{
    size_t dropped = 0;
    pthread_mutex_lock(&batch_lock);
    flush_locked();
    for (unsigned i = 0; i < nretained;) {
        size_t len = retained[i].end - retained[i].start;
        if (hak_os_try_unmap((void *)retained[i].start, len)) {
            retained_bytes -= len;
            dropped += len;
            remove_at(retained, &nretained, i);
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&batch_lock);
    return dropped;
}

void hak_batch_flush(void)
{
    pthread_mutex_lock(&batch_lock);
    flush_locked();
    pthread_mutex_unlock(&batch_lock);
}

size_t hak_batch_pending(void)
{
    pthread_mutex_lock(&batch_lock);
    size_t n = pending_resident();
    pthread_mutex_unlock(&batch_lock);
    return n;
}

uint64_t hak_batch_oldest_ms(void)
{
    return atomic_load_explicit(&pending_since, memory_order_relaxed);
}

size_t hak_batch_retained(void)
{
    pthread_mutex_lock(&batch_lock);
    size_t n = retained_bytes;
    pthread_mutex_unlock(&batch_lock);
    return n;
}

void hak_batch_lock(void)       { pthread_mutex_lock(&batch_lock); }
void hak_batch_unlock(void)     { pthread_mutex_unlock(&batch_lock); }
void hak_batch_reset_lock(void) { pthread_mutex_init(&batch_lock, NULL); }
