/* elo.c — which large blocks are worth keeping: a tournament scored on
 * what every strategy would have done.
 *
 * Thirteen strategies ("arms"): a retention threshold on a geometric scale
 * from 512 KiB to 1 GiB, and "keep all".  A freed block whose capacity is
 * at or above the threshold goes back to the kernel through the batch; a
 * smaller one stays in BigCache, within its bound.
 *
 * Every large allocation and free is an event of one trace, and every arm
 * plays every event: each runs a model of the cache it would have had, the
 * bytes it would hold resident.  The model is a pool that serves any
 * request (BigCache resizes a cached block of another class to fit a miss,
 * see large.c), capped by the bound BigCache had at each free, and emptied
 * when the program makes no large operation for the decay time.  An arm's
 * cost, in ns, is
 *
 *     pages it would fault in (4 KiB)      x the fault price
 *   + pages it would give back             x the zap price
 *   + kernel calls it would make           x the call price
 *   + MiB.s it would hold                  x HAKMEM_ELO_HOLD_NS
 *
 * The prices are measured once, on a probe of PROBE_PAGES pages, at the
 * first large free (so that programs without large blocks never pay for
 * it), unless HAKMEM_ELO_FAULT_NS and HAKMEM_ELO_CALL_NS set them; then a
 * page given back costs ZAP_SHARE of one faulted in, the ratio measured on
 * these machines.  Nothing in the score depends on the clock but the hold,
 * so an epoch judges arms on the program's events, not on where the epoch
 * fell in the program's cycle, and no arm ever pays a refault for being
 * tried: exploration is free.
 *
 * After each epoch (HAKMEM_ELO_EPOCH events) every arm plays every other
 * on its cost per event, smoothed over about eight epochs: cheaper by 5 %
 * wins, dearer by 5 % loses, else a draw.  Ratings follow the Elo formula (start 1500, K = 32 spread
 * over an arm's twelve matches), with K scaled by the margin
 * (x(1 + ln(dear/cheap)), at most x4).  The leader's threshold is the one
 * BigCache applies; it changes only when another arm's rating is higher
 * (the first of equals is the one already leading, then "keep all").
 *
 * The running arm's real cost is measured beside its prediction, at the
 * same prices, from what large.c really did (bytes handed out fresh,
 * mappings made, blocks given back and their dirty bytes) and the bytes
 * BigCache really held: hakmem's report
 * prints both, the check that the model tells the truth about the arm
 * that was played. */
#include "internal.h"

#include <sys/mman.h>

#define ARM_MIN     ((size_t)512 << 10)
#define KEEP_ALL    ((size_t)64 << 30)        /* above every BigCache class */
#define ELO_K       32.0
#define ELO_START   1500.0
#define TIE         0.05
#define SMOOTH      0.125                   /* weight of an epoch in the smoothed cost */
#define PAGE        4096.0
#define PROBE_PAGES 64
#define ZAP_SHARE   0.25                    /* a page given back / one faulted in */
#define HUGE_SHARE  64.0                    /* a huge-page window / a small page faulted in */

_Atomic size_t hak_elo_threshold = KEEP_ALL;

typedef struct {
    double resident;                   /* bytes the arm would hold */
    double cost;                       /* ns, this epoch */
} model_t;

static pthread_mutex_t elo_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t   arm_thr[HAK_ELO_ARMS];
static hak_elo_arm_t arms[HAK_ELO_ARMS];
static model_t  model[HAK_ELO_ARMS];
static unsigned current;               /* the leader, whose threshold runs */
static uint64_t epochs, events, last_ns;
static double   fault_ns, huge_ns, zap_ns, call_ns, hold_ns;   /* prices; huge: a 2 MiB window; hold: per byte.ns */
static double   zap_byte;                                      /* zap_ns per byte */
static bool     priced;
static hak_elo_check_t check;

/* What the statistics and the process count of the running arm's real
 * cost, at the start of the epoch. */
