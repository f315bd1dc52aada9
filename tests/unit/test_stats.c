/* Size-class statistics, always on: N allocations of one class and M
 * frees by two threads (some of them remote) must show up as exactly
 * those numbers in the report's "size classes" section, while the
 * allocating heap is live and after it is retired, and in hak_stats_get.
 * Counts are read from the report itself, as a user would.  And the
 * report's layout: values in one column, byte figures exact and in units. */
#include "unit.h"
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#define N 3000           /* more than a tls_sll holds: refills and spills happen */
#define M_OWN 1700       /* freed by the allocating thread */
#define M_REMOTE 900     /* freed by the main thread: remote frees */

typedef struct {
    uint64_t allocs, frees, in_use, bytes, peak;
} class_line_t;

static char report[65536];

static void read_report(void)
{
    char path[] = "/tmp/hakmem-stats-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    hak_stats_print(fd);
    ssize_t n = pread(fd, report, sizeof report - 1, 0);
    close(fd);
    ck_assert_int_gt(n, 0);
    report[n] = '\0';
    ck_assert_ptr_nonnull(strstr(report, "\nsize classes ("));
}

/* "  class SIZE: allocs, frees, in use, bytes, peak"; all 0 if absent
 * (a class is listed once used). */
static class_line_t class_line(size_t bsize)
{
    class_line_t c = { 0 };
    char key[48];
    snprintf(key, sizeof key, "\n  class %zu: ", bsize);
    const char *p = strstr(report, key);
    if (p == NULL)
        return c;
    int k = sscanf(p + strlen(key), "%lu, %lu, %lu, %lu, %lu", &c.allocs, &c.frees,
                   &c.in_use, &c.bytes, &c.peak);
    ck_assert_int_eq(k, 5);
    return c;
}

static uint64_t report_value(const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n  %s ", name);
    const char *p = strstr(report, key);
    ck_assert_msg(p != NULL, "no %s in the report", name);
    return strtoull(p + strlen(key), NULL, 10);
}

/* Where the value of a "  label  value" line starts, or -1 for the lines
 * that are tables of their own: a size class ("  class 48: ...") or an
 * arm of the leaderboard ("  512 KiB: ..."). */
static int value_column(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && line[i] == ' ')
        i++;
    if (i < 2 || i == len || (line[i] >= '0' && line[i] <= '9') ||
        strncmp(line + i, "class ", 6) == 0)
        return -1;
    while (i + 1 < len && !(line[i] == ' ' && line[i + 1] == ' '))
        i++;
    ck_assert_msg(i + 1 < len, "no two spaces between label and value: \"%.*s\"", (int)len, line);
    while (line[i] == ' ')
        i++;
    return (int)i;
}

/* Every label/value line before the options (NAME=value, a listing of
 * their own) has its value in one column; returns how many there are. */
static int check_value_column(void)
{
    const char *end = strstr(report, "\noptions\n");
    ck_assert_ptr_nonnull(end);
    int col = -1, lines = 0;
    for (const char *p = report; p < end;) {
        const char *nl = strchr(p, '\n');
        int c = value_column(p, (size_t)(nl - p));
        if (c >= 0) {
            if (col < 0)
                col = c;
            ck_assert_msg(c == col, "value at column %d, not %d: \"%.*s\"", c, col,
                          (int)(nl - p), p);
            lines++;
        }
        p = nl + 1;
    }
    return lines;
}

static void *blocks[N];
static size_t block_size;
static pthread_barrier_t allocated, remote_done, report_read;

/* Allocates N, frees M_OWN of them (the first ones), leaves M_REMOTE
 * to the main thread, and stays alive while the report is read. */
static void *worker(void *arg)
{
    for (int i = 0; i < N; i++)
        ck_assert_ptr_nonnull(blocks[i] = hak_malloc(block_size));
    for (int i = 0; i < M_OWN; i++)
        hak_free(blocks[i]);
    pthread_barrier_wait(&allocated);
    pthread_barrier_wait(&remote_done);
    pthread_barrier_wait(&report_read);
    return arg;
}

