/* Mid classes (1 KiB - 256 KiB): spans of several slabs, the small
 * per-thread cache, alignment from class geometry, cross-thread frees. */
#include "unit.h"
#include <pthread.h>

START_TEST(test_each_mid_class_serves_its_whole_usable_size)
{
    unit_init();
    for (unsigned c = HAK_NTINY; c < HAK_NCLASS; c++) {
        size_t size = hak_classes[c].bsize - 7;
        unsigned char *p = hak_malloc(size);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        ck_assert_uint_eq(hak_malloc_usable_size(p), hak_classes[c].bsize);
        memset(p, 0xa5, hak_classes[c].bsize);
        hak_span_t *s = hak_span_of((uintptr_t)p);
        ck_assert_uint_eq(s->cls, c);
        ck_assert_uint_eq(s->nslabs, hak_classes[c].nslabs);
        hak_free(p);
    }
}
END_TEST

START_TEST(test_mid_blocks_do_not_overlap)
{
    unit_init();
    enum { N = 300 };
    static unsigned char *v[N];
    static size_t sz[N];
    for (int i = 0; i < N; i++) {
        sz[i] = 1025 + (size_t)i * 877 % (HAK_MID_MAX - 1025);
        v[i] = hak_malloc(sz[i]);
        memset(v[i], i, sz[i]);
    }
    for (int i = 0; i < N; i++) {
        size_t bad = sz[i];
        for (size_t k = 0; k < sz[i] && bad == sz[i]; k += 251)
            if (v[i][k] != (unsigned char)i)
                bad = k;
        ck_assert_uint_eq(bad, sz[i]);
        hak_free(v[i]);
    }
}
END_TEST

START_TEST(test_page_aligned_request_comes_from_a_mid_class)
{
    unit_init();
    void *p = hak_aligned_alloc(4096, 100);
    ck_assert_uint_eq((uintptr_t)p % 4096, 0);
    hak_span_t *s = hak_span_of((uintptr_t)p);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->bsize % 4096, 0);
    hak_free(p);
    void *q = hak_aligned_alloc(65536, 70000);
    ck_assert_uint_eq((uintptr_t)q % 65536, 0);
    hak_free(q);
}
END_TEST

static void *free_all(void *arg)
{
    void **v = arg;
    for (int i = 0; v[i]; i++)
        hak_free(v[i]);
    return NULL;
}

START_TEST(test_mid_blocks_freed_by_another_thread_are_reused)
{
    unit_init();
    enum { N = 64 };
    void *v[N + 1];
    for (int rounds = 0; rounds < 20; rounds++) {
        for (int i = 0; i < N; i++)
            v[i] = hak_malloc(20000);
        v[N] = NULL;
        pthread_t t;
        pthread_create(&t, NULL, free_all, v);
        pthread_join(t, NULL);
    }
    /* 20 rounds of 64 blocks would need 1280 blocks without reuse */
    ck_assert_uint_lt(atomic_load(&hak_stats.spans_acquired) - atomic_load(&hak_stats.spans_released),
                      N * 20 / (HAK_SLAB_SIZE * 3 / 20480));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mid");
    TCase *tc = tcase_create("classes");
    UNIT_TEST(tc, test_each_mid_class_serves_its_whole_usable_size);
    UNIT_TEST(tc, test_mid_blocks_do_not_overlap);
    UNIT_TEST(tc, test_page_aligned_request_comes_from_a_mid_class);
    UNIT_TEST(tc, test_mid_blocks_freed_by_another_thread_are_reused);
    suite_add_tcase(s, tc);
    return s;
}
UNIT_MAIN(suite)
