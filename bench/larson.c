/* larson — the server workload of Larson & Krishnan ("Memory Allocation for
 * Long-Running Server Applications", ISMM 1998), written from the paper's
 * description for benchmarking malloc implementations under LD_PRELOAD.
 *
 * Each thread owns an array of slots holding live blocks.  It repeatedly
 * picks a random slot, frees the block there and allocates a block of random
 * size into it.  After a generation of work it starts a fresh thread, hands
 * it the array and exits: the blocks the new thread frees were allocated by
 * its predecessor, so every free is potentially a remote free, and threads
 * come and go the way they do in a server's worker pool.  The main thread
 * allocates the initial blocks, so the very first frees cross threads too.
 *
 *   larson seconds min_size max_size chunks_per_thread rounds seed threads
 *
 * A generation is `rounds` passes' worth of replacements (rounds x chunks).
 * One op is one replacement: a free followed by a malloc.  Every block is
 * marked (its first and last words, from its array, slot and size) when it
 * is allocated and the mark verified just before it is freed; damage is
 * reported and the program exits with status 2.  The original writes two
 * bytes of each block: filling whole blocks made the benchmark's own
 * memset and memcmp three quarters of the run, and hid the allocators'
 * differences.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench_util.h"

#define PROG "larson"
#define MAX_THREADS 1024

struct slot {
    void *p;
    size_t size;
};

struct arena {
    unsigned id;
    struct slot *slots;
    size_t nslots;
    bench_rng rng;
    uint64_t ops;           /* replacements done by all generations */
    uint64_t generations;
};

static size_t min_size, max_size;
static uint64_t ops_per_generation;
static atomic_int stop_flag;
static pthread_attr_t detached_attr;

/* The main thread waits here for every arena's last generation. */
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static unsigned arenas_done;

static inline uint64_t block_tag(const struct arena *a, size_t slot, size_t size)
{
    return bench_mix64(((uint64_t)a->id << 48) ^ ((uint64_t)slot << 24) ^ size);
}

static inline size_t random_size(bench_rng *r)
{
    return min_size + bench_rng_below(r, (uint32_t)(max_size - min_size + 1));
}

static void fill_slot(struct arena *a, size_t i, size_t size)
{
    void *p = malloc(size);
    if (!p)
        bench_oom(PROG, size);
    bench_escape(p);
    bench_mark(p, size, block_tag(a, i, size));
    a->slots[i].p = p;
    a->slots[i].size = size;
}

static void release_slot(struct arena *a, size_t i)
{
    struct slot *s = &a->slots[i];
    if (!bench_mark_ok(s->p, s->size, block_tag(a, i, s->size))) {
        fprintf(stderr, PROG ": pattern mismatch in thread array %u slot %zu "
                "(block %p, %zu bytes): the allocator corrupted a live block\n",
                a->id, i, s->p, s->size);
        _exit(BENCH_EXIT_CORRUPT);
    }
    bench_escape(s->p);
    free(s->p);
    s->p = NULL;
}

static void *worker(void *arg);

static void start_generation(struct arena *a)
{
    pthread_t t;
    int err;
    /* Thread creation can fail transiently while exited threads are still
     * being reaped; give the system a moment before calling it fatal. */
    for (int attempt = 0; (err = pthread_create(&t, &detached_attr, worker, a)) != 0; attempt++) {
        if (err != EAGAIN || attempt == 1000) {
            fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
            exit(BENCH_EXIT_USAGE);
        }
        sched_yield();
    }
}

static void *worker(void *arg)
{
    struct arena *a = arg;
    bench_rng rng = a->rng;   /* a local copy stays in registers */
    uint64_t n = 0;

    while (n < ops_per_generation &&
           !atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        size_t i = bench_rng_below(&rng, (uint32_t)a->nslots);
        release_slot(a, i);
        fill_slot(a, i, random_size(&rng));
        n++;
    }
    a->rng = rng;
    a->ops += n;
    a->generations++;

    if (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        start_generation(a);   /* the successor owns `a` from here on */
    } else {
        pthread_mutex_lock(&done_lock);
        arenas_done++;
        pthread_cond_signal(&done_cond);
        pthread_mutex_unlock(&done_lock);
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: " PROG " seconds min_size max_size chunks_per_thread rounds seed threads\n"
            "  e.g. " PROG " 5 8 1000 5000 100 4141 2   (the customary setting)\n"
            "  A thread does rounds x chunks_per_thread free+malloc replacements,\n"
            "  then hands its array to a new thread. One op = one replacement.\n");
    exit(BENCH_EXIT_USAGE);
}

int main(int argc, char **argv)
{
    if (argc != 8)
        usage();
    double seconds = bench_parse_double(PROG, "seconds", argv[1], 0.0, 86400.0);
    min_size = bench_parse_u64(PROG, "min_size", argv[2], 1, 1ULL << 31);
    max_size = bench_parse_u64(PROG, "max_size", argv[3], min_size, 1ULL << 31);
    size_t chunks = bench_parse_u64(PROG, "chunks_per_thread", argv[4], 1, 1ULL << 26);
    uint64_t rounds = bench_parse_u64(PROG, "rounds", argv[5], 1, 1ULL << 32);
    uint64_t seed = bench_parse_u64(PROG, "seed", argv[6], 0, UINT64_MAX);
    unsigned threads = (unsigned)bench_parse_u64(PROG, "threads", argv[7], 1, MAX_THREADS);
    ops_per_generation = rounds * chunks;

    pthread_attr_init(&detached_attr);
    pthread_attr_setdetachstate(&detached_attr, PTHREAD_CREATE_DETACHED);

    struct arena *arenas = calloc(threads, sizeof *arenas);
    if (!arenas)
        bench_oom(PROG, threads * sizeof *arenas);
    for (unsigned t = 0; t < threads; t++) {
        struct arena *a = &arenas[t];
        a->id = t;
        a->nslots = chunks;
        a->slots = calloc(chunks, sizeof *a->slots);
        if (!a->slots)
            bench_oom(PROG, chunks * sizeof *a->slots);
        bench_rng_seed(&a->rng, seed * 0x100000001b3ULL + t);
        for (size_t i = 0; i < chunks; i++)
            fill_slot(a, i, random_size(&a->rng));
    }

    uint64_t t0 = bench_now_ns();
    for (unsigned t = 0; t < threads; t++)
        start_generation(&arenas[t]);

    struct timespec nap = {
        .tv_sec = (time_t)seconds,
        .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9),
    };
    while (nanosleep(&nap, &nap) != 0 && errno == EINTR)
        ;
    atomic_store(&stop_flag, 1);

    pthread_mutex_lock(&done_lock);
    while (arenas_done < threads)
        pthread_cond_wait(&done_cond, &done_lock);
    pthread_mutex_unlock(&done_lock);
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;

    uint64_t ops = 0, generations = 0;
    for (unsigned t = 0; t < threads; t++) {
        struct arena *a = &arenas[t];
        ops += a->ops;
        generations += a->generations;
        for (size_t i = 0; i < a->nslots; i++)
            release_slot(a, i);
        free(a->slots);
    }
    free(arenas);
    pthread_attr_destroy(&detached_attr);

    printf(PROG ": %.0f ops/s (%" PRIu64 " ops in %.3f s, %u threads, "
           "%" PRIu64 " thread generations)\n",
           elapsed > 0 ? (double)ops / elapsed : 0.0, ops, elapsed, threads,
           generations);
    bench_print_rusage();
    return 0;
}
