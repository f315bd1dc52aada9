/* mstress — threads re-created every round under load, with blocks of every
 * size class outliving the threads that allocated them: the shape of
 * mimalloc-bench's "mstress" and of tests/stress.c, written as a benchmark
 * (plain malloc/free, injected by LD_PRELOAD, timed).
 *
 * Each of `--rounds` rounds starts `--threads` fresh threads and joins
 * them.  Each thread does `--ops` random operations on a private table of
 * `--local` blocks: allocate into a slot (freeing what was there), free a
 * slot, or trade: allocate a block and swap it into a random slot of an
 * array of `--shared` slots shared by all threads and rounds, keeping or
 * freeing what it gets back.  When a thread ends, half of its blocks are
 * freed and half go to the shared array; when a round ends, the main thread
 * frees half of the shared blocks and the others survive into the next
 * round, to be freed by threads that did not exist when they were
 * allocated.
 *
 * Sizes cover every layer of an allocator: 89 % small (8 B-1 KiB), 10 %
 * mid (1-256 KiB, the same number in each power of two), 1 % large
 * (256 KiB-4 MiB).  Blocks up to 4 KiB are filled and checked entirely,
 * larger ones one word per page (what touching a buffer means for page
 * faults).  A block's address, size and pattern travel with it in the
 * benchmark's own records (the shared slots are swapped under a tiny spin
 * lock), so the thread that frees a block checks it against what the
 * allocating thread recorded, not against the block.  A damaged pattern
 * exits with status 2.  The result is the total time of the rounds.
 */
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench_util.h"

#define PROG "mstress"
#define PAGE 4096
#define FULL_CHECK_MAX 4096

struct item {
    void *p;
    size_t size;
    uint64_t tag;
};

struct shared_slot {
    atomic_flag lock;
    struct item it;
};

static struct shared_slot *shared;
static uint32_t nshared, nlocal;
static uint64_t ops_per_thread, seed;

static void fill_item(const struct item *it)
{
    if (it->size <= FULL_CHECK_MAX)
        bench_fill(it->p, it->size, it->tag);
    else
        bench_touch_pages(it->p, it->size, PAGE, it->tag);
}

static void free_item(struct item *it)
{
    if (!it->p)
        return;
    int ok = it->size <= FULL_CHECK_MAX ? bench_check(it->p, it->size, it->tag)
                                        : bench_check_pages(it->p, it->size, PAGE, it->tag);
    if (!ok) {
        fprintf(stderr, PROG ": pattern mismatch (block %p, %zu bytes): the allocator "
                "corrupted a live block\n", it->p, it->size);
        _exit(BENCH_EXIT_CORRUPT);
    }
    free(it->p);
    it->p = NULL;
}

static size_t random_size(bench_rng *r)
{
    uint32_t k = bench_rng_below(r, 100);
    if (k == 0)                                       /* 1 %: 256 KiB .. 4 MiB */
        return (256u << 10) + 1 + bench_rng_below(r, (4u << 20) - (256u << 10));
    if (k <= 10) {                                    /* 10 %: 1 .. 256 KiB */
        unsigned bits = 10 + bench_rng_below(r, 8);   /* 2^10 .. 2^17 */
        return ((size_t)1 << bits) + 1 + bench_rng_below(r, 1u << bits);
    }
    return 8 + bench_rng_below(r, 1024 - 8 + 1);      /* 89 %: 8 B .. 1 KiB */
}

static void new_item(struct item *it, bench_rng *r, uint64_t id)
{
    it->size = random_size(r);
    it->p = malloc(it->size);
    if (!it->p)
        bench_oom(PROG, it->size);
    bench_escape(it->p);
    it->tag = bench_mix64(seed ^ (id * 0x9e3779b97f4a7c15ULL) ^ it->size);
    fill_item(it);
}

/* Swaps `*it` with shared slot i. */
static void swap_shared(uint32_t i, struct item *it)
{
    struct shared_slot *s = &shared[i];
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire))
        sched_yield();
    struct item t = s->it;
    s->it = *it;
    atomic_flag_clear_explicit(&s->lock, memory_order_release);
    *it = t;
}

struct worker {
    pthread_t t;
    uint64_t round, index;
    struct item *local;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    bench_rng rng;
    bench_rng_seed(&rng, seed ^ (w->round << 20) ^ w->index);
    /* Unique block ids: round, thread, op. */
    uint64_t id = ((w->round << 12) + w->index) * (ops_per_thread + nlocal + 1);
    struct item *local = w->local;
    memset(local, 0, nlocal * sizeof *local);

