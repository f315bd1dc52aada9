// larson_sized — bench/larson.c's server workload in C++, through the
// replaceable global operators: blocks come from ::operator new(n) and go
// back through the sized ::operator delete(p, n) (C++14), the way the code
// a C++ compiler emits for new/delete of known types reaches the allocator.
// The shape of mimalloc-bench's "larson-sized".
//
//   larson_sized seconds min_size max_size chunks_per_thread rounds seed threads
//   larson_sized [--seconds S] [--min B] [--max B] [--chunks N] [--rounds N]
//                [--seed N] [--threads T]
//
// The positional form is larson's; the options default to 10 s, 8-1000 B,
// 1000 blocks per thread, 100 rounds, seed 4141 and 2 threads.  Each thread
// owns an array of slots; it repeatedly frees the block of a random slot
// and allocates a block of random size into it.  After rounds x chunks
// replacements it starts a fresh thread, hands it the array and exits, so
// frees cross threads and threads churn.  One op is one replacement (a
// sized delete and a new).  Every block is marked (first and last words,
// from its array, slot and size; larson.c says why not more) and the mark
// verified before it is deleted; damage exits with status 2.  The report line has larson's shape:
//   larson-sized: N ops/s (...)
//
// Under LD_PRELOAD of a malloc-only allocator, libstdc++'s operators call
// malloc and free (the sized delete drops the size); an allocator that
// defines the C++ operators itself gets the size.
#include <getopt.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <new>

#include "bench_util.h"

#define PROG "larson-sized"
#define MAX_THREADS 1024

namespace {

struct slot {
    void *p;
    size_t size;
};

struct arena {
    unsigned id;
    slot *slots;
    size_t nslots;
    bench_rng rng;
    uint64_t ops;
    uint64_t generations;
};

size_t min_size, max_size;
uint64_t ops_per_generation;
std::atomic<int> stop_flag{0};
pthread_attr_t detached_attr;

pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
unsigned arenas_done;

inline uint64_t block_tag(const arena *a, size_t slot, size_t size)
{
    return bench_mix64((static_cast<uint64_t>(a->id) << 48) ^ (static_cast<uint64_t>(slot) << 24) ^ size);
}

inline size_t random_size(bench_rng *r)
{
    return min_size + bench_rng_below(r, static_cast<uint32_t>(max_size - min_size + 1));
}

void fill_slot(arena *a, size_t i, size_t size)
{
    void *p;
    try {
        p = ::operator new(size);
    } catch (const std::bad_alloc &) {
        bench_oom(PROG, size);
    }
    bench_escape(p);
    bench_mark(p, size, block_tag(a, i, size));
    a->slots[i].p = p;
    a->slots[i].size = size;
}

void release_slot(arena *a, size_t i)
{
    slot *s = &a->slots[i];
    if (!bench_mark_ok(s->p, s->size, block_tag(a, i, s->size))) {
        fprintf(stderr, PROG ": pattern mismatch in thread array %u slot %zu "
                "(block %p, %zu bytes): the allocator corrupted a live block\n",
                a->id, i, s->p, s->size);
        _exit(BENCH_EXIT_CORRUPT);
    }
    bench_escape(s->p);
    ::operator delete(s->p, s->size);
    s->p = nullptr;
}

void *worker(void *arg);

void start_generation(arena *a)
{
    pthread_t t;
    int err;
    for (int attempt = 0; (err = pthread_create(&t, &detached_attr, worker, a)) != 0; attempt++) {
        if (err != EAGAIN || attempt == 1000) {
            fprintf(stderr, PROG ": pthread_create: %s\n", strerror(err));
            exit(BENCH_EXIT_USAGE);
        }
        sched_yield();
    }
}

void *worker(void *arg)
{
    arena *a = static_cast<arena *>(arg);
    bench_rng rng = a->rng;
    uint64_t n = 0;

    while (n < ops_per_generation && !stop_flag.load(std::memory_order_relaxed)) {
        size_t i = bench_rng_below(&rng, static_cast<uint32_t>(a->nslots));
        release_slot(a, i);
        fill_slot(a, i, random_size(&rng));
        n++;
    }
    a->rng = rng;
    a->ops += n;
    a->generations++;

    if (!stop_flag.load(std::memory_order_relaxed)) {
        start_generation(a);
    } else {
        pthread_mutex_lock(&done_lock);
        arenas_done++;
        pthread_cond_signal(&done_cond);
        pthread_mutex_unlock(&done_lock);
    }
    return nullptr;
}

[[noreturn]] void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: " PROG " seconds min_size max_size chunks_per_thread rounds seed threads\n"
            "       " PROG " [--seconds S] [--min B] [--max B] [--chunks N] [--rounds N]\n"
            "                    [--seed N] [--threads T]\n"
            "  defaults: --seconds 10 --min 8 --max 1000 --chunks 1000 --rounds 100\n"
            "            --seed 4141 --threads 2\n"
            "  larson's workload through ::operator new and the sized ::operator delete.\n"
            "  One op = one replacement (delete + new).\n");
    exit(status);
}

} // namespace

