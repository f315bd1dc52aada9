/* exchange — request/response threads: each thread churns its own slots of
 * live blocks and, now and then, hands some of the blocks it allocates to
 * the next thread, which frees them.  The shape of rpmalloc's benchmark
 * ("rptest" in mimalloc-bench), written from its description.
 *
 * Each of `--threads` threads owns `--slots` slots and runs `--loops`
 * loops.  A loop:
 *   1. verifies and frees the blocks other threads handed to it (an inbox,
 *      a lock-free stack of batches);
 *   2. verifies and frees `--ops` blocks at random slots (an empty slot is
 *      skipped), scattered across its whole set;
 *   3. allocates `--ops` blocks: one in `--cross` (default 8) goes into a
 *      batch for the next thread; the others go into random slots, freeing
 *      the block there, if any.  The batch (a malloc'd block itself) is
 *      pushed onto the next thread's inbox.
 * Sizes run from `--min` to `--max` (default 8 B-16 KiB) with the same
 * number of blocks in each power of two, so small blocks dominate.  A
 * thread that has done its loops keeps emptying its inbox until every
 * thread has; then it frees its slots.
 *
 * Every block is marked (its first and last words: rptest writes the first
 * four bytes) from its thread, loop and index; its address, size and mark
 * travel with it in the slot or batch, so the freeing thread checks it
 * against the allocating thread's record.  A damaged mark exits with
 * status 2.  (Filling whole blocks of up to 16 KiB made the benchmark's
 * memset and memcmp 60 % of the run.)  One op is one block allocated (and,
 * eventually, freed); the result is ops per second.
 */
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>

#include "bench_util.h"

#define PROG "exchange"
#define MAX_THREADS 256

struct item {
    void *p;
    size_t size;
    uint64_t tag;
};

struct batch {
    struct batch *next;
    unsigned n, from;
    struct item it[];
};

struct worker {
    alignas(64) _Atomic(struct batch *) inbox;
    alignas(64) pthread_t t;
    unsigned id;
    struct item *slots;
    uint64_t handed, received;
};

static struct worker *ws;
static unsigned nthreads;
static uint32_t nslots, ops, cross;
static uint64_t loops, seed;
static size_t min_size, max_size;
static unsigned lo_bits, hi_bits;
static atomic_uint finished;
static pthread_barrier_t start_barrier;

static inline unsigned log2_floor(size_t n)
{
    return 63 - (unsigned)__builtin_clzll((unsigned long long)n);
}

/* Log-uniform: a power of two in [2^lo, 2^hi], then uniform inside it,
 * clamped to [min, max]. */
static inline size_t random_size(bench_rng *r)
{
    unsigned b = lo_bits + bench_rng_below(r, hi_bits - lo_bits + 1);
    size_t s = ((size_t)1 << b) + bench_rng_below(r, 1u << b);
    return s < min_size ? min_size : s > max_size ? max_size : s;
}

static void release(struct item *it, unsigned id)
{
    if (!bench_mark_ok(it->p, it->size, it->tag)) {
        fprintf(stderr, PROG ": pattern mismatch in a block freed by thread %u "
                "(block %p, %zu bytes): the allocator corrupted a live block\n",
                id, it->p, it->size);
        _exit(BENCH_EXIT_CORRUPT);
    }
    free(it->p);
    it->p = NULL;
}

static uint64_t drain_inbox(struct worker *w)
{
    uint64_t n = 0;
    struct batch *b = atomic_exchange_explicit(&w->inbox, NULL, memory_order_acquire);
    while (b) {
        struct batch *next = b->next;
        for (unsigned i = 0; i < b->n; i++)
            release(&b->it[i], w->id);
        n += b->n;
        free(b);
        b = next;
    }
    return n;
}

static void push_inbox(struct worker *to, struct batch *b)
{
    struct batch *head = atomic_load_explicit(&to->inbox, memory_order_relaxed);
    do
        b->next = head;
    while (!atomic_compare_exchange_weak_explicit(&to->inbox, &head, b, memory_order_release,
                                                  memory_order_relaxed));
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct worker *next = &ws[(w->id + 1) % nthreads];
    bench_rng rng;
    bench_rng_seed(&rng, seed * 0x100000001b3ULL + w->id);
    struct item *slots = w->slots;
    size_t bsize = sizeof(struct batch) + ops * sizeof(struct item);
    uint64_t received = 0, handed = 0;

    pthread_barrier_wait(&start_barrier);
    for (uint64_t loop = 0; loop < loops; loop++) {
        received += drain_inbox(w);
        for (uint32_t k = 0; k < ops; k++) {
            struct item *s = &slots[bench_rng_below(&rng, nslots)];
            if (s->p)
                release(s, w->id);
        }
        struct batch *out = NULL;
        uint64_t base = ((uint64_t)w->id << 56) ^ (loop << 20);
        for (uint32_t k = 0; k < ops; k++) {
            struct item it;
            it.size = random_size(&rng);
            it.p = malloc(it.size);
            if (!it.p)
                bench_oom(PROG, it.size);
            bench_escape(it.p);
            it.tag = bench_mix64(seed ^ base ^ k);
            bench_mark(it.p, it.size, it.tag);
            if (bench_rng_below(&rng, cross) == 0) {
                if (!out) {
                    out = malloc(bsize);
                    if (!out)
                        bench_oom(PROG, bsize);
                    out->n = 0;
                    out->from = w->id;
                }
                out->it[out->n++] = it;
            } else {
                struct item *s = &slots[bench_rng_below(&rng, nslots)];
                if (s->p)
                    release(s, w->id);
                *s = it;
            }
        }
        if (out) {
            handed += out->n;
            push_inbox(next, out);
        }
    }
    /* Keep freeing what the others send until all are done. */
    atomic_fetch_add(&finished, 1);
    while (atomic_load(&finished) < nthreads) {
        uint64_t n = drain_inbox(w);
        received += n;
        if (!n)
            sched_yield();
    }
    received += drain_inbox(w);
    for (uint32_t i = 0; i < nslots; i++)
        if (slots[i].p)
            release(&slots[i], w->id);
    w->handed = handed;
    w->received = received;
    return NULL;
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: " PROG " [--threads T] [--loops N] [--slots N] [--ops N] [--cross N]\n"
            "                [--min BYTES] [--max BYTES] [--seed N]\n"
            "  defaults: --threads 2 --loops 20000 --slots 4096 --ops 256 --cross 8\n"
            "            --min 8 --max 16384 --seed 1\n"
            "  Each loop a thread frees what it was handed, frees --ops random slots and\n"
            "  allocates --ops blocks, one in --cross of them handed to the next thread.\n"
            "  One op = one block allocated; reports ops per second.\n");
    exit(status);
}

