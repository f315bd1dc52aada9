/* scenarios — large-block workloads modelled on a compiler/runtime pipeline,
 * to measure what an allocator does with blocks big enough that returning
 * them to the OS (and faulting them back in) dominates the cost:
 *
 *   JSON   64 KiB blocks, 1000 iterations  (parser buffers)
 *   MIR    256 KiB blocks, 100 iterations  (an IR for one function)
 *   VM     2 MiB blocks, 10 iterations     (an interpreter's heap/stack)
 *   MIXED  100 iterations of a compiler-like mix: four JSON buffers, one
 *          MIR block, a VM block every tenth iteration, and 2000 small
 *          objects of 16-256 B, half of them freed early as temporaries
 *
 * An iteration allocates, writes every page, verifies the pattern and frees
 * (MIXED: allocates everything, then frees it in random order).  The whole
 * iteration is one op: its latency includes the page faults an allocator
 * causes by unmapping and remapping, which is the point.  The iterations are
 * repeated in passes; the first pass (cold: nothing cached yet) and the
 * remaining passes (steady state) are reported separately, one line each:
 *
 *   scenario=JSON phase=first size=65536 iters=1000 median_ns=... p99_ns=...
 *     alloc_median_ns=... free_median_ns=... minflt=... majflt=... maxrss_kb=...
 *
 * With several scenarios each runs in a child process of its own, so that
 * one scenario's peak RSS and faults do not leak into the next one's.  A
 * damaged pattern is reported and the program exits with status 2.
 */
#include <getopt.h>
#include <math.h>
#include <strings.h>
#include <sys/wait.h>

#include "bench_util.h"

#define PROG "scenarios"
#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

enum { MIXED_SMALL = 2000, MIXED_JSON = 4, MIXED_MAX_BLOCKS = MIXED_SMALL + MIXED_JSON + 2 };

struct scenario {
    const char *name;
    size_t size;          /* 0 for MIXED */
    unsigned iters;
};

static const struct scenario scenarios[] = {
    {"JSON", 64 * KiB, 1000},
    {"MIR", 256 * KiB, 100},
    {"VM", 2 * MiB, 10},
    {"MIXED", 0, 100},
};
#define NSCENARIOS (sizeof scenarios / sizeof scenarios[0])

static size_t page_size;

struct samples {
    uint64_t *v;
    size_t n;
};

struct block {
    void *p;
    size_t size;
    uint64_t tag;
};

static void corrupt(const char *name, const void *p, size_t size)
{
    fprintf(stderr, PROG ": %s: pattern mismatch in block %p (%zu bytes): the "
            "allocator corrupted a live block or handed it out twice\n", name, p, size);
    exit(BENCH_EXIT_CORRUPT);
}

/* Small objects get every byte checked; big ones one word per page, which
 * is what makes the page faults happen without timing a 2 MiB memset. */
static void *take(size_t size, uint64_t tag)
{
    void *p = malloc(size);
    if (!p)
        bench_oom(PROG, size);
    bench_escape(p);
    if (size >= page_size)
        bench_touch_pages(p, size, page_size, tag);
    else
        bench_fill(p, size, tag);
    return p;
}

static void give_back(const char *name, struct block *b)
{
    int ok = b->size >= page_size ? bench_check_pages(b->p, b->size, page_size, b->tag)
                                  : bench_check(b->p, b->size, b->tag);
    if (!ok)
        corrupt(name, b->p, b->size);
    bench_escape(b->p);
    free(b->p);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted sample. */
static uint64_t pct(const uint64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)ceil(q * (double)n);
    return v[rank ? rank - 1 : 0];
}

static uint64_t median_of(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    return pct(v, n, 0.5);
}