static struct {
    uint64_t fresh, calls, zapped, hold_kib_us;
} real_at;
static uint64_t real_hold;             /* KiB.us BigCache held, integrated */

/* The large side's own: the slab side's kernel calls and decommits are
 * no arm's doing. */
static uint64_t kernel_calls(void)
{
    return atomic_load_explicit(&hak_stats.large_calls, memory_order_relaxed);
}

static void real_start(void)
{
    real_at.fresh = atomic_load_explicit(&hak_stats.large_fresh_bytes, memory_order_relaxed);
    real_at.calls = kernel_calls();
    real_at.zapped = atomic_load_explicit(&hak_stats.large_released_bytes, memory_order_relaxed);
    real_at.hold_kib_us = real_hold;
}

/* What bytes faulting in cost: whole 2 MiB windows at the huge-page
 * price when large blocks get huge pages. */
static double fault_cost(double bytes)
{
    double windows = hak_opt.large_hugepage ? (double)(uint64_t)(bytes / HAK_SS_SIZE) : 0;
    return windows * huge_ns + (bytes - windows * HAK_SS_SIZE) / PAGE * fault_ns;
}

static double real_cost(void)
{
    double fresh = (double)(atomic_load_explicit(&hak_stats.large_fresh_bytes, memory_order_relaxed) - real_at.fresh);
    double zapped = (double)(atomic_load_explicit(&hak_stats.large_released_bytes, memory_order_relaxed) - real_at.zapped);
    return fault_cost(fresh) + zapped / PAGE * zap_ns +
           (double)(kernel_calls() - real_at.calls) * call_ns +
           (double)(real_hold - real_at.hold_kib_us) * 1024.0 * 1000.0 * hold_ns;
}

/* The price of faulting in one 2 MiB window marked for huge pages (where
 * the kernel has none to give, its 512 small faults). */
static double measure_huge(void)
{
    char *p = hak_os_map_aligned(HAK_SS_SIZE, HAK_SS_SIZE);
    if (p == NULL)
        return 512 * fault_ns;
    hak_os_advise(p, HAK_SS_SIZE, MADV_HUGEPAGE);
    uint64_t t0 = hak_now_ns();
    for (size_t off = 0; off < HAK_SS_SIZE; off += (size_t)PAGE)
        ((volatile char *)p)[off] = 1;
    uint64_t t1 = hak_now_ns();
    hak_os_unmap(p, HAK_SS_SIZE);
    return (double)(t1 - t0);
}

/* The prices of a fault, a page given back and a kernel call, on this
 * machine now: PROBE_PAGES fresh small pages faulted in, given back with
 * one madvise, and a madvise of nothing resident. */
static void measure_prices(void)
{
    size_t size = PROBE_PAGES * (size_t)PAGE;
    char *p = hak_os_map(size);
    if (p == NULL) {
        fault_ns = 1000, zap_ns = 250, call_ns = 1000, huge_ns = 512 * fault_ns;
        return;
    }
    hak_os_advise(p, size, MADV_NOHUGEPAGE);
    uint64_t t0 = hak_now_ns();
    for (size_t off = 0; off < size; off += (size_t)PAGE)
        ((volatile char *)p)[off] = 1;
    uint64_t t1 = hak_now_ns();
    hak_os_advise(p, size, MADV_DONTNEED);
    uint64_t t2 = hak_now_ns();
    hak_os_advise(p, size, MADV_DONTNEED);
    uint64_t t3 = hak_now_ns();
    hak_os_unmap(p, size);
    call_ns = (double)(t3 - t2);
    fault_ns = (double)(t1 - t0) / PROBE_PAGES;
    zap_ns = (double)(t2 - t1 > t3 - t2 ? (t2 - t1) - (t3 - t2) : 0) / PROBE_PAGES;
    huge_ns = hak_opt.large_hugepage ? measure_huge() : 512 * fault_ns;
}

static void set_prices_now(void);

static void set_prices(void)
{
    priced = true;
    set_prices_now();
    zap_byte = zap_ns / PAGE;
}

