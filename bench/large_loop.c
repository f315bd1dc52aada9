/* large_loop — one large block at a time: malloc, write every page, free,
 * `--iters` times.  The shape of a program that builds a big buffer per
 * request (a decoder's frame, a compressor's window) and the one that
 * tells whether an allocator recycles a freed mapping or gives it back to
 * the kernel and faults it in again.
 *
 * Every page gets a word that depends on the iteration and its offset, and
 * the whole block is checked before it is freed, so an allocator that hands
 * out memory it does not own (or maps one range twice) fails with status 2.
 * The result is the time per iteration and the page faults of the loop (a
 * first untimed iteration warms the allocator up).
 */
#include <getopt.h>

#include "bench_util.h"

#define PROG "large_loop"
#define PAGE 4096

int main(int argc, char **argv)
{
    size_t size = (size_t)4 << 20;
    uint64_t iters = 1000;
    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'},
        {"iters", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "s:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': size = (size_t)bench_parse_u64(PROG, "--size", optarg, 16, (uint64_t)1 << 36); break;
        case 'n': iters = bench_parse_u64(PROG, "--iters", optarg, 1, (uint64_t)1 << 32); break;
        case 'h':
            printf("usage: %s [--size BYTES] [--iters N]\n", PROG);
            return 0;
        default: return BENCH_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", PROG, argv[optind]);
        return BENCH_EXIT_USAGE;
    }
    struct rusage r0, r1;
    uint64_t t0 = 0;
    for (uint64_t i = 0; i <= iters; i++) {
        if (i == 1) {
            getrusage(RUSAGE_SELF, &r0);
            t0 = bench_now_ns();
        }
        uint64_t tag = bench_mix64(i);
        char *p = malloc(size);
        if (p == NULL)
            bench_oom(PROG, size);
        bench_touch_pages(p, size, PAGE, tag);
        bench_escape(p);
        if (!bench_check_pages(p, size, PAGE, tag)) {
            fprintf(stderr, "%s: block of iteration %" PRIu64 " damaged\n", PROG, i);
            return BENCH_EXIT_CORRUPT;
        }
        free(p);
    }
    uint64_t t1 = bench_now_ns();
    getrusage(RUSAGE_SELF, &r1);
    printf("%s: %.0f ns/iter, %zu bytes, %" PRIu64 " iterations, faults=%ld\n", PROG,
           (double)(t1 - t0) / (double)iters, size, iters, r1.ru_minflt - r0.ru_minflt);
    bench_print_rusage();
    return 0;
}
