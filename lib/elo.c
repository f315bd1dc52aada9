/* elo.c — which large blocks are worth keeping: an online tournament.
 *
 * Twelve strategies ("arms"), each a retention threshold on a geometric
 * scale from 512 KiB to 32 MiB: a freed block whose capacity is at or above
 * the threshold goes back to the kernel through the batch, a smaller one
 * stays in BigCache.  Time is cut into epochs of large operations (option);
 * each epoch runs one arm and costs
 *
 *     CPU time of the process               (page faults, madvise, the
 *                                           allocator, the program)
 *   + page faults of the process          x HAKMEM_ELO_FAULT_NS
 *   + MiB.s held by BigCache              x HAKMEM_ELO_HOLD_NS
 *
 * per operation.  The fault count adds what a fault costs beyond its CPU
 * time (default 0).  getrusage and the process CPU clock are read once per
 * epoch; each large operation reads the monotonic clock once (vDSO, no
 * syscall) to integrate the bytes held.  Arms that would have kept and released exactly the
 * same blocks as the epoch's arm share its result (see score_epoch).  After an epoch its arm plays a match
 * against the arm it is compared with — the leader, or, for the leader, the
 * best-rated other arm — on that arm's smoothed cost: cheaper by 5 % wins,
 * dearer by 5 % loses, else a draw.  Ratings follow the Elo formula (start
 * 1500, K = 32), with K scaled by the margin (x(1 + ln(dear/cheap)), at most
 * x4), so that an arm that costs a hundred times more sinks in a few epochs
 * instead of a few dozen.
 *
 * Choice is epsilon-greedy: the leader runs, except in HAKMEM_ELO_EXPLORE
 * percent of epochs, which go to another arm drawn with probability
 * proportional to the cube of its expected score against the leader,
 * among those that would not have decided like the leader.
 * Uniform exploration would keep paying for arms already known to be
 * terrible; the arms differ by up to three orders of magnitude here (a 4 MiB
 * block refaulted versus reused).  Exploring epochs are a quarter of the
 * length, for the same reason, and so are the first two.  Not shorter: an
 * epoch of a few operations measures where it falls in the program's
 * cycle (an idle gap or a burst of faults) more than its arm; with eighths
 * the idle workload of bench/elo.sh crowned a keeping arm. */
#include "internal.h"

#include <sys/resource.h>
#include <time.h>

#define ARM_MIN   ((size_t)512 << 10)
#define ARM_MAX   ((size_t)32 << 20)
#define ELO_K     32.0
#define ELO_START 1500.0
#define TIE       0.05

_Atomic size_t hak_elo_threshold = (size_t)32 << 20;

static size_t arm_thr[HAK_ELO_ARMS];

static pthread_mutex_t elo_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_elo_arm_t arms[HAK_ELO_ARMS];
static unsigned current;               /* arm of the running epoch */
static bool     exploring;             /* the running epoch is not the leader's */
static bool     washout;               /* the running epoch follows an exploring one */
static unsigned epoch_len;
static uint64_t epochs;
static uint64_t rng;
static long     faults_at_start;
static uint64_t cpu_at_start;

/* Accumulated by every large operation, without a lock. */
static _Atomic uint64_t ep_ops, ep_hold;          /* hold: KiB.us */
static _Atomic uint64_t last_ns;
static _Atomic uint32_t ep_target;
static _Atomic uint32_t ep_bounds;                /* see equivalent() */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Page faults of the process, and its CPU time (user and system, exact to
 * the nanosecond, unlike getrusage's tick-sampled times): the time an arm
 * costs is everything the process spent, page faults, madvise and the
 * allocator included; the program's own work is the same under every arm
 * and averages out. */
static void process_usage(long *faults, uint64_t *cpu_ns)
{
    struct rusage ru;
    struct timespec ts;
    *faults = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt + ru.ru_majflt : 0;
    *cpu_ns = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0
                  ? (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec : 0;
}

/* 2^x and ln x, to double precision, so that the library does not need
 * libm: loading libm costs every program ~10 page faults at start-up
 * (mapping, relocation, ifunc resolution), for three calls per epoch. */
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
    /* ARM_MIN * (ARM_MAX / ARM_MIN)^(arm / (arms - 1)), powers of two */
    double t = (double)ARM_MIN * exp2_((double)arm * (double)(__builtin_ctzll(ARM_MAX) - __builtin_ctzll(ARM_MIN)) /
                                       (HAK_ELO_ARMS - 1));
    return ((size_t)t + 4095) & ~(size_t)4095;
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

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void equivalent(unsigned a, uint32_t bounds, unsigned *lo, unsigned *hi);

static unsigned leader(void)
{
    unsigned best = HAK_ELO_ARMS - 1;
    for (unsigned i = HAK_ELO_ARMS - 1; i-- > 0;)
        if (arms[i].rating > arms[best].rating)
            best = i;
    return best;
}

/* An arm to try instead of the leader, drawn with probability
 * proportional to the cube of its expected score against the leader.
 * Arms that would have decided like the leader on the last epoch's blocks
 * would teach nothing: they are not drawn, but keep their weight (an even
 * score, 1/8 each) for the leader, so that when every arm that differs is
 * known to be bad, exploring stops nearly altogether. */
static unsigned pick_explore(unsigned lead, uint32_t bounds)
{
    double w[HAK_ELO_ARMS], sum = 0, keep = 0;
    unsigned lo, hi;
    equivalent(lead, bounds, &lo, &hi);
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++) {
        double e = hak_elo_expected(arms[i].rating, arms[lead].rating);
        w[i] = i >= lo && i <= hi ? 0 : e * e * e;
        if (i >= lo && i <= hi)
            keep += 0.125;
        sum += w[i];
    }
    double x = (double)(next_rand() >> 11) / 9007199254740992.0 * (sum + keep);
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++) {
        if (w[i] > 0 && (x -= w[i]) <= 0)
            return i;
    }
    return lead;
}

