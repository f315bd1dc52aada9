/* handoff — producer threads allocate fixed-size blocks as fast as they
 * can and hand them, in batches, to consumer threads that verify and free
 * them: the shape of the Lever & Boreham malloc test ("xmalloc-test" in
 * mimalloc-bench), written from its description.
 *
 * Each producer allocates `--batch` blocks (4096) of `--size` bytes (64),
 * fills each with a pattern derived from its producer and sequence number,
 * puts the pointers in a batch (itself a malloc'd block of 32 KiB, also
 * freed by the consumer) and pushes the batch on a shared stack.
 * Consumers pop the newest batch, recompute every block's pattern from the
 * batch's producer and first sequence number, verify it, and free the
 * blocks and the batch.  Every block is freed by a thread other than the
 * one that allocated it.
 *
 * As in the original, the stack holds at most `--max-batches` (100)
 * batches, producers waiting above that, and it is last in, first out: the
 * batches at its bottom wait while newer ones come and go, so the blocks
 * freed are not the oldest ones, and an allocator whose owner threads do
 * not find remotely freed memory before they map new memory grows well
 * past the 26 MB that the queue itself holds.  The peak queued count and
 * the number of times the bound stopped a producer are printed.
 *
 * The run lasts `--seconds` (fractions allowed); the result is the number
 * of blocks freed before the stop, per second.  The blocks still queued at
 * the stop are verified and freed afterwards, uncounted.  A damaged
 * pattern is reported and the program exits with status 2.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bench_util.h"

#define PROG "handoff"
#define MAX_THREADS 256

struct batch {
    struct batch *next;
    unsigned producer;
    unsigned n;
    uint64_t first_seq;
    void *blocks[];
};

/* The shared stack of batches, under one mutex: a batch carries
 * thousands of blocks, so the lock is taken once per few thousand mallocs. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;   /* consumers wait here */
    pthread_cond_t not_full;    /* producers wait here at the cap */
    struct batch *head;         /* a stack: newest first */
    uint64_t batches;           /* on the stack */
    uint64_t queued;            /* blocks on the stack */
    uint64_t peak;
    uint64_t cap_waits;
    unsigned consumers_waiting, producers_waiting;
    int producers_done;
} q = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .not_empty = PTHREAD_COND_INITIALIZER,
    .not_full = PTHREAD_COND_INITIALIZER,
};

static atomic_int stop_flag;
static size_t block_size;
static unsigned batch_len;
static uint64_t cap, seed;
static pthread_barrier_t start_barrier;

struct worker {
    pthread_t t;
    unsigned id;
    uint64_t count;     /* blocks allocated (producer) or freed before the stop */
};

static inline uint64_t block_tag(unsigned producer, uint64_t seq)
{
    return bench_mix64(seed ^ ((uint64_t)producer << 52) ^ (seq * 0x9e3779b97f4a7c15ULL));
}

static void *producer(void *arg)
{
    struct worker *w = arg;
    uint64_t seq = 0;
    size_t bsize = sizeof(struct batch) + batch_len * sizeof(void *);

    pthread_barrier_wait(&start_barrier);
    while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        struct batch *b = malloc(bsize);
        if (!b)
            bench_oom(PROG, bsize);
        b->next = NULL;
        b->producer = w->id;
        b->n = batch_len;
        b->first_seq = seq;
        for (unsigned i = 0; i < batch_len; i++) {
            void *p = malloc(block_size);
            if (!p)
                bench_oom(PROG, block_size);
            bench_escape(p);
            bench_fill(p, block_size, block_tag(w->id, seq + i));
            b->blocks[i] = p;
        }
        seq += batch_len;

        pthread_mutex_lock(&q.lock);
        if (q.batches >= cap && !atomic_load(&stop_flag)) {
            q.cap_waits++;
            q.producers_waiting++;
            while (q.batches >= cap && !atomic_load(&stop_flag))
                pthread_cond_wait(&q.not_full, &q.lock);
            q.producers_waiting--;
        }
        /* Pushed even after the stop: the drain frees it. */
        b->next = q.head;
        q.head = b;
        q.batches++;
        q.queued += b->n;
        if (q.queued > q.peak)
            q.peak = q.queued;
        if (q.consumers_waiting)
            pthread_cond_signal(&q.not_empty);
        pthread_mutex_unlock(&q.lock);
    }
    w->count = seq;
    return NULL;
}

