/* stats.c — the process-wide counters and the statistics report
 * (HAKMEM_STATS=1 at exit, to stderr or HAKMEM_STATS_FILE, or
 * hak_stats_print()).  The always-on counters are touched on slow paths
 * only; the debug counters of the fast-path pipeline exist only with
 * --enable-debug-counters. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

hak_stats_t hak_stats;
hak_class_stats_t hak_class_stats[HAK_NCLASS];
#if HAKMEM_DEBUG_COUNTERS
/* Thread heaps count for themselves (heap.c sums them); this holds the
 * counts of threads that had no heap and of heaps since retired. */
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

static size_t put_str(char *buf, size_t n, const char *s)
{
    size_t k = strlen(s);
    memcpy(buf + n, s, k);
    return n + k;
}

static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

/* The exact figure first, which scripts read, then the size in the
 * largest unit it reaches, rounded to one decimal in integers: the report
 * runs inside the allocator, without printf. */
size_t hak_fmt_bytes(char *buf, uint64_t v)
{
    size_t n = hak_fmt_u64(buf, v);
    if (v < 1024)
        return n;
    unsigned u = 1;
    while (u < 6 && v >> (10 * u + 10) != 0)
        u++;
    unsigned shift = 10 * u;
    uint64_t whole = v >> shift, rest = v & (((uint64_t)1 << shift) - 1);
    uint64_t tenths = (rest * 10 + ((uint64_t)1 << (shift - 1))) >> shift;   /* < 2^64: rest < 2^60 */
    if (tenths == 10) {
        whole++;
        tenths = 0;
    }
    if (whole == 1024) {       /* 1023.96 KiB reads 1.0 MiB */
        whole = 1;
        u++;
    }
    n = put_str(buf, n, " (");
    n += hak_fmt_u64(buf + n, whole);
    buf[n++] = '.';
    buf[n++] = (char)('0' + tenths);
    buf[n++] = ' ';
    n = put_str(buf, n, units[u]);
    n = put_str(buf, n, ")");
    buf[n] = '\0';
    return n;
}

/* A size in the largest unit that divides it ("512 KiB", "64 GiB"), as
 * the arms' thresholds are set; right-aligned to `width`. */