static void start_epoch(unsigned arm, bool explore)
{
    current = arm;
    exploring = explore;
    atomic_store_explicit(&hak_elo_threshold, arm_thr[arm], memory_order_relaxed);
    /* The first two epochs (the unscored start and the leader's first
     * measurement) are short too: until arms have been compared, a long
     * epoch is as likely as not to be spent on a bad one. */
    uint32_t len = explore || epochs < 2 ? epoch_len / 4 : epoch_len;
    atomic_store_explicit(&ep_target, len ? len : 1, memory_order_relaxed);
    process_usage(&faults_at_start, &cpu_at_start);
}

/* Arms that could not have behaved differently from arm `a` in an epoch
 * whose freed blocks crossed the boundaries in `bounds` (bit j: a block
 * that arms below j release and arms from j on keep): the run [*lo, *hi]. */
static void equivalent(unsigned a, uint32_t bounds, unsigned *lo, unsigned *hi)
{
    *lo = *hi = a;
    while (*lo > 0 && !(bounds >> *lo & 1))
        --*lo;
    while (*hi + 1 < HAK_ELO_ARMS && !(bounds >> (*hi + 1) & 1))
        ++*hi;
}

/* The match of the epoch that just ended, at `cost` per operation, and the
 * choice of the next arm.  Every arm that would have made the same
 * decisions on this epoch's blocks shares its result: the epoch measured
 * them all.  Called with elo_lock held. */
static void score_epoch(double cost, uint32_t bounds)
{
    if (cost < 1)
        cost = 1;
    unsigned a = current, lead = leader(), lo, hi;
    equivalent(a, bounds, &lo, &hi);
    if (washout || epochs == 0) {
        /* An epoch right after another arm's pays for what that arm did
         * (blocks it released must be faulted in again now): it would
         * charge the leader for the explorer's choices.  The first epoch
         * pays for the program's start (every block is new).  Neither is
         * scored. */
        washout = false;
        arms[a].epochs++;
        epochs++;
        start_epoch(lead, false);
        return;
    }
    int b = -1;
    if (lead < lo || lead > hi) {
        b = (int)lead;
    } else {
        for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
            if ((i < lo || i > hi) && arms[i].samples > 0 && (b < 0 || arms[i].rating > arms[b].rating))
                b = (int)i;
    }
    if (b >= 0 && arms[b].samples > 0) {
        double cb = arms[b].cost;
        double score = cost < cb * (1 - TIE) ? 1.0 : cost > cb * (1 + TIE) ? 0.0 : 0.5;
        double margin = score == 0.5 ? 1.0 : 1.0 + ln_(cost > cb ? cost / cb : cb / cost);
        for (unsigned m = lo; m <= hi; m++) {
            hak_elo_update(&arms[m].rating, &arms[b].rating, score, ELO_K * (margin < 4 ? margin : 4));
            if (score == 1.0) {
                arms[m].wins++;
                arms[b].losses++;
            } else if (score == 0.0) {
                arms[m].losses++;
                arms[b].wins++;
            }
        }
    }
    for (unsigned m = lo; m <= hi; m++) {
        arms[m].cost = arms[m].samples == 0 ? cost : 0.7 * arms[m].cost + 0.3 * cost;
        arms[m].samples++;
    }
    arms[a].epochs++;
    epochs++;
    lead = leader();
    unsigned next = next_rand() % 100 < hak_opt.elo_explore ? pick_explore(lead, bounds) : lead;
    /* Arms that would decide differently from the leader and were never
     * measured are tried once first: a few short epochs, at most one per
     * group of alike arms, instead of waiting for exploration to find them. */
    unsigned llo, lhi;
    equivalent(lead, bounds, &llo, &lhi);
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
        if ((i < llo || i > lhi) && arms[i].samples == 0) {
            next = i;
            break;
        }
    washout = exploring;
    start_epoch(next, next != lead);
}

