/* instr.c — the workloads of bench/instr.sh, which counts the instructions
 * an allocator spends per malloc+free pair under callgrind.
 *
 *   instr [--loop] PAIRS 32|32lone|mix
 *
 * 32:   PAIRS times malloc(32), store the pointer to a volatile global,
 *       free it; one other 32-byte block, allocated before the loop, stays
 *       live throughout, as in any real program, where a size class seldom
 *       empties.
 * 32lone: the same loop without that block: each free empties the size
 *       class's page (or span), and allocators that act on an empty page
 *       (mimalloc 2.x retires it) pay that at every pair.
 * mix:  rounds of 64 mallocs of sizes from 16 B to 1 KiB, then the 64 frees
 *       in a shuffled order; PAIRS is rounded up to a whole number of rounds.
 *       The sizes and the free order are a fixed pseudo-random sequence
 *       (the same in every run), computed before the measured loop so the
 *       generator is not counted.
 * --loop: the identical loop and stores without calling the allocator (a
 *       fake pointer stands in for each block), to measure what the loop
 *       itself costs.
 *
 * bench/instr.sh runs each workload with N and 2N pairs and divides the
 * difference of the counts by N, which cancels start-up and initialisation.
 * The program itself measures nothing and runs in a moment without
 * valgrind (`instr 1000 32`).  Like every bench program it calls plain
 * malloc/free: the allocator under test comes in by LD_PRELOAD.
 */
#include "bench_util.h"

#define MIX_ROUND 64               /* allocations, then frees, per round */
#define MIX_ROUNDS_DISTINCT 16     /* rounds before the sequence repeats */
#define MIX_SEQ (MIX_ROUND * MIX_ROUNDS_DISTINCT)
#define MIX_MIN 16
#define MIX_MAX 1024

/* Where the pointers escape to, so the compiler must keep every malloc and
 * free (GCC deletes a malloc/free pair whose pointer is not used). */
static void *volatile sink;
static void *slots[MIX_ROUND];

static size_t mix_size[MIX_SEQ];
static unsigned char mix_order[MIX_SEQ];

/* A stand-in block for --loop; big enough for any size of the mix. */
static char fake_block[MIX_MAX];

/* The allocator calls, or in --loop mode their stand-ins: the fake pointer
 * goes through an empty asm so that the compiler cannot fold it into the
 * stores (it costs no instruction), and the "free" only consumes it. */
#define REAL_ALLOC(n) malloc(n)
#define REAL_FREE(p) free(p)
#define FAKE_ALLOC(n) fake_alloc(n)
#define FAKE_FREE(p) __asm__ volatile("" : : "r"(p) : "memory")

static inline void *fake_alloc(size_t n)
{
    void *p = fake_block;
    __asm__ volatile("" : "+r"(p) : "r"(n));
    return p;
}

static void out_of_memory(size_t n)
{
    fprintf(stderr, "instr: malloc(%zu) returned NULL\n", n);
    exit(BENCH_EXIT_USAGE);
}

/* The two workloads, each instantiated for the allocator and for --loop. */
#define DEFINE_LOOPS(suffix, ALLOC, FREE)                                    \
    static __attribute__((noinline)) void run_32_##suffix(uint64_t pairs)    \
    {                                                                        \
        for (uint64_t i = 0; i < pairs; i++) {                               \
            void *p = ALLOC(32);                                             \
            if (__builtin_expect(p == NULL, 0))                              \
                out_of_memory(32);                                           \
            sink = p;                                                        \
            FREE(p);                                                         \
        }                                                                    \
    }                                                                        \
    static __attribute__((noinline)) void run_mix_##suffix(uint64_t rounds)  \
    {                                                                        \
        size_t base = 0;                                                     \
        for (uint64_t r = 0; r < rounds; r++) {                              \
            const size_t *sz = &mix_size[base];                              \
            const unsigned char *ord = &mix_order[base];                     \
            for (int j = 0; j < MIX_ROUND; j++) {                            \
                void *p = ALLOC(sz[j]);                                      \
                if (__builtin_expect(p == NULL, 0))                          \
                    out_of_memory(sz[j]);                                    \
                slots[j] = p;                                                \
            }                                                                \
            for (int j = 0; j < MIX_ROUND; j++)                              \
                FREE(slots[ord[j]]);                                         \
            base = (base + MIX_ROUND) % MIX_SEQ;                             \
        }                                                                    \
    }

DEFINE_LOOPS(alloc, REAL_ALLOC, REAL_FREE)
DEFINE_LOOPS(loop, FAKE_ALLOC, FAKE_FREE)

static void mix_prepare(void)
{
    bench_rng rng;
    bench_rng_seed(&rng, 0x1257);
    for (int i = 0; i < MIX_SEQ; i++)
        mix_size[i] = MIX_MIN + (size_t)(bench_rng_next(&rng) % (MIX_MAX - MIX_MIN + 1));
    /* Each round frees its 64 blocks in a Fisher-Yates shuffled order. */
    for (int r = 0; r < MIX_ROUNDS_DISTINCT; r++) {
        unsigned char *ord = &mix_order[r * MIX_ROUND];
        for (int j = 0; j < MIX_ROUND; j++)
            ord[j] = (unsigned char)j;
        for (int j = MIX_ROUND - 1; j > 0; j--) {
            int k = (int)(bench_rng_next(&rng) % (uint64_t)(j + 1));
            unsigned char t = ord[j];
            ord[j] = ord[k];
            ord[k] = t;
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: instr [--loop] PAIRS 32|32lone|mix\n");
    exit(BENCH_EXIT_USAGE);
}

int main(int argc, char **argv)
{
    int loop = 0, i = 1;
    if (i < argc && strcmp(argv[i], "--loop") == 0) {
        loop = 1;
        i++;
    }
    if (argc - i != 2)
        usage();
    char *end;
    errno = 0;
    unsigned long long pairs = strtoull(argv[i], &end, 10);
    if (errno || end == argv[i] || *end || argv[i][0] == '-')
        usage();
    const char *work = argv[i + 1];

    if (strcmp(work, "32") == 0 || strcmp(work, "32lone") == 0) {
        void *held = NULL;
        if (work[2] == '\0' && !loop && (held = malloc(32)) == NULL)
            out_of_memory(32);
        sink = held;
        if (loop)
            run_32_loop(pairs);
        else
            run_32_alloc(pairs);
        free(held);
    } else if (strcmp(work, "mix") == 0) {
        uint64_t rounds = (pairs + MIX_ROUND - 1) / MIX_ROUND;
        pairs = rounds * MIX_ROUND;
        mix_prepare();
        if (loop)
            run_mix_loop(rounds);
        else
            run_mix_alloc(rounds);
    } else {
        usage();
    }
    printf("instr: workload=%s mode=%s pairs=%llu\n", work, loop ? "loop" : "alloc", pairs);
    return 0;
}