static void set_prices_now(void)
{
    hold_ns = (double)hak_opt.elo_hold_ns / (1024.0 * 1024.0 * 1e9);
    if (hak_opt.elo_fault_ns > 0 && hak_opt.elo_call_ns > 0) {
        fault_ns = hak_opt.elo_fault_ns;
        zap_ns = ZAP_SHARE * fault_ns;
        huge_ns = HUGE_SHARE * fault_ns;
        call_ns = hak_opt.elo_call_ns;
        return;
    }
    measure_prices();
    if (hak_opt.elo_fault_ns > 0)
        fault_ns = hak_opt.elo_fault_ns;
    if (hak_opt.elo_call_ns > 0)
        call_ns = hak_opt.elo_call_ns;
}

/* 2^x and ln x, to double precision, so that the library does not need
 * libm: loading libm costs every program ~10 page faults at start-up
 * (mapping, relocation, ifunc resolution), for a few calls per epoch. */
static double exp2_(double x)
{
    if (x > 1000)
        x = 1000;
    if (x < -1000)
        x = -1000;
    double n = (double)(int64_t)(x < 0 ? x - 0.5 : x + 0.5);    /* nearest */
    double f = (x - n) * 0.69314718055994530942;                /* |f| <= ln2/2 */
    double term = 1, sum = 1;
    for (int k = 1; k <= 14; k++) {
        term *= f / k;
        sum += term;
    }
    union { double d; uint64_t u; } scale;
    for (int64_t e = (int64_t)n; e != 0;) {             /* 2^n in steps the exponent holds */
        int64_t step = e > 1000 ? 1000 : e < -1000 ? -1000 : e;
        scale.u = (uint64_t)(step + 1023) << 52;
        sum *= scale.d;
        e -= step;
    }
    return sum;
}

static double ln_(double x)                             /* x > 0, normal */
{
    union { double d; uint64_t u; } v = { .d = x };
    int64_t e = (int64_t)((v.u >> 52) & 0x7ff) - 1023;
    v.u = (v.u & ~((uint64_t)0x7ff << 52)) | ((uint64_t)1023 << 52);    /* m in [1, 2) */
    if (v.d > 1.41421356237309504880) {
        v.d /= 2;
        e++;
    }
    double t = (v.d - 1) / (v.d + 1), t2 = t * t, term = t, sum = 0;    /* |t| < 0.172 */
    for (int k = 1; k <= 25; k += 2) {
        sum += term / k;
        term *= t2;
    }
    return 2 * sum + (double)e * 0.69314718055994530942;
}

size_t hak_elo_arm_threshold(unsigned arm)
{
    return arm + 1 < HAK_ELO_ARMS ? ARM_MIN << arm : KEEP_ALL;
}

double hak_elo_expected(double ra, double rb)
{
    return 1.0 / (1.0 + exp2_((rb - ra) / 400.0 * 3.32192809488736234787));     /* 10^x */
}

/* One match: a scored score_a (1 win, 0.5 draw, 0 loss) against b. */
void hak_elo_update(double *ra, double *rb, double score_a, double k)
{
    double ea = hak_elo_expected(*ra, *rb);
    *ra += k * (score_a - ea);
    *rb += k * ((1.0 - score_a) - (1.0 - ea));
}

/* Arms whose models are equal to the bit (alike[a]: arm a's is arm
 * a - 1's) are computed once: in most programs the thirteen arms are two or
 * three groups, those that release its blocks and those that keep them.
 * Set again at each epoch's end, when the costs restart from zero. */
static bool alike[HAK_ELO_ARMS];

/* One event for every arm: first the time since the last event, held by
 * every arm (a gap of the decay time or more empties every model, as the
 * decay empties BigCache), then the operation.  free: the capacity went
 * back under `bound` (else an allocation of it). */