static size_t fmt_exact(char *buf, uint64_t v, size_t width)
{
    char num[24];
    unsigned u = 0;
    while (u < 6 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    size_t k = hak_fmt_u64(num, v), n = 0;
    while (n + k + 1 + strlen(units[u]) < width)
        buf[n++] = ' ';
    memcpy(buf + n, num, k);
    buf[n + k] = ' ';
    return put_str(buf, n + k + 1, units[u]);
}

/* Where every value starts: after the longest label ("madvise calls
 * (huge pages)", "elo off; release threshold") and two spaces, so that the
 * figures read down one column.  A label that outgrows it still gets its
 * two spaces, and tests/unit/test_stats.c fails until the column is widened. */
#define VALUE_COL 30

/* "  name      value\n", one write per line. */
static void put_line(int fd, const char *name, const char *value)
{
    char buf[192];
    size_t len = strlen(name), vlen = strlen(value);
    hak_assert(len <= 100 && vlen <= 48);      /* the report's own labels, at most ~30 */
    if (len > 100)
        len = 100;
    if (vlen > 48)
        vlen = 48;
    size_t n = 2, end = 2 + len + 2 > VALUE_COL ? 2 + len + 2 : VALUE_COL;
    memcpy(buf, "  ", 2);
    memcpy(buf + n, name, len);
    for (n += len; n < end; n++)
        buf[n] = ' ';
    memcpy(buf + n, value, vlen);
    n += vlen;
    buf[n++] = '\n';
    buf[n] = '\0';
    hak_write_str(fd, buf);
}

static void line(int fd, const char *name, uint64_t v)
{
    char num[24];
    hak_fmt_u64(num, v);
    put_line(fd, name, num);
}

/* For the figures that count bytes (others count calls or blocks). */
static void bytes_line(int fd, const char *name, uint64_t v)
{
    char num[HAK_FMT_BYTES_MAX];
    hak_fmt_bytes(num, v);
    put_line(fd, name, num);
}

/* The leaderboard, best first: threshold, rating, predicted cost per
 * event, epochs led, wins and losses; and the check of the model: what it
 * predicted the running arm would cost against what that arm really
 * cost. */
static void elo_report(int fd)
{
    hak_elo_arm_t arms[HAK_ELO_ARMS];
    uint64_t epochs;
    hak_elo_check_t chk;
    unsigned lead = hak_elo_snapshot(arms, &epochs, &chk);
    if (!hak_opt.elo) {
        bytes_line(fd, "elo off; release threshold", atomic_load(&hak_elo_threshold));
        return;
    }
    hak_write_str(fd, "elo (threshold: rating, predicted ns/event, epochs led, won-lost)\n");
    line(fd, "epochs", epochs);
    bytes_line(fd, "leader threshold", hak_elo_arm_threshold(lead));
    line(fd, "predicted ns (all epochs)", (uint64_t)chk.predicted_sum);
    line(fd, "measured ns (all epochs)", (uint64_t)chk.measured_sum);
    line(fd, "predicted ns/event (last)", (uint64_t)chk.predicted);
    line(fd, "measured ns/event (last)", (uint64_t)chk.measured);
    line(fd, "price ns: 4 KiB fault", (uint64_t)chk.fault_ns);
    line(fd, "price ns: 2 MiB fault", (uint64_t)chk.huge_ns);
    line(fd, "price ns: page released", (uint64_t)chk.zap_ns);
    line(fd, "price ns: kernel call", (uint64_t)chk.call_ns);
    bool done[HAK_ELO_ARMS] = { false };
    for (unsigned k = 0; k < HAK_ELO_ARMS; k++) {
        unsigned b = HAK_ELO_ARMS;
        for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
            if (!done[i] && (b == HAK_ELO_ARMS || arms[i].rating > arms[b].rating))
                b = i;
        done[b] = true;
        double r = arms[b].rating;
        char buf[160];
        size_t n = put_str(buf, 0, "  ");
        n += fmt_exact(buf + n, hak_elo_arm_threshold(b), 7);   /* "512 KiB" the widest */
        n = put_str(buf, n, r < 0 ? ": -" : ": ");
        n += hak_fmt_u64(buf + n, (uint64_t)((r < 0 ? -r : r) + 0.5));
        n = put_str(buf, n, ", ");
        n += hak_fmt_u64(buf + n, (uint64_t)arms[b].cost);
        n = put_str(buf, n, ", ");
        n += hak_fmt_u64(buf + n, arms[b].epochs);
        n = put_str(buf, n, ", ");
        n += hak_fmt_u64(buf + n, arms[b].wins);
        n = put_str(buf, n, "-");
        n += hak_fmt_u64(buf + n, arms[b].losses);
        n = put_str(buf, n, b == lead ? "  <- leader\n" : "\n");
        buf[n] = '\0';
        hak_write_str(fd, buf);
    }
}

#define LOAD(x) atomic_load_explicit(&hak_stats.x, memory_order_relaxed)

/* Layer totals (tiny, mid, large) from the per-class totals, and what the
 * kernel says of the process.  A live heap read mid-update may show one
 * more free than allocation for an instant: in use never goes below 0. */
void hak_stats_summary(hak_stats_summary_t *s, hak_class_totals_t t[HAK_NCLASS])
{
    memset(s, 0, sizeof *s);
    hak_heap_class_sum(t);
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        unsigned k = c < HAK_NTINY ? 0 : 1;
        uint64_t u = t[c].allocs > t[c].frees ? t[c].allocs - t[c].frees : 0;
        s->allocs[k] += t[c].allocs;
        s->frees[k] += t[c].frees;
        s->in_use[k] += u;
        s->in_use_bytes[k] += u * hak_classes[c].bsize;
        s->remote_frees += t[c].remote;
    }
    hak_large_publish();
    s->allocs[2] = LOAD(large_allocs);
    s->frees[2] = LOAD(large_frees);
    s->in_use[2] = LOAD(large_live);
    s->in_use_bytes[2] = LOAD(large_live_bytes);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        s->page_faults = (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
        s->peak_rss_bytes = (uint64_t)ru.ru_maxrss * 1024;    /* KiB on Linux */
    }
}

/* One line per size class that was used: size, allocations, frees,
 * blocks in use, their bytes, and the most blocks ever out of spans at
 * once (which counts blocks cached by threads as out); then the layers. */