static void *consumer(void *arg)
{
    struct worker *w = arg;
    uint64_t freed = 0;

    pthread_barrier_wait(&start_barrier);
    for (;;) {
        pthread_mutex_lock(&q.lock);
        while (!q.head && !q.producers_done) {
            q.consumers_waiting++;
            pthread_cond_wait(&q.not_empty, &q.lock);
            q.consumers_waiting--;
        }
        struct batch *b = q.head;
        if (!b) {                       /* producers gone, stack empty */
            pthread_mutex_unlock(&q.lock);
            break;
        }
        q.head = b->next;
        q.batches--;
        q.queued -= b->n;
        if (q.producers_waiting && q.batches < cap)
            pthread_cond_broadcast(&q.not_full);
        pthread_mutex_unlock(&q.lock);

        for (unsigned i = 0; i < b->n; i++) {
            void *p = b->blocks[i];
            uint64_t seq = b->first_seq + i;
            if (!bench_check(p, block_size, block_tag(b->producer, seq))) {
                fprintf(stderr, PROG ": pattern mismatch in block %" PRIu64 " of producer %u "
                        "(block %p, %zu bytes): the allocator corrupted a block in flight\n",
                        seq, b->producer, p, block_size);
                _exit(BENCH_EXIT_CORRUPT);
            }
            free(p);
        }
        unsigned n = b->n;
        free(b);
        if (!atomic_load_explicit(&stop_flag, memory_order_relaxed))
            freed += n;
    }
    w->count = freed;
    return NULL;
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: " PROG " [--seconds S] [--producers P] [--consumers C] [--size BYTES]\n"
            "               [--batch N] [--max-batches N] [--seed N]\n"
            "  defaults: --seconds 5 --producers 2 --consumers 2 --size 64 --batch 4096\n"
            "            --max-batches 100 --seed 1\n"
            "  Producers allocate and fill blocks and push them in batches of N on a\n"
            "  stack of at most --max-batches batches (producers wait above it);\n"
            "  consumers pop the newest batch, verify and free its blocks. Reports\n"
            "  blocks freed per second and the peak number of blocks queued.\n");
    exit(status);
}

static int start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    int err = pthread_create(t, NULL, fn, arg);
    if (err) {
        fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
        exit(BENCH_EXIT_USAGE);
    }
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = 5.0;
    unsigned producers = 2, consumers = 2;
    block_size = 64;
    batch_len = 4096;
    cap = 100;
    seed = 1;
    static const struct option opts[] = {
        {"seconds", required_argument, NULL, 't'},
        {"producers", required_argument, NULL, 'p'},
        {"consumers", required_argument, NULL, 'c'},
        {"size", required_argument, NULL, 's'},
        {"batch", required_argument, NULL, 'b'},
        {"max-batches", required_argument, NULL, 'C'},
        {"seed", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "t:p:c:s:b:C:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': seconds = bench_parse_double(PROG, "--seconds", optarg, 0.0, 86400.0); break;
        case 'p': producers = (unsigned)bench_parse_u64(PROG, "--producers", optarg, 1, MAX_THREADS); break;
        case 'c': consumers = (unsigned)bench_parse_u64(PROG, "--consumers", optarg, 1, MAX_THREADS); break;
        case 's': block_size = bench_parse_u64(PROG, "--size", optarg, 1, 1ULL << 30); break;
        case 'b': batch_len = (unsigned)bench_parse_u64(PROG, "--batch", optarg, 1, 1U << 20); break;
        case 'C': cap = bench_parse_u64(PROG, "--max-batches", optarg, 1, UINT64_MAX >> 1); break;
        case 'r': seed = bench_parse_u64(PROG, "--seed", optarg, 0, UINT64_MAX); break;
        case 'h': usage(0); break;
        default: usage(BENCH_EXIT_USAGE);
        }
    }
    if (optind != argc)
        usage(BENCH_EXIT_USAGE);

    struct worker *ws = calloc(producers + consumers, sizeof *ws);
    if (!ws)
        bench_oom(PROG, (producers + consumers) * sizeof *ws);
    pthread_barrier_init(&start_barrier, NULL, producers + consumers + 1);
    for (unsigned i = 0; i < consumers; i++) {
        ws[producers + i].id = i;
        start(&ws[producers + i].t, consumer, &ws[producers + i]);
    }
    for (unsigned i = 0; i < producers; i++) {
        ws[i].id = i;
        start(&ws[i].t, producer, &ws[i]);
    }

    pthread_barrier_wait(&start_barrier);
    uint64_t t0 = bench_now_ns();
    struct timespec nap = {
        .tv_sec = (time_t)seconds,
        .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9),
    };
    while (nanosleep(&nap, &nap) != 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&q.lock);
    atomic_store(&stop_flag, 1);
    pthread_cond_broadcast(&q.not_full);
    pthread_mutex_unlock(&q.lock);
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;

    uint64_t allocated = 0, freed = 0;
    for (unsigned i = 0; i < producers; i++) {
        pthread_join(ws[i].t, NULL);
        allocated += ws[i].count;
    }
    pthread_mutex_lock(&q.lock);
    q.producers_done = 1;
    uint64_t left = q.queued;
    pthread_cond_broadcast(&q.not_empty);
    pthread_mutex_unlock(&q.lock);
    for (unsigned i = 0; i < consumers; i++) {
        pthread_join(ws[producers + i].t, NULL);
        freed += ws[producers + i].count;
    }
    pthread_barrier_destroy(&start_barrier);
    free(ws);

    printf(PROG ": %.0f blocks/s (%" PRIu64 " blocks freed in %.3f s, %" PRIu64 " allocated, "
           "%u producers, %u consumers, %zu B, batch %u, peak queued %" PRIu64 " blocks, "
           "%" PRIu64 " left when the producers stopped, bound %" PRIu64 " batches reached %" PRIu64 " times)\n",
           elapsed > 0 ? (double)freed / elapsed : 0.0, freed, elapsed, allocated,
           producers, consumers, block_size, batch_len, q.peak, left, cap, q.cap_waits);
    bench_print_rusage();
    return 0;
}