/* One MIXED iteration: a compilation unit's worth of allocations. */
static void mixed_iteration(const char *name, bench_rng *rng, unsigned it, struct block *live)
{
    size_t sizes[MIXED_MAX_BLOCKS];
    size_t nreq = 0;
    for (unsigned i = 0; i < MIXED_SMALL; i++)
        sizes[nreq++] = 16 + bench_rng_below(rng, 256 - 16 + 1);
    for (unsigned i = 0; i < MIXED_JSON; i++)
        sizes[nreq++] = 64 * KiB;
    sizes[nreq++] = 256 * KiB;
    if (it % 10 == 0)
        sizes[nreq++] = 2 * MiB;
    for (size_t i = nreq - 1; i > 0; i--) {
        size_t j = bench_rng_below(rng, (uint32_t)(i + 1));
        size_t t = sizes[i];
        sizes[i] = sizes[j];
        sizes[j] = t;
    }

    size_t nlive = 0;
    for (size_t i = 0; i < nreq; i++) {
        uint64_t tag = bench_mix64(((uint64_t)it << 32) ^ i);
        live[nlive] = (struct block){take(sizes[i], tag), sizes[i], tag};
        nlive++;
        /* Temporaries: a small object dies about as often as one is born. */
        if (sizes[i] < page_size && (bench_rng_next(rng) & 1)) {
            size_t j = bench_rng_below(rng, (uint32_t)nlive);
            if (live[j].size < page_size) {
                give_back(name, &live[j]);
                live[j] = live[--nlive];
            }
        }
    }
    while (nlive > 0) {
        size_t j = bench_rng_below(rng, (uint32_t)nlive);
        give_back(name, &live[j]);
        live[j] = live[--nlive];
    }
}

static void report(const struct scenario *sc, const char *phase, unsigned iters,
                   struct samples *lat, struct samples *alloc, struct samples *fr,
                   const struct rusage *before, const struct rusage *after)
{
    qsort(lat->v, lat->n, sizeof *lat->v, cmp_u64);
    printf("scenario=%s phase=%s", sc->name, phase);
    if (sc->size)
        printf(" size=%zu", sc->size);
    else
        printf(" size=mixed");
    printf(" iters=%u median_ns=%" PRIu64 " p99_ns=%" PRIu64, iters,
           pct(lat->v, lat->n, 0.5), pct(lat->v, lat->n, 0.99));
    if (sc->size)
        printf(" alloc_median_ns=%" PRIu64 " free_median_ns=%" PRIu64,
               median_of(alloc->v, alloc->n), median_of(fr->v, fr->n));
    printf(" minflt=%ld majflt=%ld maxrss_kb=%ld\n",
           after->ru_minflt - before->ru_minflt, after->ru_majflt - before->ru_majflt,
           after->ru_maxrss);
    fflush(stdout);
}

static void run_scenario(const struct scenario *sc, unsigned passes, double scale, uint64_t seed)
{
    unsigned iters = (unsigned)ceil(sc->iters * scale);
    if (iters == 0)
        iters = 1;
    size_t total = (size_t)iters * passes;
    struct samples lat = {calloc(total, sizeof(uint64_t)), 0};
    struct samples alloc = {calloc(total, sizeof(uint64_t)), 0};
    struct samples fr = {calloc(total, sizeof(uint64_t)), 0};
    struct block *live = calloc(MIXED_MAX_BLOCKS, sizeof *live);
    if (!lat.v || !alloc.v || !fr.v || !live)
        bench_oom(PROG, total * sizeof(uint64_t));

    struct rusage r0, r1, r2;
    getrusage(RUSAGE_SELF, &r0);
    for (unsigned pass = 0; pass < passes; pass++) {
        /* The same sequence every pass, so that first and steady differ
         * only in what the allocator has cached. */
        bench_rng rng;
        bench_rng_seed(&rng, seed);
        for (unsigned it = 0; it < iters; it++) {
            uint64_t t0 = bench_now_ns();
            if (sc->size) {
                uint64_t tag = bench_mix64(((uint64_t)pass << 32) ^ it ^ sc->size);
                void *p = malloc(sc->size);
                uint64_t t1 = bench_now_ns();
                if (!p)
                    bench_oom(PROG, sc->size);
                bench_escape(p);
                bench_touch_pages(p, sc->size, page_size, tag);
                if (!bench_check_pages(p, sc->size, page_size, tag))
                    corrupt(sc->name, p, sc->size);
                uint64_t t2 = bench_now_ns();
                bench_escape(p);
                free(p);
                uint64_t t3 = bench_now_ns();
                alloc.v[alloc.n++] = t1 - t0;
                fr.v[fr.n++] = t3 - t2;
                lat.v[lat.n++] = t3 - t0;
            } else {
                mixed_iteration(sc->name, &rng, it, live);
                lat.v[lat.n++] = bench_now_ns() - t0;
            }
        }
        if (pass == 0) {
            getrusage(RUSAGE_SELF, &r1);
            report(sc, "first", iters, &lat, &alloc, &fr, &r0, &r1);
            lat.n = alloc.n = fr.n = 0;
            /* The report sorts and prints, which allocates: the steady
             * window starts after it, so it counts the iterations only. */
            getrusage(RUSAGE_SELF, &r1);
        }
    }
    if (passes > 1) {
        getrusage(RUSAGE_SELF, &r2);
        report(sc, "steady", iters * (passes - 1), &lat, &alloc, &fr, &r1, &r2);
    }
    free(lat.v);
    free(alloc.v);
    free(fr.v);
    free(live);
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: " PROG " [--passes N] [--scale F] [--seed N] [SCENARIO...]\n"
            "  SCENARIO: JSON MIR VM MIXED (default: all, each in its own process)\n"
            "  --passes N  passes over the iterations; the first is reported as\n"
            "              phase=first, the rest as phase=steady (default 5)\n"
            "  --scale F   multiply every iteration count by F (default 1)\n");
    exit(status);
}

