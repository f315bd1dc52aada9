/* stats.c — the process-wide counters and the statistics report
 * (HAKMEM_STATS=1 at exit, or hak_stats_print()).  The always-on counters
 * are touched on slow paths only; the debug counters of the fast-path
 * pipeline exist only with --enable-debug-counters. */
#include "internal.h"

#include <string.h>

hak_stats_t hak_stats;
#if HAKMEM_DEBUG_COUNTERS
hak_counters_t hak_counters;
#endif

void hak_stats_add(_Atomic uint64_t *c, int64_t delta, _Atomic uint64_t *peak)
{
    uint64_t now = atomic_fetch_add_explicit(c, (uint64_t)delta, memory_order_relaxed) + (uint64_t)delta;
    if (peak != NULL) {
        uint64_t p = atomic_load_explicit(peak, memory_order_relaxed);
        while (now > p && !atomic_compare_exchange_weak_explicit(peak, &p, now, memory_order_relaxed,
                                                                 memory_order_relaxed))
            ;
    }
}

static void line(int fd, const char *name, uint64_t v)
{
    char buf[128], num[24];
    size_t n = strlen(name);
    if (n > 60)
        n = 60;
    memcpy(buf, "  ", 2);
    memcpy(buf + 2, name, n);
    n += 2;
    while (n < 28)
        buf[n++] = ' ';
    size_t k = hak_fmt_u64(num, v);
    memcpy(buf + n, num, k);
    n += k;
    buf[n++] = '\n';
    buf[n] = '\0';
    hak_write_str(fd, buf);
}

#define LOAD(x) atomic_load_explicit(&hak_stats.x, memory_order_relaxed)

void hak_stats_report(int fd)
{
    hak_write_str(fd, "hakmem " PACKAGE_VERSION " statistics\n");
    line(fd, "mapped bytes", LOAD(mapped));
    line(fd, "mapped bytes (peak)", LOAD(mapped_peak));
    line(fd, "mmap calls", LOAD(map_calls));
    line(fd, "munmap calls", LOAD(unmap_calls));
    line(fd, "superslabs", LOAD(superslabs));
    line(fd, "superslabs (peak)", LOAD(superslabs_peak));
    line(fd, "spans acquired", LOAD(spans_acquired));
    line(fd, "spans released", LOAD(spans_released));
    line(fd, "spans orphaned", LOAD(orphaned));
    line(fd, "spans adopted", LOAD(adopted));
    line(fd, "large allocations", LOAD(large_allocs));
    line(fd, "large frees", LOAD(large_frees));
    line(fd, "thread heaps (live)", LOAD(heaps));
#if HAKMEM_DEBUG_COUNTERS
    hak_write_str(fd, "debug counters\n");
#define HAK_X(n) line(fd, #n, atomic_load_explicit(&hak_counters.n, memory_order_relaxed));
    HAK_COUNTERS(HAK_X)
#undef HAK_X
#endif
    hak_write_str(fd, "options\n");
    hak_options_print(fd);
}
