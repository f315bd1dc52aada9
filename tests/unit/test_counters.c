/* Debug counters (--enable-debug-counters): each thread counts in its own
 * heap; the report must add up the live heaps, the heaps of threads that
 * have exited, and the threads that never had a heap, so that N frees
 * show up as N in the free pipeline whoever made them.  Counts are read
 * from the report itself, as a user would. */
#include "unit.h"
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <unistd.h>

#define N 3000           /* more than a tls_sll holds: spills happen too */

typedef struct {
#define HAK_X(n) uint64_t n;
    HAK_COUNTERS(HAK_X)
#undef HAK_X
} counts_t;

/* The value on the report's line "  name   value". */
static uint64_t report_value(const char *report, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n  %s ", name);
    const char *p = strstr(report, key);
    ck_assert_msg(p != NULL, "no %s in the report", name);
    return strtoull(p + strlen(key), NULL, 10);
}

static counts_t counts(void)
{
    static char buf[16384];
    char path[] = "/tmp/hakmem-counters-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    hak_stats_print(fd);
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_ptr_nonnull(strstr(buf, "debug counters: refill stages\n"));
    ck_assert_ptr_nonnull(strstr(buf, "debug counters: free pipeline\n"));
    ck_assert_ptr_nonnull(strstr(buf, "debug counters: early returns\n"));
    ck_assert_ptr_nonnull(strstr(buf, "debug counters: spills\n"));
    counts_t c;
#define HAK_X(n) c.n = report_value(buf, #n);
    HAK_COUNTERS(HAK_X)
#undef HAK_X
    return c;
}

static uint64_t refills(const counts_t *c)
{
    return c->refill_local + c->refill_remote + c->refill_carve + c->refill_partial +
           c->refill_adopt + c->refill_steal + c->refill_new_span;
}

static pthread_barrier_t freed, report_read;

/* Allocates and frees N blocks of its own, then waits while the main
 * thread reads the report with this heap still live. */
static void *own_frees(void *arg)
{
    static __thread void *blocks[N];
    size_t size = (size_t)(uintptr_t)arg;
    for (int i = 0; i < N; i++)
        ck_assert_ptr_nonnull(blocks[i] = hak_malloc(size));
    for (int i = 0; i < N; i++)
        hak_free(blocks[i]);
    pthread_barrier_wait(&freed);
    pthread_barrier_wait(&report_read);
    return NULL;
}

START_TEST(test_frees_from_two_threads_add_up)
{
    unit_init();
    counts_t before = counts();
    pthread_t t[2];
    pthread_barrier_init(&freed, NULL, 3);
    pthread_barrier_init(&report_read, NULL, 3);
    pthread_create(&t[0], NULL, own_frees, (void *)(uintptr_t)48);
    pthread_create(&t[1], NULL, own_frees, (void *)(uintptr_t)200);
    pthread_barrier_wait(&freed);
    counts_t live = counts();           /* both heaps live */
    pthread_barrier_wait(&report_read);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    counts_t after = counts();          /* both heaps retired */
    /* An owner's free always ends on its tls_sll (after a spill if full). */
    ck_assert_uint_eq(live.free_tls_sll - before.free_tls_sll, 2 * N);
    ck_assert_uint_eq(after.free_tls_sll - before.free_tls_sll, 2 * N);
    ck_assert_uint_eq(after.free_ss_remote, before.free_ss_remote);
    /* N blocks do not fit in a tls_sll: some went back to their spans. */
    ck_assert_uint_gt(live.spill, before.spill);
    ck_assert_uint_gt(live.free_ss_local, before.free_ss_local);
    ck_assert_uint_gt(refills(&live), refills(&before));
    /* Retiring a heap loses no counts and repeats none.  (Exit flushes
     * the tls_sll to the spans, which adds spills; nothing refills.) */
#define HAK_X(n) ck_assert_uint_ge(after.n, live.n);
    HAK_COUNTERS(HAK_X)
#undef HAK_X
#define HAK_X(n) ck_assert_uint_eq(after.n, live.n);
    HAK_COUNTERS_REFILL(HAK_X)
#undef HAK_X
}
END_TEST

static void *blocks_of_thread[N];

static void *allocate_only(void *arg)
{
    for (int i = 0; i < N; i++)
        ck_assert_ptr_nonnull(blocks_of_thread[i] = hak_malloc(64));
    return arg;
}

/* The main thread has no heap (it never allocated): its frees count in
 * the global totals; then the same with a heap. */
static void remote_frees(bool main_has_heap)
{
    if (main_has_heap)
        unit_init();
    pthread_t t;
    pthread_create(&t, NULL, allocate_only, NULL);
    pthread_join(t, NULL);
    counts_t before = counts();
    for (int i = 0; i < N; i++)
        hak_free(blocks_of_thread[i]);
    for (int i = 0; i < 5; i++)
        hak_free(NULL);
    counts_t after = counts();
    ck_assert_uint_eq(after.free_ss_remote - before.free_ss_remote, N);
    ck_assert_uint_eq(after.free_null - before.free_null, 5);
    ck_assert_uint_eq(after.free_tls_sll, before.free_tls_sll);
}

START_TEST(test_remote_frees_without_a_heap) { remote_frees(false); }
END_TEST

START_TEST(test_remote_frees_with_a_heap) { remote_frees(true); }
END_TEST

START_TEST(test_large_free_and_early_returns)
{
    unit_init();
    counts_t before = counts();
    void *big = hak_malloc((size_t)1 << 20);
    ck_assert_ptr_nonnull(big);
    hak_free(big);
    void *p = hak_malloc(100);
    ck_assert_ptr_eq(hak_realloc(p, 90), p);
    hak_free(p);
    counts_t after = counts();
    ck_assert_uint_eq(after.free_large - before.free_large, 1);
    ck_assert_uint_ge(after.realloc_inplace - before.realloc_inplace, 1);
    ck_assert_uint_eq(after.free_invalid, before.free_invalid);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("counters");
    TCase *tc = tcase_create("sums");
    UNIT_TEST(tc, test_frees_from_two_threads_add_up);
    UNIT_TEST(tc, test_remote_frees_without_a_heap);
    UNIT_TEST(tc, test_remote_frees_with_a_heap);
    UNIT_TEST(tc, test_large_free_and_early_returns);
    suite_add_tcase(s, tc);
    return s;
}
UNIT_MAIN(suite)