static void play(bool free, size_t capacity, size_t bound, uint64_t t)
{
    uint64_t dt = last_ns != 0 && t > last_ns ? t - last_ns : 0;
    if (t > last_ns)
        last_ns = t;
    uint64_t decay = (uint64_t)hak_opt.decay_ms * 1000000u;
    bool decayed = dt >= decay;
    double held_ns = (double)(decayed ? decay : dt) * hold_ns;
    double cap = (double)capacity, b = (double)bound;
    for (unsigned a = 0; a < HAK_ELO_ARMS; a++) {
        model_t *m = &model[a];
        bool release = free && capacity >= arm_thr[a];
        if (alike[a]) {
            if (!free || release == (capacity >= arm_thr[a - 1])) {
                *m = model[a - 1];
                continue;
            }
            alike[a] = false;
        }
        m->cost += m->resident * held_ns;
        if (decayed && m->resident > 0) {
            m->cost += call_ns + m->resident * zap_byte;
            m->resident = 0;
        }
        if (!free) {
            double hit = cap < m->resident ? cap : m->resident;
            m->resident -= hit;
            if (hit < cap)
                m->cost += call_ns + fault_cost(cap - hit);
        } else if (release) {
            m->cost += call_ns + cap * zap_byte;
        } else {
            m->resident += cap;
            if (m->resident > b) {
                m->cost += call_ns + (m->resident - b) * zap_byte;
                m->resident = b;
            }
        }
    }
}

/* Resting: a program whose leader has held for STABLE_EPOCHS epochs is
 * modelled one epoch in REST_EPOCHS + 2 (a warm-up, unscored, that starts
 * every model from what BigCache really holds, then a scored one), so
 * that a program making millions of large operations a second does not
 * pay the model for each of them.  A new leader ends the rest. */
#define STABLE_EPOCHS 8
#define REST_EPOCHS   14

static unsigned stable;                /* epochs the leader has held */
static bool     warmup;                /* the running epoch is not scored */
static _Atomic bool resting;
static _Atomic int64_t rest_left;      /* events until the models wake */

static void close_epoch(void)
{
    if (warmup) {
        warmup = false;
        events = 0;
        for (unsigned a = 0; a < HAK_ELO_ARMS; a++) {
            model[a].cost = 0;
            alike[a] = a > 0 && model[a].resident == model[a - 1].resident;
        }
        real_start();
        return;
    }
    double c[HAK_ELO_ARMS];
    for (unsigned a = 0; a < HAK_ELO_ARMS; a++) {
        c[a] = model[a].cost / (double)events;
        model[a].cost = 0;
        alike[a] = a > 0 && model[a].resident == model[a - 1].resident;
    }
    check.predicted = c[current];
    check.measured = real_cost() / (double)events;
    check.predicted_sum += check.predicted * (double)events;
    check.measured_sum += check.measured * (double)events;
    /* Matches are played on costs smoothed over about eight epochs: an
     * epoch shorter than the program's cycle (a burst, then a pause) would
     * otherwise crown the arm that wins most epochs, not the one that
     * costs least over the cycle.  All on the ratings the epoch started
     * with, so that arms with the same costs keep the same ratings. */
    for (unsigned a = 0; a < HAK_ELO_ARMS; a++) {
        arms[a].cost = arms[a].samples == 0 ? c[a] : (1 - SMOOTH) * arms[a].cost + SMOOTH * c[a];
        arms[a].samples++;
    }
    /* Arms that decided alike have equal costs, to the bit: they draw,
     * and play the others as one group (the first of them for all). */
    double r[HAK_ELO_ARMS], d[HAK_ELO_ARMS] = { 0 };
    unsigned group[HAK_ELO_ARMS], size[HAK_ELO_ARMS] = { 0 }, won[HAK_ELO_ARMS] = { 0 }, lost[HAK_ELO_ARMS] = { 0 };
    for (unsigned a = 0; a < HAK_ELO_ARMS; a++) {
        r[a] = arms[a].rating;
        group[a] = a;
        for (unsigned g = 0; g < a; g++)
            if (group[g] == g && arms[g].cost == arms[a].cost && r[g] == r[a]) {
                group[a] = g;
                break;
            }
        size[group[a]]++;
    }
    for (unsigned a = 0; a < HAK_ELO_ARMS; a++)
        for (unsigned b = a + 1; b < HAK_ELO_ARMS; b++) {
            if (group[a] != a || group[b] != b)
                continue;
            double ca = arms[a].cost > 1 ? arms[a].cost : 1, cb = arms[b].cost > 1 ? arms[b].cost : 1;
            double score = ca < cb * (1 - TIE) ? 1.0 : ca > cb * (1 + TIE) ? 0.0 : 0.5;
            if (score == 0.5)
                continue;
            double margin = 1.0 + ln_(ca > cb ? ca / cb : cb / ca);
            double ra = r[a], rb = r[b];
            hak_elo_update(&ra, &rb, score, ELO_K / (HAK_ELO_ARMS - 1) * (margin < 4 ? margin : 4));
            d[a] += (ra - r[a]) * size[b];
            d[b] += (rb - r[b]) * size[a];
            unsigned w = score == 1.0 ? a : b, l = score == 1.0 ? b : a;
            won[w] += size[l];
            lost[l] += size[w];
        }
    for (unsigned a = 0; a < HAK_ELO_ARMS; a++) {
        d[a] = d[group[a]];
        arms[a].wins += won[group[a]];
        arms[a].losses += lost[group[a]];
    }
    for (unsigned a = 0; a < HAK_ELO_ARMS; a++)
        arms[a].rating += d[a];
    arms[current].epochs++;
    epochs++;
    events = 0;
    unsigned lead = current;
    for (unsigned i = HAK_ELO_ARMS; i-- > 0;)
        if (arms[i].rating > arms[lead].rating)
            lead = i;
    stable = lead == current ? stable + 1 : 0;
    current = lead;
    atomic_store_explicit(&hak_elo_threshold, arm_thr[lead], memory_order_relaxed);
    real_start();
    if (stable >= STABLE_EPOCHS) {
        atomic_store_explicit(&rest_left, (int64_t)REST_EPOCHS * hak_opt.elo_epoch, memory_order_relaxed);
        atomic_store_explicit(&resting, true, memory_order_relaxed);
    }
}