int main(int argc, char **argv)
{
    double seconds = 10.0;
    min_size = 8;
    max_size = 1000;
    size_t chunks = 1000;
    uint64_t rounds = 100, seed = 4141;
    unsigned threads = 2;

    if (argc > 1 && argv[1][0] != '-') {
        if (argc != 8)
            usage(BENCH_EXIT_USAGE);
        seconds = bench_parse_double(PROG, "seconds", argv[1], 0.0, 86400.0);
        min_size = bench_parse_u64(PROG, "min_size", argv[2], 1, 1ULL << 31);
        max_size = bench_parse_u64(PROG, "max_size", argv[3], 1, 1ULL << 31);
        chunks = bench_parse_u64(PROG, "chunks_per_thread", argv[4], 1, 1ULL << 26);
        rounds = bench_parse_u64(PROG, "rounds", argv[5], 1, 1ULL << 32);
        seed = bench_parse_u64(PROG, "seed", argv[6], 0, UINT64_MAX);
        threads = static_cast<unsigned>(bench_parse_u64(PROG, "threads", argv[7], 1, MAX_THREADS));
    } else {
        static const struct option opts[] = {
            {"seconds", required_argument, nullptr, 't'},
            {"min", required_argument, nullptr, 'm'},
            {"max", required_argument, nullptr, 'M'},
            {"chunks", required_argument, nullptr, 'c'},
            {"rounds", required_argument, nullptr, 'n'},
            {"seed", required_argument, nullptr, 'r'},
            {"threads", required_argument, nullptr, 'T'},
            {"help", no_argument, nullptr, 'h'},
            {nullptr, 0, nullptr, 0},
        };
        int c;
        while ((c = getopt_long(argc, argv, "t:m:M:c:n:r:T:h", opts, nullptr)) != -1) {
            switch (c) {
            case 't': seconds = bench_parse_double(PROG, "--seconds", optarg, 0.0, 86400.0); break;
            case 'm': min_size = bench_parse_u64(PROG, "--min", optarg, 1, 1ULL << 31); break;
            case 'M': max_size = bench_parse_u64(PROG, "--max", optarg, 1, 1ULL << 31); break;
            case 'c': chunks = bench_parse_u64(PROG, "--chunks", optarg, 1, 1ULL << 26); break;
            case 'n': rounds = bench_parse_u64(PROG, "--rounds", optarg, 1, 1ULL << 32); break;
            case 'r': seed = bench_parse_u64(PROG, "--seed", optarg, 0, UINT64_MAX); break;
            case 'T': threads = static_cast<unsigned>(bench_parse_u64(PROG, "--threads", optarg, 1, MAX_THREADS)); break;
            case 'h': usage(0);
            default: usage(BENCH_EXIT_USAGE);
            }
        }
        if (optind != argc)
            usage(BENCH_EXIT_USAGE);
    }
    if (min_size > max_size) {
        fprintf(stderr, PROG ": min_size %zu exceeds max_size %zu\n", min_size, max_size);
        return BENCH_EXIT_USAGE;
    }
    ops_per_generation = rounds * chunks;

    pthread_attr_init(&detached_attr);
    pthread_attr_setdetachstate(&detached_attr, PTHREAD_CREATE_DETACHED);

    // The benchmark's own bookkeeping goes through malloc, as in larson.
    arena *arenas = static_cast<arena *>(calloc(threads, sizeof *arenas));
    if (!arenas)
        bench_oom(PROG, threads * sizeof *arenas);
    for (unsigned t = 0; t < threads; t++) {
        arena *a = &arenas[t];
        a->id = t;
        a->nslots = chunks;
        a->slots = static_cast<slot *>(calloc(chunks, sizeof *a->slots));
        if (!a->slots)
            bench_oom(PROG, chunks * sizeof *a->slots);
        bench_rng_seed(&a->rng, seed * 0x100000001b3ULL + t);
        for (size_t i = 0; i < chunks; i++)
            fill_slot(a, i, random_size(&a->rng));
    }

    uint64_t t0 = bench_now_ns();
    for (unsigned t = 0; t < threads; t++)
        start_generation(&arenas[t]);

    struct timespec nap;
    nap.tv_sec = static_cast<time_t>(seconds);
    nap.tv_nsec = static_cast<long>((seconds - static_cast<double>(nap.tv_sec)) * 1e9);
    while (nanosleep(&nap, &nap) != 0 && errno == EINTR)
        ;
    stop_flag.store(1);

    pthread_mutex_lock(&done_lock);
    while (arenas_done < threads)
        pthread_cond_wait(&done_cond, &done_lock);
    pthread_mutex_unlock(&done_lock);
    double elapsed = static_cast<double>(bench_now_ns() - t0) / 1e9;

    uint64_t ops = 0, generations = 0;
    for (unsigned t = 0; t < threads; t++) {
        arena *a = &arenas[t];
        ops += a->ops;
        generations += a->generations;
        for (size_t i = 0; i < a->nslots; i++)
            release_slot(a, i);
        free(a->slots);
    }
    free(arenas);
    pthread_attr_destroy(&detached_attr);

    printf(PROG ": %.0f ops/s (%" PRIu64 " ops in %.3f s, %u threads, "
           "%" PRIu64 " thread generations, sized delete)\n",
           elapsed > 0 ? static_cast<double>(ops) / elapsed : 0.0, ops, elapsed, threads,
           generations);
    bench_print_rusage();
    return 0;
}
