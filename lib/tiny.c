/* tiny.c — the tls_sll front end behind alloc.h: refill, spill, the free
 * slow path for slab blocks, and what happens to a heap's spans when its
 * thread exits (orphans) and when another thread touches them (adoption).
 * Tiny and mid classes share it; they differ only in geometry and caps
 * (sizeclass.c).
 *
 * Refill stages, in order: the heap's spans with free blocks (local list,
 * drained remote queue, uncarved tail) -> full spans that other threads
 * freed into since the last refill (the heap's notify stack) -> full spans
 * with remote frees found by a bounded scan -> an orphaned span of the
 * class -> spans with remote frees of an idle thread's heap
 * (hak_heap_steal) -> a new span (superslab.c).
 *
 * A cross-thread free into a full span is held by the freeing thread in a
 * run of that span's blocks (hak_remote_run_t) and pushed a run at a
 * time, and the first one notifies the span's owner; frees into spans the
 * owner allocates from go at once.  So a consumer of another thread's
 * blocks costs one CAS per run, and the producer finds what came back
 * before it maps more: memory outstanding stays near what the program
 * holds.
 * Orphans are adopted before new memory is mapped, so that threads that
 * come and go (Larson) reuse what their predecessors left behind; orphans
 * whose blocks have all been freed go back to their SuperSlab at decay. */
#include "alloc.h"

#include <sched.h>

/* A heap's span lists are changed by its thread under `busy`, which is
 * nearly always free for the taking: the only other thread that takes it
 * is a thief (hak_heap_steal), for the moment it needs to unlink a few
 * spans from a heap whose thread has been idle.  A fork child, which
 * inherits the lists of threads that do not exist in it, can tell by
 * `busy` the ones it may walk (thieves hold heaps_lock, which the fork
 * holds too). */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
/* gcc warns that ThreadSanitizer does not model fences (-Wtsan).  This one
 * orders `busy` before the list changes only for a fork child's snapshot,
 * which is single-threaded: nothing for the sanitizer to check here. */