/* The end of a rest: every model starts again from the bytes BigCache
 * holds (each arm's own would have differed, which the warm-up epoch
 * washes out). */
static void wake(void)
{
    double held = (double)hak_bigcache_held();
    for (unsigned a = 0; a < HAK_ELO_ARMS; a++) {
        model[a].resident = held;
        model[a].cost = 0;
        alike[a] = a > 0;
    }
    events = 0;
    last_ns = 0;
    warmup = true;
    atomic_store_explicit(&resting, false, memory_order_relaxed);
}

static void event_done(void)
{
    if (++events >= hak_opt.elo_epoch)
        close_epoch();
}

void hak_elo_event_alloc(size_t capacity, uint64_t t_ns)
{
    if (!priced)
        set_prices();
    play(false, capacity, 0, t_ns);
    event_done();
}

void hak_elo_event_free(size_t capacity, size_t bound, uint64_t t_ns)
{
    if (!priced)
        set_prices();
    play(true, capacity, bound, t_ns);
    event_done();
}

/* The real bytes held, integrated over time for the check (KiB.us): what
 * BigCache held after each event, until the next, as the models do. */
static size_t real_held;
static uint64_t real_ns;

static void integrate_real(uint64_t t, size_t held_after)
{
    if (real_ns != 0 && t > real_ns)
        real_hold += (real_held >> 10) * ((t - real_ns) / 1000);
    if (t > real_ns)
        real_ns = t;
    real_held = held_after;
}

/* Each thread queues its events and plays them in groups of TLS_EVENTS,
 * so that threads that allocate large blocks by the million take the lock
 * once per group, not per block, and never sleep on it: a thread that
 * finds it taken queues on, and waits only when its queue is full.  Times are from the coarse clock: what
 * an event needs of time is the hold between events, and a sum of coarse
 * intervals is as true as a sum of exact ones over many events. */