static void close_epoch(void)
{
    uint64_t ops = atomic_exchange_explicit(&ep_ops, 0, memory_order_relaxed);
    uint64_t hold = atomic_exchange_explicit(&ep_hold, 0, memory_order_relaxed);
    uint32_t bounds = atomic_exchange_explicit(&ep_bounds, 0, memory_order_relaxed);
    long faults;
    uint64_t cpu;
    process_usage(&faults, &cpu);
    faults -= faults_at_start;
    cpu -= cpu_at_start;
    if (ops == 0)
        return;
    double cost = (double)cpu + (double)(faults > 0 ? faults : 0) * hak_opt.elo_fault_ns +
                  (double)hold * hak_opt.elo_hold_ns / (1024.0 * 1e6);
    score_epoch(cost / (double)ops, bounds);
}

/* For tests and the synthetic benchmark: the arm now running, and the end
 * of its epoch at a given cost per operation. */
unsigned hak_elo_current(void)
{
    pthread_mutex_lock(&elo_lock);
    unsigned a = current;
    pthread_mutex_unlock(&elo_lock);
    return a;
}

void hak_elo_score_epoch(double cost, uint32_t bounds)
{
    pthread_mutex_lock(&elo_lock);
    score_epoch(cost, bounds);
    pthread_mutex_unlock(&elo_lock);
}

void hak_elo_init(void)
{
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++) {
        arm_thr[i] = hak_elo_arm_threshold(i);
        arms[i] = (hak_elo_arm_t){ .rating = ELO_START };
    }
    rng = hak_secret | 1;
    epoch_len = hak_opt.elo_epoch;
    if (!hak_opt.elo) {
        atomic_store_explicit(&hak_elo_threshold, hak_opt.large_release, memory_order_relaxed);
        return;
    }
    start_epoch(leader(), false);
}

/* A large block of `capacity` was freed: note which arms would keep it. */
void hak_elo_note_free(size_t capacity)
{
    if (!hak_opt.elo)
        return;
    unsigned j = 0;
    while (j < HAK_ELO_ARMS && arm_thr[j] <= capacity)
        j++;
    uint32_t bit = (uint32_t)1 << j;
    if (!(atomic_load_explicit(&ep_bounds, memory_order_relaxed) & bit))
        atomic_fetch_or_explicit(&ep_bounds, bit, memory_order_relaxed);
}

/* The end of a large operation: counts it, integrates the bytes BigCache
 * holds over time, and closes the epoch when it is complete. */
void hak_elo_op(void)
{
    if (!hak_opt.elo)
        return;
    uint64_t t = now_ns();
    uint64_t prev = atomic_exchange_explicit(&last_ns, t, memory_order_relaxed);
    if (prev != 0 && t > prev)
        atomic_fetch_add_explicit(&ep_hold, (hak_bigcache_held() >> 10) * ((t - prev) / 1000),
                                  memory_order_relaxed);
    uint64_t n = atomic_fetch_add_explicit(&ep_ops, 1, memory_order_relaxed) + 1;
    if (n >= atomic_load_explicit(&ep_target, memory_order_relaxed) &&
        pthread_mutex_trylock(&elo_lock) == 0) {
        if (atomic_load_explicit(&ep_ops, memory_order_relaxed) >=
            atomic_load_explicit(&ep_target, memory_order_relaxed))
            close_epoch();
        pthread_mutex_unlock(&elo_lock);
    }
}

unsigned hak_elo_snapshot(hak_elo_arm_t out[HAK_ELO_ARMS], uint64_t *n)
{
    pthread_mutex_lock(&elo_lock);
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
        out[i] = arms[i];
    *n = epochs;
    unsigned lead = leader();
    pthread_mutex_unlock(&elo_lock);
    return lead;
}

void hak_elo_lock(void)       { pthread_mutex_lock(&elo_lock); }
void hak_elo_unlock(void)     { pthread_mutex_unlock(&elo_lock); }
void hak_elo_reset_lock(void) { pthread_mutex_init(&elo_lock, NULL); }