#pragma GCC diagnostic ignored "-Wtsan"
#endif
static inline void heap_enter(hak_heap_t *h)
{
    int idle = 0;
    while (unlikely(!atomic_compare_exchange_weak_explicit(&h->busy, &idle, 1, memory_order_acquire,
                                                           memory_order_relaxed))) {
        idle = 0;
        sched_yield();
    }
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&h->slow_ticks, atomic_load_explicit(&h->slow_ticks, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline void heap_leave(hak_heap_t *h)
{
    atomic_store_explicit(&h->busy, 0, memory_order_release);
}

/* Spans taken per theft, and looked at per list of the victim. */
#define STEAL_MAX  4
#define STEAL_SCAN 16

static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_span_t *orphans[HAK_NCLASS];

/* Circular doubly linked lists of spans. */
static void list_push(hak_span_t **head, hak_span_t *s, uint8_t which)
{
    hak_span_t *h = *head;
    if (h == NULL) {
        s->next = s->prev = s;
        *head = s;
    } else {
        s->next = h;
        s->prev = h->prev;
        h->prev->next = s;
        h->prev = s;
    }
    atomic_store_explicit(&s->list, which, memory_order_relaxed);
}

static void list_remove(hak_span_t **head, hak_span_t *s)
{
    if (s->next == s) {
        *head = NULL;
    } else {
        s->prev->next = s->next;
        s->next->prev = s->prev;
        if (*head == s)
            *head = s->next;
    }
    s->next = s->prev = NULL;
    atomic_store_explicit(&s->list, HAK_LIST_NONE, memory_order_relaxed);
}

static hak_span_t **heap_list(hak_heap_t *h, hak_span_t *s)
{
    return s->list == HAK_LIST_AVAIL ? &h->avail[s->cls] : &h->full[s->cls];
}

/* An empty span may go back to its SuperSlab unless it is on a notify
 * stack, whose owner will read it (see remote_push_run). */
static inline bool span_releasable(const hak_span_t *s)
{
    return s->used == 0 && atomic_load_explicit(&s->notified, memory_order_acquire) == 0;
}

/* After blocks came back to an owned span: it may have left the full list,
 * and an empty span goes back to its SuperSlab unless it is the class's
 * last one with free blocks (keeping it avoids map/unmap ping-pong). */
static void span_settle(hak_heap_t *h, hak_span_t *s)
{
    unsigned c = s->cls;
    if (s->list == HAK_LIST_FULL && !hak_span_exhausted(s)) {
        list_remove(&h->full[c], s);
        list_push(&h->avail[c], s, HAK_LIST_AVAIL);
    }
    if (span_releasable(s) && !(s->list == HAK_LIST_AVAIL && s->next == s)) {
        list_remove(heap_list(h, s), s);
        hak_span_release(s);
    }
}

/* Takes ownership of a span that was adopted or newly acquired. */
static void span_own(hak_heap_t *h, hak_span_t *s)
{
    atomic_store_explicit(&s->owner, h, memory_order_relaxed);
    s->state = HAK_SPAN_OWNED;
    hak_span_drain_remote(s);
    if (span_releasable(s) && s->carved > 0 && h->avail[s->cls] != NULL) {
        hak_span_release(s);
        return;
    }
    list_push(hak_span_exhausted(s) ? &h->full[s->cls] : &h->avail[s->cls], s,
              hak_span_exhausted(s) ? HAK_LIST_FULL : HAK_LIST_AVAIL);
}

static hak_span_t *orphan_pop(unsigned c)
{
    pthread_mutex_lock(&orphan_lock);
    hak_span_t *s = orphans[c];
    if (s != NULL) {
        list_remove(&orphans[c], s);
        s->state = HAK_SPAN_OWNED;
    }
    pthread_mutex_unlock(&orphan_lock);
    return s;
}

/* Full spans are not watched for remote frees; look at a few of them per
 * refill, rotating, so the cost is bounded and every span is seen. */
static bool scan_full(hak_heap_t *h, unsigned c)
{
    for (int i = 0; i < 8 && h->full[c] != NULL; i++) {
        hak_span_t *s = h->full[c];
        if (atomic_load_explicit(&s->remote, memory_order_relaxed) != 0) {
            HAK_COUNT(refill_full_scan);
            hak_span_drain_remote(s);
            list_remove(&h->full[c], s);
            list_push(&h->avail[c], s, HAK_LIST_AVAIL);
            return true;
        }
        h->full[c] = s->next;
    }
    return false;
}

/* The spans of the notify stack (see hak_heap_t.notify): each one still
 * ours and full is drained and goes back to the avail list.  A span's
 * `notified` is cleared only after its link has been read, and one that
 * is not ours any more is not touched after that: its new owner may
 * release it. */
static bool collect_notified(hak_heap_t *h, hak_span_t *s)
{
    bool any = false;
    while (s != NULL) {
        hak_span_t *next = s->notify_next;
        bool ours = atomic_load_explicit(&s->owner, memory_order_relaxed) == h;
        atomic_store_explicit(&s->notified, 0, memory_order_release);
        if (ours) {
            if (s->list == HAK_LIST_FULL && hak_span_drain_remote(s) > 0) {
                HAK_COUNT(refill_full_scan);
                any = true;
            }
            span_settle(h, s);
        }
        s = next;
    }
    return any;
}

/* Only the owner closes its stack, so a load tells whether there is
 * anything to take. */
static bool collect_notify(hak_heap_t *h)
{
    hak_span_t *top = atomic_load_explicit(&h->notify, memory_order_relaxed);
    if (top == NULL || top == HAK_NOTIFY_CLOSED)
        return false;
    return collect_notified(h, atomic_exchange_explicit(&h->notify, NULL, memory_order_acquire));
}

/* Teardown: the notified spans are settled before they are orphaned, and
 * frees that still find this heap as their span's owner notify nobody. */
void hak_tiny_close_notify(hak_heap_t *h)
{
    heap_enter(h);
    hak_span_t *top = atomic_exchange_explicit(&h->notify, HAK_NOTIFY_CLOSED, memory_order_acq_rel);
    if (top != NULL && top != HAK_NOTIFY_CLOSED)
        collect_notified(h, top);
    heap_leave(h);
}

/* A heap's first refill of a class takes a few blocks, not a batch: a
 * short-lived thread that allocates one block of a class then gives back
 * few at its exit (spill walks them).  Later refills take the batch. */
#define FIRST_REFILL 4

static void *refill_pop(hak_heap_t *h, unsigned c)
{
    bool collected = false;
    hak_sll_t *l = &h->sll[c];
    unsigned want = hak_classes[c].batch;
    if (h->cls_counts[c].refilled == 0 && want > FIRST_REFILL)
        want = FIRST_REFILL;
    for (;;) {
        hak_span_t *s;
        unsigned spans = 0;
        while ((s = h->avail[c]) != NULL && hak_sll_count(l) < want) {
            if (spans++ > 0)
                HAK_COUNT(refill_partial);
            HAK_COUNT_OWN(h->cls_counts[c].refilled, hak_span_take(s, l, want - hak_sll_count(l)));
            if (!hak_span_exhausted(s))
                break;                /* short only by the carve limit */
            list_remove(&h->avail[c], s);
            list_push(&h->full[c], s, HAK_LIST_FULL);
        }
        if (hak_sll_count(l) > 0)
            return hak_sll_pop(l);
        if (!collected) {
            collected = true;
            if (collect_notify(h))
                continue;
        }
        if (scan_full(h, c))
            continue;
        /* Only thread heaps adopt.  The shared heap serves threads that are
         * being torn down, which allocate again after their own spans were
         * orphaned: adopting would take those spans back into a heap that
         * nobody drains, and each exiting thread would leave its memory
         * there (found by tests/stress-interposer.sh). */
        if (h->kind == HAK_HEAP_THREAD && (s = orphan_pop(c)) != NULL) {
            HAK_COUNT(refill_adopt);
            atomic_fetch_add_explicit(&hak_stats.adopted, 1, memory_order_relaxed);
            span_own(h, s);
            continue;
        }
        hak_span_t *stolen[STEAL_MAX];
        unsigned n = h->kind == HAK_HEAP_THREAD ? hak_heap_steal(h, c, stolen, STEAL_MAX) : 0;
        if (n > 0) {
            HAK_COUNT(refill_steal);
            atomic_fetch_add_explicit(&hak_stats.stolen, n, memory_order_relaxed);
            for (unsigned i = 0; i < n; i++)
                span_own(h, stolen[i]);
            continue;
        }
        if ((s = hak_span_acquire(c)) == NULL)
            return NULL;
        HAK_COUNT(refill_new_span);
        span_own(h, s);
    }
}

/* Under v->busy, taken by a thief (hak_heap_steal): unlinks up to `max`
 * spans of class c that have remote frees waiting, full ones first (their
 * owner would only find them by scan_full), and makes them `to`'s.  A
 * block of theirs still in v's cache goes back by remote push when v
 * spills it. */
unsigned hak_tiny_give_spans(hak_heap_t *v, hak_heap_t *to, unsigned c, hak_span_t **out, unsigned max)
{
    unsigned n = 0;
    hak_span_t **lists[2] = { &v->full[c], &v->avail[c] };
    for (int k = 0; k < 2; k++) {
        hak_span_t *s = *lists[k];
        for (unsigned seen = 0; s != NULL && seen < STEAL_SCAN && n < max; seen++) {
            hak_span_t *next = s->next == *lists[k] ? NULL : s->next;
            if (atomic_load_explicit(&s->remote, memory_order_relaxed) != 0) {
                list_remove(lists[k], s);
                atomic_store_explicit(&s->owner, to, memory_order_relaxed);
                out[n++] = s;
            }
            s = next;
        }
    }
    return n;
}

void *hak_tiny_refill_pop(hak_heap_t *h, unsigned c)
{
    if (h->runs_held > 0)
        hak_tiny_push_runs(h);
    heap_enter(h);
    hak_heap_touch(h, c);
    void *p = refill_pop(h, c);
    heap_leave(h);
    return p;
}

/* Gives back up to n blocks from the head of the cache, a run of blocks of
 * one span at a time.  Cached blocks carry the free tag already, and their
 * links are encoded as any free list's: a run moves onto its span's free
 * list (or remote queue) by relinking its last block, after a walk that
 * only decodes each link and checks it stays in the span. */
static void spill(hak_heap_t *h, unsigned c, unsigned n)
{
    hak_sll_t *l = &h->sll[c];
    HAK_COUNT(spill);
    uint64_t spilled = 0, handed = 0;
    while (n > 0 && l->head != NULL) {
        void *first = l->head, *last = first;
        hak_span_t *s = hak_span_of((uintptr_t)first);
        if (unlikely(s == NULL || !hak_span_is_block(s, (uintptr_t)first)))
            hak_fatal("malloc(): corrupted free list (bad link in freed block)", first);
        uintptr_t start = s->start, bytes = (uintptr_t)s->capacity * s->bsize;
        unsigned k = 1;
        uintptr_t next = hak_link_decode(first);
        while (k < n && next - start < bytes) {
            last = (void *)next;
            k++;
            next = hak_link_decode(last);
        }
        if (unlikely(next & (HAK_ALIGN - 1)))
            hak_fatal("malloc(): corrupted free list (bad link in freed block)", last);
        l->head = (void *)next;
        l->room += (int32_t)k;
        n -= k;
        spilled += k;
        if (unlikely(atomic_load_explicit(&s->owner, memory_order_relaxed) != h)) {
            /* stolen while the blocks sat in this cache: they stay out
             * until the new owner's drain counts them back */
            handed += k;
            hak_span_remote_push_run(s, first, last, k);
            continue;
        }
        *(void **)last = hak_link_encode(last, s->free);
        s->free = first;
        hak_assert(s->used >= k);
        s->used -= k;
        HAK_COUNT_N(free_ss_local, k);
        span_settle(h, s);
    }
    if (spilled > 0)
        HAK_COUNT_OWN(h->cls_counts[c].spilled, spilled);
    if (spilled > handed)
        hak_stats_add(&hak_class_stats[c].out, -(int64_t)(spilled - handed), NULL);
}

/* The owner's free that found its cache full (or a block the fast path
 * could not take): out of line, so that the cross-thread free below needs
 * no registers saved. */
static __attribute__((noinline)) void free_to_own_cache(hak_heap_t *h, hak_span_t *s, void *p)
{
    heap_enter(h);
    hak_sll_t *l = &h->sll[s->cls];
    if (l->room <= 0)
        spill(h, s->cls, hak_classes[s->cls].batch - (uint32_t)l->room);
    hak_sll_push(l, p);
    HAK_COUNT(free_tls_sll);
    heap_leave(h);
}

/* A run of blocks freed into span s by a thread that does not own it goes
 * on the span's remote queue, one CAS per run.  A span on its owner's full
 * list is not looked at by the owner's refills (but by scan_full, now and
 * then): the first such free since the span's last notification puts the
 * span on the owner's notify stack.  `notified` is set before the blocks
 * go out, so the span cannot be released (the blocks count as used until
 * then, and a notified span is not released) before the push onto the
 * stack, which may touch it. */
static void remote_push_run(hak_span_t *s, void *first, void *last, unsigned k)
{
    hak_heap_t *o = NULL;
    if (atomic_load_explicit(&s->list, memory_order_relaxed) == HAK_LIST_FULL &&
        atomic_load_explicit(&s->notified, memory_order_relaxed) == 0 &&
        (o = atomic_load_explicit(&s->owner, memory_order_relaxed)) != NULL &&
        atomic_exchange_explicit(&s->notified, 1, memory_order_acquire) != 0)
        o = NULL;
    hak_span_remote_push_run(s, first, last, k);
    if (o == NULL)
        return;
    hak_span_t *old = atomic_load_explicit(&o->notify, memory_order_relaxed);
    do {
        if (old == HAK_NOTIFY_CLOSED) {
            atomic_store_explicit(&s->notified, 0, memory_order_release);
            return;
        }
        s->notify_next = old;
    } while (!atomic_compare_exchange_weak_explicit(&o->notify, &old, s, memory_order_release,
                                                    memory_order_relaxed));
}

static void run_push(hak_heap_t *h, hak_remote_run_t *r)
{
    /* the run's first free has held a null link since: anything else was
     * written after the free */
    if (unlikely(hak_link_decode(r->last) != 0))
        hak_fatal("free(): corrupted free list (a freed block was written to)", r->last);
    remote_push_run(r->span, r->first, r->last, r->n);
    r->span = NULL;
    h->runs_held--;
}

void hak_tiny_push_runs(hak_heap_t *h)
{
    for (unsigned i = 0; i < HAK_NTINY && h->runs_held > 0; i++)
        if (h->runs[i].span != NULL)
            run_push(h, &h->runs[i]);
}

/* A run of another span in the slot goes out, and p starts a new one. */
static HAK_NOINLINE void run_restart(hak_heap_t *h, hak_remote_run_t *r, hak_span_t *s, void *p)
{
    if (r->span != NULL)
        run_push(h, r);
    *(void **)p = hak_link_encode(p, NULL);
    r->span = s;
    r->first = r->last = p;
    r->n = 1;
    h->runs_held++;
}

/* A cross-thread free by a thread with a heap, into a span on its owner's
 * full list, joins the run of its class's slot; a run of another span
 * there, or a full run, goes out first.  The block is tagged at once, so
 * a second free of it is caught while it waits here too.  Pushed at once:
 * blocks of spans the owner allocates from (it would have to map or carve
 * more while they wait: bench/prodcons, whose bounded ring keeps the
 * producer's spans partly used, fell into its slow mode in 5 of 7 runs
 * when those were held too, in 0 of 7 when not), mid blocks, and blocks
 * of orphans (whose memory should go back as soon as the last one is
 * freed, at the next decay).  Every call here is a tail call: the append,
 * the common case, needs no saved registers. */
static inline void remote_hold(hak_heap_t *h, hak_span_t *s, void *p)
{
    ((void **)p)[1] = (void *)hak_free_tag;
    unsigned c = s->cls;
    if (unlikely(c >= HAK_NTINY || atomic_load_explicit(&s->list, memory_order_relaxed) != HAK_LIST_FULL ||
                 atomic_load_explicit(&s->owner, memory_order_relaxed) == NULL)) {
        remote_push_run(s, p, p, 1);
        return;
    }
    hak_remote_run_t *r = &h->runs[c];
    if (unlikely(r->span != s)) {
        run_restart(h, r, s, p);
        return;
    }
    *(void **)p = hak_link_encode(p, r->first);
    r->first = p;
    if (unlikely(++r->n >= hak_classes[c].run_max))
        run_push(h, r);
}

/* A cross-thread free by a thread without a heap of its own.  One that
 * only frees (a consumer of others' blocks) gets a heap: its counts then
 * stay in its own lines, and its frees go out a run at a time, instead of
 * two contended atomic adds and a CAS per block.  One that cannot get one,
 * or has none any more (heap_dead), counts in the global totals. */
static HAK_NOINLINE void remote_free_heapless(void *p, hak_span_t *s, hak_heap_t *h)
{
    if (h == &hak_heap_empty && (h = hak_heap_init_thread()) != NULL && h->kind == HAK_HEAP_THREAD) {
        hak_tiny_free_slow(p, s, h);
        return;
    }
    HAK_COUNT(free_ss_remote);
    atomic_fetch_add_explicit(&hak_class_stats[s->cls].frees, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hak_class_stats[s->cls].remote, 1, memory_order_relaxed);
    ((void **)p)[1] = (void *)hak_free_tag;
    remote_push_run(s, p, p, 1);
}

void hak_tiny_free_slow(void *p, hak_span_t *s, hak_heap_t *h)
{
    uintptr_t a = (uintptr_t)p;
    if (unlikely(s == &hak_span_none))
        hak_fatal("free(): invalid pointer (not allocated)", p);
    if (unlikely(!hak_span_is_block(s, a)))
        hak_fatal("free(): invalid pointer (not the start of a block)", p);
    /* Every free block carries the tag (the secret makes it unforgeable),
     * wherever it is: a thread's cache, its span's free list or remote
     * queue; every allocation clears it.  So the tag alone convicts,
     * whoever owns the span: a remote double free would otherwise put the
     * block twice on the queue, and it would be handed out twice. */
    if (unlikely(((void **)p)[1] == (void *)hak_free_tag))
        hak_fatal("free(): double free detected", p);
    hak_heap_t *owner = atomic_load_explicit(&s->owner, memory_order_relaxed);
    if (unlikely(owner == NULL) && atomic_load_explicit(&s->state, memory_order_relaxed) == HAK_SPAN_FREE)
        hak_fatal("free(): invalid pointer (block of an unused slab; double free?)", p);
    if (owner == h && h->kind == HAK_HEAP_THREAD) {
        free_to_own_cache(h, s, p);
        return;
    }
    if (unlikely(h->kind != HAK_HEAP_THREAD)) {
        remote_free_heapless(p, s, h);
        return;
    }
    HAK_COUNT(free_ss_remote);
    HAK_COUNT_OWN(h->cls_counts[s->cls].remote, 1);
    hak_heap_touch(h, s->cls);
    remote_hold(h, s, p);
}

size_t hak_tiny_usable(void *p)
{
    hak_span_t *s = hak_span_of((uintptr_t)p);
    if (s == NULL || s == &hak_span_none || !hak_span_is_block(s, (uintptr_t)p))
        return 0;
    return s->bsize;
}

/* Thread exit (or, in a fork child, a thread that no longer exists): every
 * cached block goes back to its span, empty spans to their SuperSlab, the
 * rest become orphans for other threads to adopt. */
void hak_tiny_flush(hak_heap_t *h)
{
    hak_tiny_push_runs(h);
    heap_enter(h);
    for (uint64_t m = hak_heap_classes(h); m != 0; m &= m - 1)
        spill(h, (unsigned)__builtin_ctzll(m), UINT32_MAX);
    heap_leave(h);
}

/* hak_trim on the calling thread: its cached blocks and the remote frees
 * waiting in its spans go back, and its empty spans to their SuperSlab,
 * even the last one of a class that span_settle would keep.  Other
 * threads' heaps are theirs alone; they trim at their own slow paths. */
void hak_tiny_trim(hak_heap_t *h)
{
    if (h->kind != HAK_HEAP_THREAD)
        return;
    hak_tiny_push_runs(h);
    heap_enter(h);
    for (uint64_t m = hak_heap_classes(h); m != 0; m &= m - 1) {
        unsigned c = (unsigned)__builtin_ctzll(m);
        spill(h, c, UINT32_MAX);
        hak_span_t *all = NULL, *s;
        hak_span_t **lists[2] = { &h->avail[c], &h->full[c] };
        for (int k = 0; k < 2; k++)
            while ((s = *lists[k]) != NULL) {
                list_remove(lists[k], s);
                list_push(&all, s, HAK_LIST_NONE);
            }
        while ((s = all) != NULL) {
            list_remove(&all, s);
            if (atomic_load_explicit(&s->remote, memory_order_relaxed) != 0)
                hak_span_drain_remote(s);
            if (span_releasable(s))
                hak_span_release(s);
            else if (hak_span_exhausted(s))
                list_push(&h->full[c], s, HAK_LIST_FULL);
            else
                list_push(&h->avail[c], s, HAK_LIST_AVAIL);
        }
    }
    heap_leave(h);
}

void hak_tiny_orphan_all(hak_heap_t *h)
{
    heap_enter(h);
    for (uint64_t m = hak_heap_classes(h); m != 0; m &= m - 1) {
        unsigned c = (unsigned)__builtin_ctzll(m);
        hak_span_t **lists[2] = { &h->avail[c], &h->full[c] };
        for (int k = 0; k < 2; k++) {
            hak_span_t *s;
            while ((s = *lists[k]) != NULL) {
                list_remove(lists[k], s);
                hak_span_drain_remote(s);
                if (span_releasable(s)) {
                    hak_span_release(s);
                    continue;
                }
                pthread_mutex_lock(&orphan_lock);
                atomic_store_explicit(&s->owner, NULL, memory_order_relaxed);
                s->state = HAK_SPAN_ORPHAN;
                list_push(&orphans[c], s, HAK_LIST_ORPHAN);
                pthread_mutex_unlock(&orphan_lock);
                atomic_fetch_add_explicit(&hak_stats.orphaned, 1, memory_order_relaxed);
            }
        }
    }
    heap_leave(h);
}

/* Orphans whose blocks have all come back (through their remote queues)
 * go back to their SuperSlab; called by the decay, so that memory of
 * exited threads returns even if nobody allocates its class again. */
unsigned hak_tiny_reclaim_orphans(void)
{
    unsigned n = 0;
    pthread_mutex_lock(&orphan_lock);
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        hak_span_t *s = orphans[c];
        for (unsigned k = 0; s != NULL && k < 1024; k++) {
            hak_span_t *next = s->next == orphans[c] ? NULL : s->next;
            if (atomic_load_explicit(&s->remote, memory_order_relaxed) != 0)
                hak_span_drain_remote(s);
            if (span_releasable(s)) {
                list_remove(&orphans[c], s);
                s->state = HAK_SPAN_OWNED;           /* nobody's, on its way out */
                hak_span_release(s);
                n++;
            }
            s = next;
        }
    }
    pthread_mutex_unlock(&orphan_lock);
    return n;
}

void hak_orphan_lock(void)       { pthread_mutex_lock(&orphan_lock); }
void hak_orphan_unlock(void)     { pthread_mutex_unlock(&orphan_lock); }
void hak_orphan_reset_lock(void) { pthread_mutex_init(&orphan_lock, NULL); }