#define TLS_EVENTS 16
#define TLS_QUEUE  64                 /* past TLS_EVENTS, a busy lock is waited for only when full */

typedef struct {
    uint64_t t_ns;
    size_t capacity, bound;           /* bound: SIZE_MAX for an allocation */
    size_t held;                      /* BigCache's bytes after the operation */
} queued_t;

static __thread struct {
    unsigned n, skipped;
    queued_t ev[TLS_QUEUE];
} queue __attribute__((tls_model("initial-exec")));

static void flush(void)
{
    if (queue.n < TLS_QUEUE) {
        if (pthread_mutex_trylock(&elo_lock) != 0)
            return;
    } else {
        pthread_mutex_lock(&elo_lock);
    }
    for (unsigned i = 0; i < queue.n; i++) {
        queued_t *e = &queue.ev[i];
        integrate_real(e->t_ns, e->held);
        if (e->bound == SIZE_MAX)
            hak_elo_event_alloc(e->capacity, e->t_ns);
        else
            hak_elo_event_free(e->capacity, e->bound, e->t_ns);
    }
    queue.n = 0;
    pthread_mutex_unlock(&elo_lock);
}

static void enqueue(size_t capacity, size_t bound)
{
    queue.ev[queue.n++] = (queued_t){ hak_now_ms() * 1000000u, capacity, bound, hak_bigcache_held() };
    if (queue.n >= TLS_EVENTS)
        flush();
}

/* While the models rest, an event is only counted, TLS_EVENTS at a time. */
static bool rested(void)
{
    if (!atomic_load_explicit(&resting, memory_order_relaxed))
        return false;
    if (++queue.skipped < TLS_EVENTS)
        return true;
    queue.skipped = 0;
    if (atomic_fetch_sub_explicit(&rest_left, TLS_EVENTS, memory_order_relaxed) > TLS_EVENTS)
        return true;
    pthread_mutex_lock(&elo_lock);
    if (atomic_load_explicit(&resting, memory_order_relaxed))
        wake();
    pthread_mutex_unlock(&elo_lock);
    return true;
}

void hak_elo_alloc(size_t capacity)
{
    if (hak_opt.elo && !rested())
        enqueue(capacity, SIZE_MAX);
}

void hak_elo_free(size_t capacity)
{
    if (hak_opt.elo && !rested())
        enqueue(capacity, hak_bigcache_bound());
}

void hak_elo_init(void)
{
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++) {
        arm_thr[i] = hak_elo_arm_threshold(i);
        arms[i] = (hak_elo_arm_t){ .rating = ELO_START };
        model[i] = (model_t){ 0 };
    }
    current = HAK_ELO_ARMS - 1;
    epochs = events = last_ns = real_hold = real_ns = 0;
    real_held = 0;
    queue.n = 0;
    stable = 0;
    warmup = false;
    atomic_store_explicit(&resting, false, memory_order_relaxed);
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
        alike[i] = i > 0;
    priced = false;
    check = (hak_elo_check_t){ 0 };
    atomic_store_explicit(&hak_elo_threshold, hak_opt.elo ? arm_thr[current] : hak_opt.large_release,
                          memory_order_relaxed);
    real_start();
}

unsigned hak_elo_snapshot(hak_elo_arm_t out[HAK_ELO_ARMS], uint64_t *n, hak_elo_check_t *chk)
{
    pthread_mutex_lock(&elo_lock);
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
        out[i] = arms[i];
    *n = epochs;
    if (chk != NULL) {
        *chk = check;
        chk->fault_ns = fault_ns, chk->huge_ns = huge_ns, chk->zap_ns = zap_ns, chk->call_ns = call_ns;
    }
    unsigned lead = current;
    pthread_mutex_unlock(&elo_lock);
    return lead;
}

void hak_elo_lock(void)       { pthread_mutex_lock(&elo_lock); }
void hak_elo_unlock(void)     { pthread_mutex_unlock(&elo_lock); }
void hak_elo_reset_lock(void) { pthread_mutex_init(&elo_lock, NULL); }