static void classes_report(int fd)
{
    static const char *const layer[3] = { "tiny", "mid", "large" };
    hak_class_totals_t t[HAK_NCLASS];
    hak_stats_summary_t s;
    hak_stats_summary(&s, t);
    hak_write_str(fd, "size classes (size: allocations, frees, in use, bytes in use, "
                      "peak blocks incl. thread caches)\n");
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        uint64_t peak = atomic_load_explicit(&hak_class_stats[c].out_peak, memory_order_relaxed);
        if (t[c].allocs == 0 && t[c].frees == 0 && peak == 0)
            continue;
        uint64_t u = t[c].allocs > t[c].frees ? t[c].allocs - t[c].frees : 0;
        const uint64_t v[5] = { t[c].allocs, t[c].frees, u, u * hak_classes[c].bsize, peak };
        static const char *const sep[5] = { ": ", ", ", ", ", ", ", ", " };
        char buf[192];
        size_t n = put_str(buf, 0, "  class ");
        n += hak_fmt_u64(buf + n, hak_classes[c].bsize);
        for (int i = 0; i < 5; i++) {
            n = put_str(buf, n, sep[i]);
            n += hak_fmt_u64(buf + n, v[i]);
        }
        n = put_str(buf, n, "\n");
        buf[n] = '\0';
        hak_write_str(fd, buf);
    }
    for (int k = 0; k < 3; k++) {
        char name[40];
        size_t n = put_str(name, 0, layer[k]);
        if (k < 2) {      /* large allocations and frees: above */
            strcpy(name + n, " allocations");
            line(fd, name, s.allocs[k]);
            strcpy(name + n, " frees");
            line(fd, name, s.frees[k]);
        }
        strcpy(name + n, " in use");
        line(fd, name, s.in_use[k]);
        strcpy(name + n, " bytes in use");
        bytes_line(fd, name, s.in_use_bytes[k]);
    }
    line(fd, "remote frees", s.remote_frees);
    line(fd, "page faults", s.page_faults);
    bytes_line(fd, "peak RSS bytes", s.peak_rss_bytes);
}

/* Lock-free but for BigCache's and the batch's: a snapshot of counters. */
void hak_stats_mallinfo(hak_mallinfo_t *m)
{
    m->arena = LOAD(slab_mapped);
    m->uordblks = 0;
    for (unsigned c = 0; c < HAK_NCLASS; c++)
        m->uordblks += atomic_load_explicit(&hak_class_stats[c].out, memory_order_relaxed) *
                       hak_classes[c].bsize;
    hak_large_publish();
    m->hblks = LOAD(large_live);
    m->hblkhd = LOAD(large_live_mapped);
    m->keepcost = hak_bigcache_held() + hak_batch_pending();
    m->usmblks = LOAD(mapped_peak);
}

/* First version of struct hak_stats: its last field is peak_rss_bytes.
 * Later versions only append, so a caller built against this one keeps
 * getting the fields it knows. */
#define STATS_V1_SIZE (offsetof(struct hak_stats, peak_rss_bytes) + sizeof(uint64_t))

HAK_EXPORT int hak_stats_get(struct hak_stats *out, size_t size)
{
    if (out == NULL || size < STATS_V1_SIZE) {
        errno = EINVAL;
        return -1;
    }
    hak_class_totals_t t[HAK_NCLASS];
    hak_stats_summary_t s;
    hak_stats_summary(&s, t);
    struct hak_stats st = {
        .mapped = LOAD(mapped),
        .mapped_peak = LOAD(mapped_peak),
        .in_use_bytes = s.in_use_bytes[0] + s.in_use_bytes[1] + s.in_use_bytes[2],
        .tiny_allocs = s.allocs[0], .tiny_frees = s.frees[0], .tiny_in_use = s.in_use[0],
        .mid_allocs = s.allocs[1], .mid_frees = s.frees[1], .mid_in_use = s.in_use[1],
        .large_allocs = s.allocs[2], .large_frees = s.frees[2], .large_in_use = s.in_use[2],
        .remote_frees = s.remote_frees,
        .bigcache_hits = LOAD(bc_hits),
        .bigcache_misses = LOAD(bc_misses),
        .bigcache_bytes_held = hak_bigcache_held(),
        .batch_flushes = LOAD(batch_flushes),
        .batch_bytes_released = LOAD(batch_bytes),
        .madvise_calls = LOAD(madvise_calls),
        .munmap_calls = LOAD(unmap_calls),
        .mmap_calls = LOAD(map_calls),
        .page_faults = s.page_faults,
        .peak_rss_bytes = s.peak_rss_bytes,
    };
    memcpy(out, &st, size < sizeof st ? size : sizeof st);
    return 0;
}

