/* elo_workloads — two large-block workloads whose best retention threshold
 * differs, to see whether hakmem's tournament (HAKMEM_ELO=1) finds each
 * one's best arm.  Any allocator can be run; the work is fixed (a number of
 * operations, not a time), so costs compare across runs.
 *
 *   elo_workloads [--hold-ns NS] reuse [N]
 *   elo_workloads [--hold-ns NS] idle [N]
 *   elo_workloads [--hold-ns NS] mixed [N]
 *
 *   reuse   N times (default 3000): malloc 16 MiB, write every page,
 *           check, free (retaining the block wins)
 *   idle    N cycles (default 30): 24 blocks of 2 MiB, written and freed,
 *           then 100 ms without any allocator call (giving the memory
 *           back wins)
 *   mixed   N cycles (default 10): 200 times malloc 4 MiB, write, free;
 *           then one block of 256 MiB written and freed, and 100 ms
 *           without any allocator call (keeping the small blocks and
 *           giving the big one back wins: a threshold between them)
 *
 * The cost printed is what the tournament minimises, measured from the
 * outside: CPU time of the process (user + system, which includes the page
 * faults and every allocator call) plus resident memory integrated over
 * time at NS per MiB.s (default 1 ms, as HAKMEM_ELO_HOLD_NS; pass the same
 * rate to both); resident memory is sampled at every operation and every
 * 10 ms while idle.
 *
 *   elo_workloads workload=reuse ops=.. cpu_ms=.. rss_mib_s=.. minflt=..
 *     cost_ms=..
 */
#include "bench_util.h"

#include <string.h>
#include <unistd.h>

#define PROG "elo_workloads"
#define MiB ((size_t)1 << 20)

static size_t page_size;
static double rss_integral;            /* MiB.s */
static uint64_t last_sample_ns;

static double rss_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f == NULL || fscanf(f, "%ld %ld", &size, &res) != 2)
        exit(1);
    fclose(f);
    return (double)res * (double)page_size / (double)MiB;
}

static void sample(void)
{
    uint64_t now = bench_now_ns();
    if (last_sample_ns)
        rss_integral += rss_mib() * (double)(now - last_sample_ns) / 1e9;
    last_sample_ns = now;
}

static void *take(size_t size, uint64_t tag)
{
    void *p = malloc(size);
    if (!p)
        bench_oom(PROG, size);
    bench_touch_pages(p, size, page_size, tag);
    return p;
}

static void give(void *p, size_t size, uint64_t tag)
{
    if (!bench_check_pages(p, size, page_size, tag)) {
        fprintf(stderr, PROG ": pattern mismatch in a block of %zu bytes\n", size);
        exit(BENCH_EXIT_CORRUPT);
    }
    free(p);
}

int main(int argc, char **argv)
{
    double hold_ns = 1e6;
    if (argc > 2 && strcmp(argv[1], "--hold-ns") == 0) {
        hold_ns = atof(argv[2]);
        argv += 2;
        argc -= 2;
    }
    if (argc < 2 || (strcmp(argv[1], "reuse") != 0 && strcmp(argv[1], "idle") != 0 &&
                      strcmp(argv[1], "mixed") != 0)) {
        fprintf(stderr, "usage: " PROG " [--hold-ns NS] reuse|idle|mixed [N]\n");
        return 1;
    }
    bool reuse = strcmp(argv[1], "reuse") == 0, mixed = strcmp(argv[1], "mixed") == 0;
    unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : reuse ? 3000 : mixed ? 10 : 30;
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    sample();
    uint64_t ops = 0;
    if (reuse) {
        for (unsigned i = 0; i < n; i++) {
            void *p = take(16 * MiB, i);
            give(p, 16 * MiB, i);
            ops += 2;
            sample();
        }
    } else if (mixed) {
        for (unsigned c = 0; c < n; c++) {
            for (unsigned i = 0; i < 200; i++) {
                void *p = take(4 * MiB, c * 201 + i);
                give(p, 4 * MiB, c * 201 + i);
                ops += 2;
                sample();
            }
            void *p = take(256 * MiB, c * 201 + 200);
            sample();
            give(p, 256 * MiB, c * 201 + 200);
            ops += 2;
            sample();
            for (int t = 0; t < 10; t++) {
                usleep(10 * 1000);
                sample();
            }
        }
    } else {
        void *blocks[24];
        for (unsigned c = 0; c < n; c++) {
            for (unsigned k = 0; k < 24; k++)
                blocks[k] = take(2 * MiB, c * 24 + k);
            for (unsigned k = 0; k < 24; k++)
                give(blocks[k], 2 * MiB, c * 24 + k);
            ops += 48;
            sample();
            for (int t = 0; t < 10; t++) {
                usleep(10 * 1000);
                sample();
            }
        }
    }
    getrusage(RUSAGE_SELF, &r1);
    double cpu_ms = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e3 +
                    (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e3;
    printf("elo_workloads workload=%s ops=%" PRIu64 " cpu_ms=%.1f rss_mib_s=%.1f minflt=%ld cost_ms=%.1f\n",
           argv[1], ops, cpu_ms, rss_integral, r1.ru_minflt - r0.ru_minflt,
           cpu_ms + rss_integral * hold_ns / 1e6);
    return 0;
}
