/* random_mixed — single-threaded churn over a fixed working set, for
 * measuring an allocator's fast paths without thread effects.
 *
 * N slots hold live blocks of random sizes.  Each step picks a random slot,
 * verifies and frees its block, and allocates a new random-size block into
 * it.  Sizes are drawn uniformly from a range (default 16-1024 B), so every
 * small size class is hit in random order and blocks of different classes
 * are freed interleaved, unlike a loop that frees what it just allocated.
 * One op is one step (a free plus a malloc).  A damaged fill pattern is
 * reported and the program exits with status 2.
 */
#include <getopt.h>

#include "bench_util.h"

#define PROG "random_mixed"

struct slot {
    void *p;
    size_t size;
};

static inline uint64_t block_tag(size_t slot, size_t size)
{
    return bench_mix64(((uint64_t)slot << 32) ^ size ^ 0x72616e64ULL);
}

static void check_slot(const struct slot *s, size_t i)
{
    if (!bench_check(s->p, s->size, block_tag(i, s->size))) {
        fprintf(stderr, PROG ": pattern mismatch in slot %zu (block %p, %zu bytes): "
                "the allocator corrupted a live block or handed it out twice\n",
                i, s->p, s->size);
        exit(BENCH_EXIT_CORRUPT);
    }
}

/* A block of random size in [min, min + range) for slot i, filled. */
static inline struct slot new_slot(bench_rng *rng, size_t i, size_t min, uint32_t range)
{
    size_t size = min + bench_rng_below(rng, range);
    void *p = malloc(size);
    if (!p)
        bench_oom(PROG, size);
    bench_escape(p);
    bench_fill(p, size, block_tag(i, size));
    return (struct slot){p, size};
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: " PROG " [--slots N] [--min BYTES] [--max BYTES] [--steps N] [--seed N]\n"
            "  defaults: --slots 8192 --min 16 --max 1024 --steps 10000000 --seed 1\n");
    exit(status);
}

int main(int argc, char **argv)
{
    uint64_t nslots = 8192, min = 16, max = 1024, steps = 10000000, seed = 1;
    static const struct option opts[] = {
        {"slots", required_argument, NULL, 'n'},
        {"min", required_argument, NULL, 'm'},
        {"max", required_argument, NULL, 'M'},
        {"steps", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "n:m:M:s:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': nslots = bench_parse_u64(PROG, "--slots", optarg, 1, 1ULL << 28); break;
        case 'm': min = bench_parse_u64(PROG, "--min", optarg, 1, 1ULL << 31); break;
        case 'M': max = bench_parse_u64(PROG, "--max", optarg, 1, 1ULL << 31); break;
        case 's': steps = bench_parse_u64(PROG, "--steps", optarg, 0, UINT64_MAX); break;
        case 'r': seed = bench_parse_u64(PROG, "--seed", optarg, 0, UINT64_MAX); break;
        case 'h': usage(0); break;
        default: usage(BENCH_EXIT_USAGE);
        }
    }
    if (optind != argc)
        usage(BENCH_EXIT_USAGE);
    if (min > max) {
        fprintf(stderr, PROG ": --min %" PRIu64 " exceeds --max %" PRIu64 "\n", min, max);
        return BENCH_EXIT_USAGE;
    }

    struct slot *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        bench_oom(PROG, nslots * sizeof *slots);
    bench_rng rng;
    bench_rng_seed(&rng, seed);
    uint32_t range = (uint32_t)(max - min + 1);

    /* Populate the working set first so the timed loop is pure churn. */
    for (size_t i = 0; i < nslots; i++)
        slots[i] = new_slot(&rng, i, min, range);

    uint64_t t0 = bench_now_ns();
    for (uint64_t step = 0; step < steps; step++) {
        size_t i = bench_rng_below(&rng, (uint32_t)nslots);
        struct slot *s = &slots[i];
        check_slot(s, i);
        bench_escape(s->p);
        free(s->p);
        *s = new_slot(&rng, i, min, range);
    }
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;

    for (size_t i = 0; i < nslots; i++) {
        check_slot(&slots[i], i);
        free(slots[i].p);
    }
    free(slots);

    printf(PROG ": %.0f ops/s (%" PRIu64 " ops in %.3f s, %" PRIu64 " slots, "
           "%" PRIu64 "-%" PRIu64 " B)\n",
           elapsed > 0 ? (double)steps / elapsed : 0.0, steps, elapsed, nslots,
           min, max);
    bench_print_rusage();
    return 0;
}