    for (uint64_t op = 0; op < ops_per_thread; op++) {
        uint32_t r = bench_rng_below(&rng, 100);
        uint32_t i = bench_rng_below(&rng, nlocal);
        if (r < 50) {                   /* allocate, replacing a block */
            free_item(&local[i]);
            new_item(&local[i], &rng, id++);
        } else if (r < 70) {            /* free */
            free_item(&local[i]);
        } else {                        /* trade with another thread or round */
            struct item it;
            new_item(&it, &rng, id++);
            swap_shared(bench_rng_below(&rng, nshared), &it);
            if (it.p && bench_rng_below(&rng, 2)) {
                free_item(&local[i]);
                local[i] = it;          /* keep it: freed later, here or elsewhere */
            } else {
                free_item(&it);
            }
        }
    }
    /* Half of what is left is freed here, half goes on to others. */
    for (uint32_t i = 0; i < nlocal; i++) {
        if (!local[i].p)
            continue;
        if (bench_rng_below(&rng, 2)) {
            free_item(&local[i]);
        } else {
            swap_shared(bench_rng_below(&rng, nshared), &local[i]);
            free_item(&local[i]);
        }
    }
    return NULL;
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: " PROG " [--threads T] [--rounds N] [--ops N] [--local N] [--shared N] [--seed N]\n"
            "  defaults: --threads 2 --rounds 25 --ops 150000 --local 256 --shared 4096 --seed 1\n"
            "  Each round starts T threads doing --ops random operations each (allocate,\n"
            "  free, trade through the shared array) on 8 B-4 MiB blocks; half of the\n"
            "  blocks survive each round. Reports the total time of the rounds.\n");
    exit(status);
}

int main(int argc, char **argv)
{
    unsigned threads = 2;
    uint64_t rounds = 25;
    ops_per_thread = 150000;
    nlocal = 256;
    nshared = 4096;
    seed = 1;
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 't'},
        {"rounds", required_argument, NULL, 'n'},
        {"ops", required_argument, NULL, 'o'},
        {"local", required_argument, NULL, 'l'},
        {"shared", required_argument, NULL, 'S'},
        {"seed", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "t:n:o:l:S:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': threads = (unsigned)bench_parse_u64(PROG, "--threads", optarg, 1, 4095); break;
        case 'n': rounds = bench_parse_u64(PROG, "--rounds", optarg, 1, 1ULL << 20); break;
        case 'o': ops_per_thread = bench_parse_u64(PROG, "--ops", optarg, 0, 1ULL << 30); break;
        case 'l': nlocal = (uint32_t)bench_parse_u64(PROG, "--local", optarg, 1, 1U << 24); break;
        case 'S': nshared = (uint32_t)bench_parse_u64(PROG, "--shared", optarg, 1, 1U << 24); break;
        case 'r': seed = bench_parse_u64(PROG, "--seed", optarg, 0, UINT64_MAX); break;
        case 'h': usage(0); break;
        default: usage(BENCH_EXIT_USAGE);
        }
    }
    if (optind != argc)
        usage(BENCH_EXIT_USAGE);

    shared = calloc(nshared, sizeof *shared);
    struct worker *ws = calloc(threads, sizeof *ws);
    if (!shared || !ws)
        bench_oom(PROG, nshared * sizeof *shared);
    for (uint32_t i = 0; i < nshared; i++)
        atomic_flag_clear(&shared[i].lock);
    for (unsigned i = 0; i < threads; i++) {
        ws[i].local = calloc(nlocal, sizeof(struct item));
        if (!ws[i].local)
            bench_oom(PROG, nlocal * sizeof(struct item));
    }
    bench_rng main_rng;
    bench_rng_seed(&main_rng, seed ^ 0x6d61696eULL);

    uint64_t carried = 0, t0 = bench_now_ns();
    for (uint64_t r = 0; r < rounds; r++) {
        for (unsigned i = 0; i < threads; i++) {
            ws[i].round = r;
            ws[i].index = i;
            int err;
            for (int attempt = 0; (err = pthread_create(&ws[i].t, NULL, work, &ws[i])) != 0; attempt++) {
                if (err != EAGAIN || attempt == 1000) {
                    fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
                    return BENCH_EXIT_USAGE;
                }
                sched_yield();
            }
        }
        for (unsigned i = 0; i < threads; i++)
            pthread_join(ws[i].t, NULL);
        /* Half of the shared blocks go on into the next round. */
        carried = 0;
        for (uint32_t i = 0; i < nshared; i++) {
            if (!shared[i].it.p)
                continue;
            if (bench_rng_below(&main_rng, 2))
                free_item(&shared[i].it);
            else
                carried++;
        }
    }
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;

    for (uint32_t i = 0; i < nshared; i++)
        free_item(&shared[i].it);
    for (unsigned i = 0; i < threads; i++)
        free(ws[i].local);
    free(ws);
    free(shared);

    printf(PROG ": %.3f s (%" PRIu64 " rounds of %u threads, %" PRIu64 " ops per thread, "
           "%.2f M ops/s, %" PRIu64 " shared blocks carried out of the last round)\n",
           elapsed, rounds, threads, ops_per_thread,
           elapsed > 0 ? (double)(rounds * threads * ops_per_thread) / elapsed / 1e6 : 0.0, carried);
    bench_print_rusage();
    return 0;
}