int main(int argc, char **argv)
{
    unsigned passes = 5;
    double scale = 1.0;
    uint64_t seed = 1;
    static const struct option opts[] = {
        {"passes", required_argument, NULL, 'p'},
        {"scale", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "p:s:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': passes = (unsigned)bench_parse_u64(PROG, "--passes", optarg, 1, 100000); break;
        case 's': scale = bench_parse_double(PROG, "--scale", optarg, 1e-6, 1e6); break;
        case 'r': seed = bench_parse_u64(PROG, "--seed", optarg, 0, UINT64_MAX); break;
        case 'h': usage(0); break;
        default: usage(BENCH_EXIT_USAGE);
        }
    }
    long ps = sysconf(_SC_PAGESIZE);
    page_size = ps > 0 ? (size_t)ps : 4096;

    const struct scenario *chosen[NSCENARIOS];
    size_t nchosen = 0;
    if (optind == argc) {
        for (size_t i = 0; i < NSCENARIOS; i++)
            chosen[nchosen++] = &scenarios[i];
    }
    for (int a = optind; a < argc; a++) {
        size_t i;
        for (i = 0; i < NSCENARIOS; i++)
            if (strcasecmp(argv[a], scenarios[i].name) == 0)
                break;
        if (i == NSCENARIOS) {
            fprintf(stderr, PROG ": unknown scenario '%s'\n", argv[a]);
            usage(BENCH_EXIT_USAGE);
        }
        if (nchosen == NSCENARIOS) {
            fprintf(stderr, PROG ": too many scenarios\n");
            usage(BENCH_EXIT_USAGE);
        }
        chosen[nchosen++] = &scenarios[i];
    }

    if (nchosen == 1) {
        run_scenario(chosen[0], passes, scale, seed);
        bench_print_rusage();
        return 0;
    }

    int status = 0;
    for (size_t i = 0; i < nchosen; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            perror(PROG ": fork");
            return BENCH_EXIT_USAGE;
        }
        if (pid == 0) {
            run_scenario(chosen[i], passes, scale, seed);
            fflush(stdout);
            exit(0);
        }
        int ws;
        while (waitpid(pid, &ws, 0) < 0) {
            if (errno != EINTR) {
                perror(PROG ": waitpid");
                return BENCH_EXIT_USAGE;
            }
        }
        if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0) {
            status = status ? status : WEXITSTATUS(ws);
        } else if (WIFSIGNALED(ws)) {
            fprintf(stderr, PROG ": scenario %s killed by signal %d\n",
                    chosen[i]->name, WTERMSIG(ws));
            status = BENCH_EXIT_CORRUPT;
        }
    }
    return status;
}