int main(int argc, char **argv)
{
    nthreads = 2;
    loops = 20000;
    nslots = 4096;
    ops = 256;
    cross = 8;
    min_size = 8;
    max_size = 16384;
    seed = 1;
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 't'},
        {"loops", required_argument, NULL, 'n'},
        {"slots", required_argument, NULL, 'S'},
        {"ops", required_argument, NULL, 'o'},
        {"cross", required_argument, NULL, 'x'},
        {"min", required_argument, NULL, 'm'},
        {"max", required_argument, NULL, 'M'},
        {"seed", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "t:n:S:o:x:m:M:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': nthreads = (unsigned)bench_parse_u64(PROG, "--threads", optarg, 1, MAX_THREADS); break;
        case 'n': loops = bench_parse_u64(PROG, "--loops", optarg, 1, 1ULL << 36); break;
        case 'S': nslots = (uint32_t)bench_parse_u64(PROG, "--slots", optarg, 1, 1U << 26); break;
        case 'o': ops = (uint32_t)bench_parse_u64(PROG, "--ops", optarg, 1, 1U << 20); break;
        case 'x': cross = (uint32_t)bench_parse_u64(PROG, "--cross", optarg, 1, 1U << 20); break;
        case 'm': min_size = bench_parse_u64(PROG, "--min", optarg, 1, 1ULL << 30); break;
        case 'M': max_size = bench_parse_u64(PROG, "--max", optarg, 1, 1ULL << 30); break;
        case 'r': seed = bench_parse_u64(PROG, "--seed", optarg, 0, UINT64_MAX); break;
        case 'h': usage(0); break;
        default: usage(BENCH_EXIT_USAGE);
        }
    }
    if (optind != argc)
        usage(BENCH_EXIT_USAGE);
    if (min_size > max_size) {
        fprintf(stderr, PROG ": --min %zu exceeds --max %zu\n", min_size, max_size);
        return BENCH_EXIT_USAGE;
    }
    lo_bits = log2_floor(min_size);
    hi_bits = log2_floor(max_size);
    if (hi_bits > 31)
        hi_bits = 31;   /* bench_rng_below takes 32 bits */
    if (lo_bits > hi_bits)
        lo_bits = hi_bits;

    ws = aligned_alloc(alignof(struct worker), nthreads * sizeof *ws);
    if (!ws)
        bench_oom(PROG, nthreads * sizeof *ws);
    memset(ws, 0, nthreads * sizeof *ws);
    for (unsigned i = 0; i < nthreads; i++) {
        ws[i].id = i;
        atomic_init(&ws[i].inbox, NULL);
        ws[i].slots = calloc(nslots, sizeof(struct item));
        if (!ws[i].slots)
            bench_oom(PROG, nslots * sizeof(struct item));
    }
    pthread_barrier_init(&start_barrier, NULL, nthreads + 1);
    for (unsigned i = 0; i < nthreads; i++) {
        int err = pthread_create(&ws[i].t, NULL, work, &ws[i]);
        if (err) {
            fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
            return BENCH_EXIT_USAGE;
        }
    }
    pthread_barrier_wait(&start_barrier);
    uint64_t t0 = bench_now_ns();
    uint64_t handed = 0, received = 0;
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_join(ws[i].t, NULL);
        handed += ws[i].handed;
        received += ws[i].received;
    }
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    pthread_barrier_destroy(&start_barrier);
    if (handed != received) {
        fprintf(stderr, PROG ": %" PRIu64 " blocks handed over, %" PRIu64 " received\n",
                handed, received);
        return BENCH_EXIT_CORRUPT;
    }
    for (unsigned i = 0; i < nthreads; i++)
        free(ws[i].slots);
    free(ws);

    uint64_t total = (uint64_t)nthreads * loops * ops;
    printf(PROG ": %.0f ops/s (%" PRIu64 " blocks in %.3f s, %u threads, %" PRIu64 " loops, "
           "%u slots, %u ops per loop, %.1f %% freed by another thread, %zu-%zu B)\n",
           elapsed > 0 ? (double)total / elapsed : 0.0, total, elapsed, nthreads, loops,
           nslots, ops, total ? 100.0 * (double)handed / (double)total : 0.0, min_size, max_size);
    bench_print_rusage();
    return 0;
}
