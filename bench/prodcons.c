/* prodcons — producer/consumer cross-thread benchmark: every block is freed
 * by a different thread than the one that allocated it, which is the path
 * (remote free, returning memory to its owner) where thread-caching
 * allocators differ most.
 *
 * Each pair has a producer that allocates blocks of random size, fills them
 * and pushes them into a bounded single-producer/single-consumer ring, and
 * a consumer that pops, verifies and frees them.  The consumer derives each
 * block's size and pattern independently from the same seed, so it trusts
 * nothing the producer or the allocator says.  One op is one block passed
 * through (a malloc in one thread and a free in the other).  A damaged
 * pattern is reported and the program exits with status 2.
 */
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>

#include "bench_util.h"

#define PROG "prodcons"

struct ring {
    alignas(64) atomic_size_t head;   /* next index the consumer takes */
    alignas(64) atomic_size_t tail;   /* next index the producer fills */
    alignas(64) void **buf;
    size_t mask;
};

struct pair {
    unsigned id;
    struct ring ring;
    uint64_t items;
    uint64_t seed;
};

static size_t min_size, max_size;
static pthread_barrier_t start_barrier;

static inline uint64_t block_tag(unsigned pair, uint64_t k, size_t size)
{
    return bench_mix64(((uint64_t)pair << 56) ^ (k << 20) ^ size);
}

/* Busy-waits briefly (the other side is usually a few hundred ns away on a
 * second core) and then yields, so an oversubscribed machine still makes
 * progress instead of burning the other thread's time slice. */
static inline void backoff(unsigned *spins)
{
    if (++*spins < 128) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#endif
    } else {
        sched_yield();
    }
}

static void *producer(void *arg)
{
    struct pair *pr = arg;
    struct ring *r = &pr->ring;
    bench_rng rng;
    bench_rng_seed(&rng, pr->seed);
    uint32_t range = (uint32_t)(max_size - min_size + 1);
    size_t cap = r->mask + 1;
    size_t tail = 0, head_seen = 0;

    pthread_barrier_wait(&start_barrier);
    for (uint64_t k = 0; k < pr->items; k++) {
        size_t size = min_size + bench_rng_below(&rng, range);
        void *p = malloc(size);
        if (!p)
            bench_oom(PROG, size);
        bench_escape(p);
        bench_fill(p, size, block_tag(pr->id, k, size));
        unsigned spins = 0;
        while (tail - head_seen == cap) {
            head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
            if (tail - head_seen == cap)
                backoff(&spins);
        }
        r->buf[tail & r->mask] = p;
        atomic_store_explicit(&r->tail, ++tail, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct pair *pr = arg;
    struct ring *r = &pr->ring;
    bench_rng rng;
    bench_rng_seed(&rng, pr->seed);
    uint32_t range = (uint32_t)(max_size - min_size + 1);
    size_t head = 0, tail_seen = 0;

    pthread_barrier_wait(&start_barrier);
    for (uint64_t k = 0; k < pr->items; k++) {
        unsigned spins = 0;
        while (head == tail_seen) {
            tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
            if (head == tail_seen)
                backoff(&spins);
        }
        void *p = r->buf[head & r->mask];
        atomic_store_explicit(&r->head, ++head, memory_order_release);
        size_t size = min_size + bench_rng_below(&rng, range);
        if (!bench_check(p, size, block_tag(pr->id, k, size))) {
            fprintf(stderr, PROG ": pattern mismatch in block %" PRIu64 " of pair %u "
                    "(block %p, %zu bytes): the allocator corrupted a block in flight\n",
                    k, pr->id, p, size);
            _exit(BENCH_EXIT_CORRUPT);
        }
        bench_escape(p);
        free(p);
    }
    return NULL;
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: " PROG " [--items N] [--pairs P] [--ring SLOTS] [--min BYTES] [--max BYTES] [--seed N]\n"
            "  defaults: --items 5000000 --pairs 1 --ring 1024 --min 16 --max 1024 --seed 1\n"
            "  --items is the total over all pairs; --ring is rounded up to a power of two.\n");
    exit(status);
}

int main(int argc, char **argv)
{
    uint64_t items = 5000000, pairs = 1, ring = 1024, seed = 1;
    min_size = 16;
    max_size = 1024;
    static const struct option opts[] = {
        {"items", required_argument, NULL, 'n'},
        {"pairs", required_argument, NULL, 'p'},
        {"ring", required_argument, NULL, 'R'},
        {"min", required_argument, NULL, 'm'},
        {"max", required_argument, NULL, 'M'},
        {"seed", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "n:p:R:m:M:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': items = bench_parse_u64(PROG, "--items", optarg, 0, UINT64_MAX >> 20); break;
        case 'p': pairs = bench_parse_u64(PROG, "--pairs", optarg, 1, 255); break;
        case 'R': ring = bench_parse_u64(PROG, "--ring", optarg, 1, 1ULL << 24); break;
        case 'm': min_size = bench_parse_u64(PROG, "--min", optarg, 1, 1ULL << 31); break;
        case 'M': max_size = bench_parse_u64(PROG, "--max", optarg, 1, 1ULL << 31); break;
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
    size_t cap = 1;
    while (cap < ring)
        cap <<= 1;

    /* The ring indices sit on their own cache lines; that only holds if the
     * array itself is cache-line aligned. */
    struct pair *prs = aligned_alloc(alignof(struct pair), pairs * sizeof *prs);
    pthread_t *tids = calloc(2 * pairs, sizeof *tids);
    if (!prs || !tids)
        bench_oom(PROG, pairs * sizeof *prs);
    memset(prs, 0, pairs * sizeof *prs);
    for (unsigned i = 0; i < pairs; i++) {
        prs[i].id = i;
        prs[i].items = items / pairs + (i < items % pairs);
        prs[i].seed = seed * 0x100000001b3ULL + i;
        prs[i].ring.mask = cap - 1;
        prs[i].ring.buf = calloc(cap, sizeof(void *));
        if (!prs[i].ring.buf)
            bench_oom(PROG, cap * sizeof(void *));
        atomic_init(&prs[i].ring.head, 0);
        atomic_init(&prs[i].ring.tail, 0);
    }

    pthread_barrier_init(&start_barrier, NULL, (unsigned)(2 * pairs + 1));
    for (unsigned i = 0; i < pairs; i++) {
        int err = pthread_create(&tids[2 * i], NULL, consumer, &prs[i]);
        if (!err)
            err = pthread_create(&tids[2 * i + 1], NULL, producer, &prs[i]);
        if (err) {
            fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
            return BENCH_EXIT_USAGE;
        }
    }
    pthread_barrier_wait(&start_barrier);
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < 2 * pairs; i++)
        pthread_join(tids[i], NULL);
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    pthread_barrier_destroy(&start_barrier);

    for (unsigned i = 0; i < pairs; i++)
        free(prs[i].ring.buf);
    free(prs);
    free(tids);

    printf(PROG ": %.0f ops/s (%" PRIu64 " ops in %.3f s, %" PRIu64 " pairs, "
           "ring %zu, %zu-%zu B)\n",
           elapsed > 0 ? (double)items / elapsed : 0.0, items, elapsed, pairs,
           cap, min_size, max_size);
    bench_print_rusage();
    return 0;
}
