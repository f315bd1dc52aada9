/* memreturn — does freed memory go back to the kernel while the program
 * keeps running?
 *
 *   memreturn [--check MS] [--wait MS] large|small [MIB]
 *
 * Allocates a burst of MIB mebibytes (default: large 1024, small 512) and
 * writes every page: "large" in blocks of 2-8 MiB, "small" in blocks of
 * 16 B - 1 KiB.  Then frees everything and stays idle (no allocator call),
 * reading its resident set from /proc/self/statm every 20 ms for --wait
 * milliseconds (default 3000).  It prints one line:
 *
 *   memreturn kind=large burst_mib=1024 start_mib=.. peak_mib=..
 *     freed_mib=.. end_mib=.. back_ms=..
 *
 * freed_mib is resident memory right after the frees, end_mib at the end.
 * back_ms is when resident memory first fell to the starting point plus a
 * tenth of the burst (-1: never).  With --check MS the exit status is 1
 * unless that happened within MS milliseconds.  Every block carries a
 * pattern that is checked before it is freed (exit 2 on damage).
 */
#include "bench_util.h"

#include <string.h>
#include <unistd.h>

#define PROG "memreturn"
#define MiB ((size_t)1 << 20)

static size_t page_size;

static double rss_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f == NULL || fscanf(f, "%ld %ld", &size, &res) != 2) {
        fprintf(stderr, PROG ": cannot read /proc/self/statm\n");
        exit(1);
    }
    fclose(f);
    return (double)res * (double)page_size / (double)MiB;
}

int main(int argc, char **argv)
{
    long check_ms = -1, wait_ms = 3000;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc)
            goto usage;
        if (strcmp(argv[i], "--check") == 0)
            check_ms = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--wait") == 0)
            wait_ms = atol(argv[i + 1]);
        else
            goto usage;
    }
    if (i >= argc || (strcmp(argv[i], "large") != 0 && strcmp(argv[i], "small") != 0))
        goto usage;
    bool large = strcmp(argv[i], "large") == 0;
    size_t burst = (i + 1 < argc ? (size_t)atol(argv[i + 1]) : large ? 1024 : 512) * MiB;
    if (check_ms > wait_ms)
        wait_ms = check_ms;
    page_size = (size_t)sysconf(_SC_PAGESIZE);

    /* The bookkeeping is allocated up front, so it is in the baseline. */
    size_t max_blocks = large ? burst / (2 * MiB) + 1 : burst / 16 + 1;
    void **blocks = malloc(max_blocks * sizeof *blocks);
    uint32_t *sizes = malloc(max_blocks * sizeof *sizes);
    if (!blocks || !sizes)
        bench_oom(PROG, max_blocks * sizeof *blocks);
    memset(blocks, 0, max_blocks * sizeof *blocks);
    memset(sizes, 0, max_blocks * sizeof *sizes);
    double start = rss_mib();

    bench_rng rng;
    bench_rng_seed(&rng, 42);
    size_t n = 0, total = 0;
    while (total < burst && n < max_blocks) {
        size_t sz = large ? (2 + 2 * bench_rng_below(&rng, 4)) * MiB : 16 + bench_rng_below(&rng, 1009);
        if (total + sz > burst)
            sz = burst - total < 16 ? 16 : burst - total;
        void *p = malloc(sz);
        if (!p)
            bench_oom(PROG, sz);
        if (large)
            bench_touch_pages(p, sz, page_size, n);
        else
            bench_fill(p, sz, n);
        blocks[n] = p;
        sizes[n++] = (uint32_t)sz;
        total += sz;
    }
    double peak = rss_mib();
    for (size_t k = 0; k < n; k++) {
        int ok = large ? bench_check_pages(blocks[k], sizes[k], page_size, k)
                       : bench_check(blocks[k], sizes[k], k);
        if (!ok) {
            fprintf(stderr, PROG ": pattern mismatch in block %zu\n", k);
            exit(BENCH_EXIT_CORRUPT);
        }
        free(blocks[k]);
    }

    double bound = start + (double)burst / MiB / 10, now = rss_mib(), freed = now;
    long back_ms = now <= bound ? 0 : -1;
    uint64_t t0 = bench_now_ns();
    while ((long)((bench_now_ns() - t0) / 1000000) < wait_ms) {
        usleep(20 * 1000);
        now = rss_mib();
        if (back_ms < 0 && now <= bound)
            back_ms = (long)((bench_now_ns() - t0) / 1000000);
    }
    printf("memreturn kind=%s burst_mib=%zu blocks=%zu start_mib=%.1f peak_mib=%.1f "
           "freed_mib=%.1f end_mib=%.1f back_ms=%ld\n",
           large ? "large" : "small", burst / MiB, n, start, peak, freed, now, back_ms);
    if (check_ms >= 0 && (back_ms < 0 || back_ms > check_ms)) {
        fprintf(stderr, PROG ": resident memory %.1f MiB did not fall to %.1f MiB within %ld ms\n",
                now, bound, check_ms);
        return 1;
    }
    free(blocks);
    free(sizes);
    return 0;
usage:
    fprintf(stderr, "usage: " PROG " [--check MS] [--wait MS] large|small [MIB]\n");
    return 1;
}
