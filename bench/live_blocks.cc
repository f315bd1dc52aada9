/* live_blocks — a working set of big buffers, each replaced now and then:
 * `--live` blocks of random sizes between `--min` and `--max` MiB stay
 * live, and `--replace` times a random one is dropped and a new one of a
 * new random size takes its place.  New blocks come from
 * std::make_unique<char[]>(n), so the program itself writes zeroes over
 * every byte (value-initialisation): an allocator gains nothing from
 * handing out pages it knows are zero, only from handing out pages that
 * are already resident.  The shape of an image or a matrix pipeline, a
 * cache of decoded files, a compiler's arenas of whole functions.
 *
 * Each new block is checked zero on a word of every page, then one word
 * per page gets a tag that is checked when the block is dropped: a block
 * handed out twice, or damaged while live, exits with status 2.  The
 * result is the total time and the peak RSS.
 */
#include <getopt.h>

#include <memory>
#include <vector>

#include "bench_util.h"

#define PROG "live_blocks"
#define PAGE 4096

struct live_block {
    std::unique_ptr<char[]> p;
    size_t size;
    uint64_t tag;
};

static bool zero_pages(const char *p, size_t n)
{
    for (size_t off = 0; off + 8 <= n; off += PAGE) {
        uint64_t w;
        memcpy(&w, p + off, 8);
        if (w != 0)
            return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    uint64_t live = 20, replace = 2000, min_mb = 5, max_mb = 25, seed = 1;
    static const struct option opts[] = {
        {"live", required_argument, NULL, 'l'},
        {"replace", required_argument, NULL, 'r'},
        {"min", required_argument, NULL, 'a'},
        {"max", required_argument, NULL, 'b'},
        {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "l:r:a:b:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': live = bench_parse_u64(PROG, "--live", optarg, 1, 4096); break;
        case 'r': replace = bench_parse_u64(PROG, "--replace", optarg, 0, (uint64_t)1 << 32); break;
        case 'a': min_mb = bench_parse_u64(PROG, "--min", optarg, 1, 4096); break;
        case 'b': max_mb = bench_parse_u64(PROG, "--max", optarg, 1, 4096); break;
        case 's': seed = bench_parse_u64(PROG, "--seed", optarg, 0, UINT64_MAX); break;
        case 'h':
            printf("usage: %s [--live N] [--replace N] [--min MiB] [--max MiB] [--seed N]\n", PROG);
            return 0;
        default: return BENCH_EXIT_USAGE;
        }
    }
    if (optind != argc || min_mb > max_mb) {
        fprintf(stderr, "%s: bad arguments (--min must not exceed --max)\n", PROG);
        return BENCH_EXIT_USAGE;
    }
    bench_rng rng;
    bench_rng_seed(&rng, seed);
    const size_t lo = (size_t)min_mb << 20, span = ((size_t)(max_mb - min_mb) << 20) + 1;
    std::vector<live_block> blocks(live);
    uint64_t made = 0;
    auto make = [&](live_block &b) {
        b.size = lo + (size_t)(bench_rng_next(&rng) % span);
        b.tag = bench_mix64(seed ^ ++made);
        b.p = std::make_unique<char[]>(b.size);
        if (!zero_pages(b.p.get(), b.size)) {
            fprintf(stderr, "%s: new block %" PRIu64 " is not zero\n", PROG, made);
            exit(BENCH_EXIT_CORRUPT);
        }
        bench_touch_pages(b.p.get(), b.size, PAGE, b.tag);
    };
    auto drop = [&](live_block &b) {
        if (!bench_check_pages(b.p.get(), b.size, PAGE, b.tag)) {
            fprintf(stderr, "%s: a live block of %zu bytes was damaged\n", PROG, b.size);
            exit(BENCH_EXIT_CORRUPT);
        }
        b.p.reset();
    };
    uint64_t t0 = bench_now_ns();
    for (auto &b : blocks)
        make(b);
    for (uint64_t i = 0; i < replace; i++) {
        live_block &b = blocks[bench_rng_below(&rng, (uint32_t)live)];
        drop(b);
        make(b);
    }
    for (auto &b : blocks)
        drop(b);
    uint64_t t1 = bench_now_ns();
    printf("%s: %" PRIu64 " live, %" PRIu64 " replaced, %.3f s\n", PROG, live, replace, (double)(t1 - t0) / 1e9);
    bench_print_rusage();
    return 0;
}
