/* Check suite "api": black-box tests of the public hak_* API
 * (include/hakmem.h), linked against libhakmem.  In this program malloc is
 * still glibc's, which gives us genuinely foreign heap pointers for the
 * misuse tests. */
#include "hakmem.h"

#include <stdlib.h>

#define A(name) hak_##name
#define RULES_PREFIX "hak_"
#define TRIM(pad) hak_trim(pad)

static void *foreign_alloc(size_t n)
{
    return malloc(n); /* glibc's */
}

#include "rules.h"

#include <fcntl.h>

START_TEST(test_version_matches_header)
{
    const char *v = hak_version();
    char want[64];
    EXPECT_NONNULL(v);
    snprintf(want, sizeof want, "%d.%d.%d", HAKMEM_VERSION_MAJOR, HAKMEM_VERSION_MINOR, HAKMEM_VERSION_PATCH);
    EXPECT_STR_EQ(v, want);
}
END_TEST

START_TEST(test_alloc_at_and_free_at_work_across_layers)
{
    static const char site_a, site_b;
    for (size_t i = 0; i < NELEM(boundary_sizes); i++) {
        size_t s = boundary_sizes[i];
        unsigned char *p = hak_alloc_at(opaque_size(s), &site_a);
        unsigned char *q = hak_alloc_at(opaque_size(s), &site_b);
        EXPECT_NONNULL(p);
        EXPECT_NONNULL(q);
        EXPECT_PTR_NE(p, q);
        if (s >= 16)
            EXPECT1(is_aligned(p, 16) && is_aligned(q, 16));
        EXPECT1(hak_malloc_usable_size(p) >= s);
        fill_bytes(p, s, 1);
        fill_bytes(q, s, 2);
        EXPECT1(check_bytes(p, s, 1) == (size_t)-1);
        EXPECT1(check_bytes(q, s, 2) == (size_t)-1);
        hak_free_at(p, &site_a);
        hak_free_at(q, &site_b);
    }
}
END_TEST

START_TEST(test_alloc_at_large_blocks_recycled_per_site_are_intact)
{
    /* the same site allocating the same large size again and again (the
     * BigCache case): every block is fully writable and independent */
    static const char site;
    for (int it = 0; it < 50; it++) {
        size_t s = MiB + (size_t)(it % 5) * 4096;
        unsigned char *p = hak_alloc_at(opaque_size(s), &site);
        unsigned char *q = hak_alloc_at(opaque_size(s), &site);
        EXPECT_NONNULL(p);
        EXPECT_NONNULL(q);
        EXPECT_PTR_NE(p, q);
        memset(p, 0x11, s);
        memset(q, 0x22, s);
        EXPECT_INT_EQ(p[s - 1], 0x11);
        EXPECT_INT_EQ(q[0], 0x22);
        hak_free_at(q, &site);
        hak_free_at(p, &site);
    }
}
END_TEST

START_TEST(test_free_at_null_is_noop)
{
    static const char site;
    hak_free_at(NULL, &site);
    hak_free_at(NULL, NULL);
}
END_TEST

START_TEST(test_alloc_at_blocks_freed_with_hak_free)
{
    static const char site;
    static const size_t sizes[] = { 24, 3000, 400000 };
    for (size_t i = 0; i < NELEM(sizes); i++) {
        void *p = hak_alloc_at(sizes[i], &site);
        EXPECT_NONNULL(p);
        memset(p, 1, sizes[i]);
        hak_free(p);
        void *q = hak_malloc(sizes[i]);
        EXPECT_NONNULL(q);
        memset(q, 2, sizes[i]);
        hak_free_at(q, &site);
    }
}
END_TEST

START_TEST(test_alloc_at_huge_returns_null_enomem)
{
    static const char site;
    errno = 0;
    EXPECT_NULL(hak_alloc_at(opaque_size(SIZE_MAX), &site));
    EXPECT_INT_EQ(errno, ENOMEM);
}
END_TEST

START_TEST(test_stats_print_writes_report_to_fd)
{
    void *p = hak_malloc(100);
    hak_free(p);
    char path[] = "/tmp/hakmem-stats-XXXXXX";
    int fd = mkstemp(path);
    EXPECT_INT_GE(fd, 0);
    unlink(path);
    hak_stats_print(fd);
    off_t end = lseek(fd, 0, SEEK_END);
    close(fd);
    EXPECT(end > 0, "hak_stats_print wrote nothing");
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    suite_add_tcase(s, rules_semantics_tcase());
    suite_add_tcase(s, rules_misuse_tcase());

    TCase *tc = tcase_create("extensions");
    tcase_set_timeout(tc, timeout_at_least(30));
    tcase_add_test(tc, test_version_matches_header);
    tcase_add_test(tc, test_alloc_at_and_free_at_work_across_layers);
    tcase_add_test(tc, test_alloc_at_large_blocks_recycled_per_site_are_intact);
    tcase_add_test(tc, test_free_at_null_is_noop);
    tcase_add_test(tc, test_alloc_at_blocks_freed_with_hak_free);
    tcase_add_test(tc, test_alloc_at_huge_returns_null_enomem);
    tcase_add_test(tc, test_stats_print_writes_report_to_fd);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return rules_run(api_suite());
}