static void two_threads(size_t size, bool tiny)
{
    unit_init();
    unsigned c = hak_size_class(size);
    size_t bsize = hak_classes[c].bsize;
    ck_assert_int_eq(c < HAK_NTINY, tiny);
    block_size = size;
    read_report();
    class_line_t before = class_line(bsize);
    struct hak_stats s0, s1, s2;
    ck_assert_int_eq(hak_stats_get(&s0, sizeof s0), 0);
    pthread_barrier_init(&allocated, NULL, 2);
    pthread_barrier_init(&remote_done, NULL, 2);
    pthread_barrier_init(&report_read, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_barrier_wait(&allocated);
    for (int i = M_OWN; i < M_OWN + M_REMOTE; i++)
        hak_free(blocks[i]);
    pthread_barrier_wait(&remote_done);
    read_report();                      /* the worker's heap is live */
    ck_assert_int_eq(hak_stats_get(&s1, sizeof s1), 0);
    class_line_t live = class_line(bsize);
    pthread_barrier_wait(&report_read);
    pthread_join(t, NULL);
    read_report();                      /* ... and retired */
    ck_assert_int_eq(hak_stats_get(&s2, sizeof s2), 0);
    class_line_t after = class_line(bsize);
    const class_line_t *now[2] = { &live, &after };
    for (int k = 0; k < 2; k++) {
        ck_assert_uint_eq(now[k]->allocs - before.allocs, N);
        ck_assert_uint_eq(now[k]->frees - before.frees, M_OWN + M_REMOTE);
        ck_assert_uint_eq(now[k]->in_use - before.in_use, N - M_OWN - M_REMOTE);
        ck_assert_uint_eq(now[k]->bytes - before.bytes, (N - M_OWN - M_REMOTE) * bsize);
        ck_assert_uint_ge(now[k]->peak, N);
    }
    const struct hak_stats *sn[2] = { &s1, &s2 };
    for (int k = 0; k < 2; k++) {
        uint64_t a = tiny ? sn[k]->tiny_allocs - s0.tiny_allocs : sn[k]->mid_allocs - s0.mid_allocs;
        uint64_t f = tiny ? sn[k]->tiny_frees - s0.tiny_frees : sn[k]->mid_frees - s0.mid_frees;
        uint64_t u = tiny ? sn[k]->tiny_in_use - s0.tiny_in_use : sn[k]->mid_in_use - s0.mid_in_use;
        ck_assert_uint_eq(a, N);
        ck_assert_uint_eq(f, M_OWN + M_REMOTE);
        ck_assert_uint_eq(u, N - M_OWN - M_REMOTE);
        ck_assert_uint_eq(sn[k]->remote_frees - s0.remote_frees, M_REMOTE);
        ck_assert_uint_eq(sn[k]->in_use_bytes - s0.in_use_bytes, (N - M_OWN - M_REMOTE) * bsize);
    }
    ck_assert_uint_eq(report_value("remote frees"), s2.remote_frees);
    ck_assert_uint_eq(report_value(tiny ? "tiny allocations" : "mid allocations"),
                      tiny ? s2.tiny_allocs : s2.mid_allocs);
    for (int i = M_OWN + M_REMOTE; i < N; i++)
        hak_free(blocks[i]);
    read_report();
    class_line_t end = class_line(bsize);
    ck_assert_uint_eq(end.in_use, before.in_use);
    ck_assert_uint_eq(end.frees - before.frees, N);
}

START_TEST(test_tiny_class_two_threads) { two_threads(48, true); }
END_TEST

START_TEST(test_mid_class_two_threads) { two_threads(3000, false); }
END_TEST

/* A thread that never had a heap frees remotely too: global counts. */
static void *free_without_heap(void *arg)
{
    for (int i = 0; i < 100; i++)
        hak_free(blocks[i]);
    return arg;
}

START_TEST(test_heapless_remote_frees)
{
    unit_init();
    size_t bsize = hak_classes[hak_size_class(64)].bsize;
    for (int i = 0; i < 100; i++)
        ck_assert_ptr_nonnull(blocks[i] = hak_malloc(64));
    struct hak_stats s0, s1;
    ck_assert_int_eq(hak_stats_get(&s0, sizeof s0), 0);
    read_report();
    class_line_t before = class_line(bsize);
    pthread_t t;
    pthread_create(&t, NULL, free_without_heap, NULL);
    pthread_join(t, NULL);
    ck_assert_int_eq(hak_stats_get(&s1, sizeof s1), 0);
    read_report();
    class_line_t after = class_line(bsize);
    ck_assert_uint_eq(after.frees - before.frees, 100);
    ck_assert_uint_eq(before.in_use - after.in_use, 100);
    ck_assert_uint_eq(s1.remote_frees - s0.remote_frees, 100);
}
END_TEST

START_TEST(test_large_blocks)
{
    unit_init();
    struct hak_stats s0, s1, s2;
    ck_assert_int_eq(hak_stats_get(&s0, sizeof s0), 0);
    void *p = hak_malloc((size_t)4 << 20);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(hak_stats_get(&s1, sizeof s1), 0);
    ck_assert_uint_eq(s1.large_allocs - s0.large_allocs, 1);
    ck_assert_uint_eq(s1.large_in_use - s0.large_in_use, 1);
    ck_assert_uint_ge(s1.in_use_bytes - s0.in_use_bytes, (size_t)4 << 20);
    read_report();
    ck_assert_uint_ge(report_value("large bytes in use"), (size_t)4 << 20);
    hak_free(p);
    ck_assert_int_eq(hak_stats_get(&s2, sizeof s2), 0);
    ck_assert_uint_eq(s2.large_frees - s0.large_frees, 1);
    ck_assert_uint_eq(s2.large_in_use, s0.large_in_use);
    ck_assert_uint_eq(s2.in_use_bytes, s0.in_use_bytes);
    ck_assert_uint_gt(s2.mmap_calls, 0);
    ck_assert_uint_gt(s2.page_faults, 0);
    ck_assert_uint_gt(s2.peak_rss_bytes, 0);
}
END_TEST

/* With the tournament on and off (its line "elo off; release threshold"
 * is among the longest labels). */
START_TEST(test_report_values_aligned_in_one_column)
{
    unit_init();
    void *p = hak_malloc((size_t)4 << 20);
    read_report();
    ck_assert_int_ge(check_value_column(), 60);
    ck_assert_ptr_nonnull(strstr(report, "\n  madvise calls (huge pages)  "));
    bool elo = hak_opt.elo;
    hak_opt.elo = false;
    read_report();
    hak_opt.elo = elo;
    ck_assert_int_ge(check_value_column(), 50);
    ck_assert_ptr_nonnull(strstr(report, "\n  elo off; release threshold  "));
    hak_free(p);
}
END_TEST

/* Edges of the units and of the rounding, in integers (no printf). */
START_TEST(test_fmt_bytes)
{
    static const struct {
        uint64_t v;
        const char *want;
    } t[] = {
        { 0, "0" },
        { 1023, "1023" },
        { 1024, "1024 (1.0 KiB)" },
        { 1075, "1075 (1.0 KiB)" },                 /* 1.0498 */
        { 1076, "1076 (1.1 KiB)" },                 /* 1.0508 */
        { 1535, "1535 (1.5 KiB)" },
        { 1048524, "1048524 (1023.9 KiB)" },
        { 1048525, "1048525 (1.0 MiB)" },          /* 1023.95 KiB rounds up to 1 MiB */
        { 168820736, "168820736 (161.0 MiB)" },
        { 33554432, "33554432 (32.0 MiB)" },
        { (uint64_t)64 << 30, "68719476736 (64.0 GiB)" },
        { ((uint64_t)1 << 40) - 1, "1099511627775 (1.0 TiB)" },
        { UINT64_MAX, "18446744073709551615 (16.0 EiB)" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char buf[HAK_FMT_BYTES_MAX];
        size_t n = hak_fmt_bytes(buf, t[i].v);
        ck_assert_str_eq(buf, t[i].want);
        ck_assert_uint_eq(n, strlen(t[i].want));
    }
}
END_TEST

/* "  label  EXACT (X.Y UNIT)": the exact figure, and the same in units. */
static void check_bytes_line(const char *name, uint64_t exact, const char *unit)
{
    char key[64];
    snprintf(key, sizeof key, "\n  %s  ", name);
    const char *p = strstr(report, key);
    ck_assert_msg(p != NULL, "no %s in the report", name);
    uint64_t v, whole, tenths;
    char u[8];
    ck_assert_int_eq(sscanf(p + strlen(key), " %lu (%lu.%1lu %7[A-Za-z])", &v, &whole, &tenths, u), 4);
    ck_assert_uint_eq(v, exact);
    ck_assert_str_eq(u, unit);
    uint64_t scale = strcmp(unit, "KiB") == 0 ? 1 << 10 : strcmp(unit, "MiB") == 0 ? 1 << 20 : 1u << 30;
    uint64_t shown = whole * scale + tenths * scale / 10;
    ck_assert_uint_le(shown > exact ? shown - exact : exact - shown, scale / 20);
}

START_TEST(test_byte_figures_in_human_units_with_exact_figure)
{
    unit_init();
    void *p = hak_malloc((size_t)4 << 20);
    ck_assert_ptr_nonnull(p);
    struct hak_stats s;
    ck_assert_int_eq(hak_stats_get(&s, sizeof s), 0);
    read_report();
    check_bytes_line("mapped bytes", s.mapped, "MiB");
    check_bytes_line("mapped bytes (peak)", s.mapped_peak, "MiB");
    ck_assert_uint_ge(report_value("large bytes in use"), (size_t)4 << 20);
    check_bytes_line("large bytes in use", report_value("large bytes in use"), "MiB");
    check_bytes_line("peak RSS bytes", report_value("peak RSS bytes"), "MiB");
    const char *c = strstr(report, "\n  mmap calls ");       /* counts stay bare figures */
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(memchr(c, '(', (size_t)(strchr(c + 1, '\n') - c)));
    hak_free(p);
}
END_TEST

/* The arms' thresholds as they are set, right-aligned into a table. */
START_TEST(test_leaderboard_thresholds_in_exact_units)
{
    unit_init();
    read_report();
    static const char *const arm[] = { "\n  512 KiB: ", "\n    1 MiB: ", "\n  256 MiB: ",
                                       "\n    1 GiB: ", "\n   64 GiB: " };
    for (size_t i = 0; i < sizeof arm / sizeof arm[0]; i++)
        ck_assert_msg(strstr(report, arm[i]) != NULL, "no \"%s\" in the leaderboard", arm[i] + 1);
    ck_assert_ptr_null(strstr(report, "1024 KiB: "));
}
END_TEST

/* The size argument: a larger struct (a newer caller) gets the known
 * fields and the rest untouched; a smaller one than the first version is
 * refused. */
START_TEST(test_stats_get_sizes)
{
    unit_init();
    struct {
        struct hak_stats s;
        uint64_t future[4];
    } big;
    memset(&big, 0xab, sizeof big);
    ck_assert_int_eq(hak_stats_get(&big.s, sizeof big), 0);
    ck_assert_uint_eq(big.future[0], 0xababababababababull);
    ck_assert_uint_gt(big.s.mapped, 0);
    struct hak_stats s;
    errno = 0;
    ck_assert_int_eq(hak_stats_get(&s, sizeof s - 8), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(hak_stats_get(NULL, sizeof s), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("size classes");
    tcase_set_timeout(tc, 60);
    UNIT_TEST(tc, test_tiny_class_two_threads);
    UNIT_TEST(tc, test_mid_class_two_threads);
    UNIT_TEST(tc, test_heapless_remote_frees);
    UNIT_TEST(tc, test_large_blocks);
    UNIT_TEST(tc, test_stats_get_sizes);
    UNIT_TEST(tc, test_report_values_aligned_in_one_column);
    UNIT_TEST(tc, test_fmt_bytes);
    UNIT_TEST(tc, test_byte_figures_in_human_units_with_exact_figure);
    UNIT_TEST(tc, test_leaderboard_thresholds_in_exact_units);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
