/* thread_churn — short-lived threads that each allocate one block and free
 * another thread's: what a thread's first malloc and its exit cost the
 * allocator (setting up and tearing down a thread cache or heap), and how
 * blocks outliving the thread that allocated them are handled.
 *
 * Each of `--rounds` rounds, the main thread creates `--threads` threads
 * and joins them.  Each thread callocs one block of `--size` bytes, checks
 * that it is zeroed, fills it with a pattern derived from the thread's
 * number, swaps it (atomic exchange) into a random slot of a shared array
 * of `--slots` slots, and verifies and frees the block it took out of the
 * slot (allocated by an earlier thread, most often one that has exited),
 * if any.  At the end the main thread verifies and frees what is left.
 *
 * The slots hold thread numbers, not pointers: the pointer each thread got
 * is recorded in a table the benchmark owns, so the thread that frees a
 * block knows its address and pattern from its own records, not from the
 * block.  A damaged pattern, or a calloc block that is not zeroed, is
 * reported and the program exits with status 2.  The result is rounds per
 * second.
 */
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench_util.h"

#define PROG "thread_churn"

static size_t block_size;
static uint32_t nslots;
static uint64_t seed;
static _Atomic uint32_t *slots;   /* 0: empty, else thread number + 1 */
static void **blocks;             /* blocks[g]: the block thread g allocated */
static atomic_uint_fast64_t swapped_out;

static inline uint64_t block_tag(uint64_t g)
{
    return bench_mix64(seed * 0x100000001b3ULL ^ (g << 8) ^ block_size);
}

static void verify_and_free(uint64_t g, const char *who)
{
    void *p = blocks[g];
    if (!bench_check(p, block_size, block_tag(g))) {
        fprintf(stderr, PROG ": pattern mismatch in the block of thread %" PRIu64
                " (block %p, %zu bytes, freed by %s): the allocator corrupted a live block\n",
                g, p, block_size, who);
        _exit(BENCH_EXIT_CORRUPT);
    }
    free(p);
}

static void *worker(void *arg)
{
    uint64_t g = (uint64_t)(uintptr_t)arg;
    bench_rng rng;
    bench_rng_seed(&rng, seed ^ (g * 0x9e3779b97f4a7c15ULL));

    unsigned char *p = calloc(1, block_size);
    if (!p)
        bench_oom(PROG, block_size);
    bench_escape(p);
    for (size_t i = 0; i < block_size; i++) {
        if (p[i]) {
            fprintf(stderr, PROG ": calloc(1, %zu) returned %p with byte %zu = 0x%02x, not zero\n",
                    block_size, (void *)p, i, p[i]);
            _exit(BENCH_EXIT_CORRUPT);
        }
    }
    bench_fill(p, block_size, block_tag(g));
    blocks[g] = p;   /* published by the release of the exchange below */
    uint32_t old = atomic_exchange_explicit(&slots[bench_rng_below(&rng, nslots)],
                                            (uint32_t)(g + 1), memory_order_acq_rel);
    if (old) {
        verify_and_free(old - 1, "a later thread");
        atomic_fetch_add_explicit(&swapped_out, 1, memory_order_relaxed);
    }
    return NULL;
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: " PROG " [--rounds N] [--threads T] [--slots N] [--size BYTES] [--seed N]\n"
            "  defaults: --rounds 500 --threads 10 --slots 1000 --size 128 --seed 1\n"
            "  Each round creates T threads; each callocs a block, swaps it into a random\n"
            "  shared slot and frees the block it found there. Reports rounds per second.\n");
    exit(status);
}

int main(int argc, char **argv)
{
    uint64_t rounds = 500;
    unsigned threads = 10;
    nslots = 1000;
    block_size = 128;
    seed = 1;
    static const struct option opts[] = {
        {"rounds", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},
        {"slots", required_argument, NULL, 'S'},
        {"size", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "n:t:S:s:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': rounds = bench_parse_u64(PROG, "--rounds", optarg, 1, 1ULL << 24); break;
        case 't': threads = (unsigned)bench_parse_u64(PROG, "--threads", optarg, 1, 1024); break;
        case 'S': nslots = (uint32_t)bench_parse_u64(PROG, "--slots", optarg, 1, 1U << 24); break;
        case 's': block_size = bench_parse_u64(PROG, "--size", optarg, 1, 1ULL << 30); break;
        case 'r': seed = bench_parse_u64(PROG, "--seed", optarg, 0, UINT64_MAX); break;
        case 'h': usage(0); break;
        default: usage(BENCH_EXIT_USAGE);
        }
    }
    if (optind != argc)
        usage(BENCH_EXIT_USAGE);
    uint64_t total = rounds * threads;
    if (total >= UINT32_MAX) {
        fprintf(stderr, PROG ": --rounds x --threads must be below 2^32\n");
        return BENCH_EXIT_USAGE;
    }

    slots = calloc(nslots, sizeof *slots);
    blocks = calloc(total, sizeof *blocks);
    pthread_t *tids = calloc(threads, sizeof *tids);
    if (!slots || !blocks || !tids)
        bench_oom(PROG, total * sizeof *blocks);

    uint64_t t0 = bench_now_ns();
    for (uint64_t r = 0; r < rounds; r++) {
        for (unsigned i = 0; i < threads; i++) {
            void *arg = (void *)(uintptr_t)(r * threads + i);
            int err;
            /* Creation can fail transiently while exited threads are being
             * reaped. */
            for (int attempt = 0; (err = pthread_create(&tids[i], NULL, worker, arg)) != 0; attempt++) {
                if (err != EAGAIN || attempt == 1000) {
                    fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
                    return BENCH_EXIT_USAGE;
                }
                sched_yield();
            }
        }
        for (unsigned i = 0; i < threads; i++)
            pthread_join(tids[i], NULL);
    }
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;

    uint64_t left = 0;
    for (uint32_t i = 0; i < nslots; i++) {
        uint32_t g = atomic_load(&slots[i]);
        if (g) {
            verify_and_free(g - 1, "the main thread");
            left++;
        }
    }
    if (left + atomic_load(&swapped_out) != total) {
        fprintf(stderr, PROG ": %" PRIu64 " blocks accounted for, %" PRIu64 " allocated\n",
                left + (uint64_t)atomic_load(&swapped_out), total);
        return BENCH_EXIT_CORRUPT;
    }
    free(tids);
    free(blocks);
    free(slots);

    printf(PROG ": %.1f rounds/s (%" PRIu64 " rounds of %u threads in %.3f s, %.1f us per thread, "
           "%zu B blocks, %u slots, %" PRIu64 " left at the end)\n",
           elapsed > 0 ? (double)rounds / elapsed : 0.0, rounds, threads, elapsed,
           elapsed * 1e6 / (double)total, block_size, nslots, left);
    bench_print_rusage();
    return 0;
}
