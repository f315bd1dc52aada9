/* decay.c — the clock that gives cached memory back.
 *
 * BigCache blocks, empty slabs of live SuperSlabs and ranges waiting in the
 * batch are all held for at most HAKMEM_DECAY_MS.  Decay is applied on the
 * allocator's slow paths (a coarse clock read, rate-limited) and, so that a
 * program that goes idle also gets its memory back, by a background thread
 * (option).  The thread starts only once enough is at stake, sleeps
 * without a timeout while nothing is held, and is started only by an
 * allocation's slow path: never with a hakmem lock held (pthread_create
 * may call malloc), never from a free (glibc frees a dead thread's TLS
 * holding the lock pthread_create takes).  Frees are what fill the caches,
 * so an allocation starts it ahead of them, once hakmem has mapped enough
 * for a burst of frees to matter (twice HAKMEM_BATCH_BYTES); a free only
 * wakes it.  Its signals are blocked, so it never takes a signal meant for
 * the program. */
#include "internal.h"

#include <signal.h>
#include <time.h>

enum { T_NONE = 0, T_WANTED, T_STARTING, T_ACTIVE, T_IDLE, T_FAILED };

static pthread_mutex_t decay_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  decay_cond = PTHREAD_COND_INITIALIZER;
static _Atomic int     tstate;
static _Atomic uint64_t last_tick;

/* How often the decay looks: a quarter of the decay time, at least 10 ms. */
static uint64_t period_ms(void)
{
    return hak_opt.decay_ms / 4 > 10 ? hak_opt.decay_ms / 4 : 10;
}

/* Returns true if anything is still held that decay will have to free. */
static bool run(uint64_t now)
{
    uint64_t age = hak_opt.decay_ms;
    size_t freed = hak_bigcache_decay(now, age);
    hak_tiny_reclaim_orphans();
    unsigned dirty = hak_superslab_decay(now, age);
    uint64_t oldest = hak_batch_oldest_ms();
    if (freed > 0 || (oldest != 0 && now - oldest >= age))
        hak_batch_flush();
    return dirty > 0 || hak_bigcache_held() > 0 || hak_batch_oldest_ms() != 0;
}

void hak_decay_run(uint64_t now)
{
    run(now);
}

/* malloc_trim: everything cached goes back now, whatever its age.  True
 * if any memory went back to the kernel. */
bool hak_decay_trim(void)
{
    uint64_t before = atomic_load(&hak_stats.madvise_bytes) + atomic_load(&hak_stats.unmap_calls);
    hak_tiny_trim(hak_tls_heap);
    while (hak_tiny_reclaim_orphans() > 0)
        ;
    hak_bigcache_decay(hak_now_ms(), 0);
    hak_superslab_trim();
    hak_batch_flush();
    return atomic_load(&hak_stats.madvise_bytes) + atomic_load(&hak_stats.unmap_calls) != before;
}

void hak_decay_tick(void)
{
    uint64_t now = hak_now_ms();
    uint64_t last = atomic_load_explicit(&last_tick, memory_order_relaxed);
    if (now - last < period_ms() ||
        !atomic_compare_exchange_strong_explicit(&last_tick, &last, now, memory_order_relaxed,
                                                 memory_order_relaxed))
        return;
    run(now);
}

static void *decay_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&decay_lock);
    for (;;) {
        pthread_mutex_unlock(&decay_lock);
        bool busy = run(hak_now_ms());
        pthread_mutex_lock(&decay_lock);
        if (!busy) {
            /* Nothing held: sleep until a wake says otherwise. */
            int expect = T_ACTIVE;
            atomic_compare_exchange_strong(&tstate, &expect, T_IDLE);
            while (atomic_load(&tstate) == T_IDLE)
                pthread_cond_wait(&decay_cond, &decay_lock);
            continue;
        }
        struct timespec ts = hak_os_clock(CLOCK_REALTIME);
        uint64_t ms = period_ms();
        ts.tv_sec += (time_t)(ms / 1000);
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&decay_cond, &decay_lock, &ts);
    }
    return NULL;
}

/* `held` bytes are held by the caller's layer.  A thread is worth its
 * stack and its page faults only when enough is at stake: below
 * HAKMEM_BATCH_BYTES, memory waits for the next slow path instead.  Cheap
 * when the thread is awake; may be called with any hakmem lock held, so it
 * never creates the thread itself. */
void hak_decay_wake(size_t held)
{
    if (!hak_opt.decay_thread || held < hak_opt.batch_bytes)
        return;
    int s = atomic_load_explicit(&tstate, memory_order_relaxed);
    if (s == T_ACTIVE || s == T_STARTING || s == T_WANTED || s == T_FAILED)
        return;
    if (s == T_NONE) {
        atomic_compare_exchange_strong(&tstate, &s, T_WANTED);
        return;
    }
    pthread_mutex_lock(&decay_lock);
    if (atomic_load(&tstate) == T_IDLE) {
        atomic_store(&tstate, T_ACTIVE);
        pthread_cond_signal(&decay_cond);
    }
    pthread_mutex_unlock(&decay_lock);
}

void hak_decay_start_pending(void)
{
    int s = atomic_load_explicit(&tstate, memory_order_relaxed);
    if (likely(s != T_WANTED) &&
        (s != T_NONE || !hak_opt.decay_thread ||
         atomic_load_explicit(&hak_stats.mapped, memory_order_relaxed) < 2 * (uint64_t)hak_opt.batch_bytes))
        return;
    if (!atomic_compare_exchange_strong(&tstate, &s, T_STARTING))
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t t;
    atomic_store(&tstate, T_ACTIVE);
    if (pthread_create(&t, &attr, decay_main, NULL) != 0)
        atomic_store(&tstate, T_FAILED);     /* decay still runs on slow paths */
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

bool hak_decay_thread_wanted(void) { return atomic_load(&tstate) == T_WANTED; }

void hak_decay_lock(void)   { pthread_mutex_lock(&decay_lock); }
void hak_decay_unlock(void) { pthread_mutex_unlock(&decay_lock); }

/* The thread does not exist in a fork child: start another when needed. */
void hak_decay_fork_child(void)
{
    pthread_mutex_init(&decay_lock, NULL);
    pthread_cond_init(&decay_cond, NULL);
    atomic_store(&tstate, hak_bigcache_held() > 0 ? T_WANTED : T_NONE);
}