void hak_stats_report(int fd)
{
    hak_large_publish();
    hak_write_str(fd, "hakmem " PACKAGE_VERSION " statistics\n");
    bytes_line(fd, "mapped bytes", LOAD(mapped));
    bytes_line(fd, "mapped bytes (peak)", LOAD(mapped_peak));
    line(fd, "mmap calls", LOAD(map_calls));
    line(fd, "munmap calls", LOAD(unmap_calls));
    line(fd, "superslabs", LOAD(superslabs));
    line(fd, "superslabs (peak)", LOAD(superslabs_peak));
    line(fd, "spans acquired", LOAD(spans_acquired));
    line(fd, "spans released", LOAD(spans_released));
    line(fd, "spans orphaned", LOAD(orphaned));
    line(fd, "spans adopted", LOAD(adopted));
    line(fd, "spans stolen", LOAD(stolen));
    line(fd, "large allocations", LOAD(large_allocs));
    line(fd, "large frees", LOAD(large_frees));
    line(fd, "thread heaps (live)", LOAD(heaps));
    hak_write_str(fd, "bigcache\n");
    line(fd, "hits", LOAD(bc_hits));
    line(fd, "hits (same site)", LOAD(bc_site_hits));
    line(fd, "hits (grown in place)", LOAD(bc_grown_hits));
    line(fd, "misses", LOAD(bc_misses));
    line(fd, "misses resized", LOAD(bc_fits));
    line(fd, "  windows split off", LOAD(bc_splits));
    line(fd, "  grown by mremap", LOAD(bc_fit_moves));
    line(fd, "blocks kept", LOAD(bc_puts));
    line(fd, "blocks not kept", LOAD(bc_rejects));
    line(fd, "evicted (bytes bound)", LOAD(bc_evicted));
    line(fd, "evicted (decay)", LOAD(bc_decayed));
    bytes_line(fd, "bytes held", hak_bigcache_held());
    bytes_line(fd, "bytes held (peak)", LOAD(bc_bytes_peak));
    bytes_line(fd, "bytes bound (now)", hak_bigcache_bound());
    line(fd, "large in-place resizes", LOAD(large_inplace));
    line(fd, "large mremaps", LOAD(large_mremaps));
    bytes_line(fd, "large bytes fresh", LOAD(large_fresh_bytes));
    hak_write_str(fd, "batch\n");
    line(fd, "ranges released", LOAD(batch_ranges));
    bytes_line(fd, "bytes released", LOAD(batch_bytes));
    line(fd, "flushes", LOAD(batch_flushes));
    line(fd, "ranges coalesced", LOAD(batch_coalesced));
    line(fd, "madvise calls (release)", LOAD(madvise_calls));
    bytes_line(fd, "madvise bytes (release)", LOAD(madvise_bytes));
    line(fd, "madvise calls (huge pages)", LOAD(advise_calls));
    line(fd, "pending reused", LOAD(batch_reused));
    line(fd, "retained reused", LOAD(retained_reused));
    line(fd, "reuses cancelled", LOAD(batch_cancels));
    line(fd, "slabs decommitted", LOAD(slab_decommits));
    bytes_line(fd, "bytes retained", hak_batch_retained());
    elo_report(fd);
    classes_report(fd);
#if HAKMEM_DEBUG_COUNTERS
    hak_counter_totals_t t;
    hak_heap_counters_sum(&t);
#define HAK_X(n) line(fd, #n, t.n);
    hak_write_str(fd, "debug counters: refill stages\n");
    HAK_COUNTERS_REFILL(HAK_X)
    hak_write_str(fd, "debug counters: free pipeline\n");
    HAK_COUNTERS_FREE(HAK_X)
    hak_write_str(fd, "debug counters: early returns\n");
    HAK_COUNTERS_EARLY(HAK_X)
    hak_write_str(fd, "debug counters: spills\n");
    HAK_COUNTERS_SPILL(HAK_X)
#undef HAK_X
#endif
    hak_write_str(fd, "options\n");
    hak_options_print(fd);
}

/* HAKMEM_STATS_FILE with each %p replaced by the pid, so that forked
 * children and the several programs of a pipeline each get a file of
 * their own; false if it does not fit. */
static bool stats_path(char *out, size_t size, const char *name)
{
    char pid[24];
    size_t plen = hak_fmt_u64(pid, (uint64_t)getpid()), n = 0;
    for (const char *s = name; *s; s++) {
        const char *piece = s;
        size_t len = 1;
        if (s[0] == '%' && s[1] == 'p') {
            piece = pid;
            len = plen;
            s++;
        }
        if (n + len >= size)
            return false;
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
    return true;
}

void hak_stats_exit_report(void)
{
    static char path[PATH_MAX];       /* static: destructors may run on a small stack */
    int fd = 2;
    if (hak_opt.stats_file != NULL) {
        /* Appended to: a file named without %p may be shared by a parent
         * and its children, and no report should wipe out another. */
        if (stats_path(path, sizeof path, hak_opt.stats_file))
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
        else
            fd = -1;
        if (fd < 0) {
            hak_warnf("cannot open HAKMEM_STATS_FILE=%s; the report goes to stderr",
                      hak_opt.stats_file);
            fd = 2;
        }
    }
    hak_stats_report(fd);
    if (fd != 2)
        close(fd);
}
