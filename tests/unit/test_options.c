/* Options: HAKMEM_* variables are read once at initialisation; a bad value
 * is reported on stderr with its valid range and the default is kept; an
 * unknown HAKMEM_* name is reported and ignored. */
#include "unit.h"
#include <fcntl.h>
#include <unistd.h>

/* Initialises hakmem with stderr captured; returns what was written. */
static const char *init_capturing_stderr(void)
{
    static char buf[4096];
    char path[] = "/tmp/hakmem-options-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    unlink(path);
    dup2(fd, 2);
    unit_init();
    dup2(saved, 2);
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    close(saved);
    return buf;
}

START_TEST(test_valid_values_are_applied)
{
    setenv("HAKMEM_SS_CACHE", "7", 1);
    setenv("HAKMEM_STATS", "0", 1);
    setenv("HAKMEM_TLS_CAP_SCALE", "200", 1);
    const char *err = init_capturing_stderr();
    ck_assert_str_eq(err, "");
    ck_assert_uint_eq(hak_opt.ss_cache, 7);
    ck_assert(!hak_opt.stats);
    ck_assert_uint_eq(hak_opt.tls_cap_scale, 200);
    ck_assert_uint_eq(hak_classes[0].cap, 256);          /* clamped at its maximum */
    ck_assert_uint_eq(hak_classes[HAK_NTINY - 1].cap, 64);
}
END_TEST

START_TEST(test_out_of_range_value_warns_and_keeps_default)
{
    setenv("HAKMEM_SS_CACHE", "5000", 1);
    const char *err = init_capturing_stderr();
    ck_assert_str_eq(err, "hakmem: HAKMEM_SS_CACHE=5000 is not valid (0..1024); using the default\n");
    ck_assert_uint_eq(hak_opt.ss_cache, 4);
}
END_TEST

START_TEST(test_non_numeric_value_warns_and_keeps_default)
{
    setenv("HAKMEM_TINY_USE_SUPERSLAB", "banana", 1);
    const char *err = init_capturing_stderr();
    ck_assert_str_eq(err, "hakmem: HAKMEM_TINY_USE_SUPERSLAB=banana is not valid "
                          "(0/1, no/yes, off/on, false/true); using the default\n");
    ck_assert(hak_opt.use_superslab == (HAKMEM_SUPERSLAB != 0));
}
END_TEST

START_TEST(test_boolean_words)
{
    setenv("HAKMEM_DECAY_THREAD", "OFF", 1);
    setenv("HAKMEM_MADV_FREE", "Yes", 1);
    setenv("HAKMEM_LARGE_HUGEPAGE", "no", 1);
    setenv("HAKMEM_ELO", "TRUE", 1);
    const char *err = init_capturing_stderr();
    ck_assert_str_eq(err, "");
    ck_assert(!hak_opt.decay_thread && hak_opt.madv_free);
    ck_assert(!hak_opt.large_hugepage && hak_opt.elo);
}
END_TEST

START_TEST(test_partial_boolean_word_is_not_valid)
{
    setenv("HAKMEM_ELO", "tru", 1);
    setenv("HAKMEM_MADV_FREE", "yess", 1);
    const char *err = init_capturing_stderr();
    ck_assert_ptr_nonnull(strstr(err, "HAKMEM_ELO=tru is not valid"));
    ck_assert_ptr_nonnull(strstr(err, "HAKMEM_MADV_FREE=yess is not valid"));
    ck_assert(hak_opt.elo && !hak_opt.madv_free);           /* the defaults */
}
END_TEST

START_TEST(test_string_option_points_into_environ)
{
    setenv("HAKMEM_STATS_FILE", "/tmp/report.%p", 1);
    const char *err = init_capturing_stderr();
    ck_assert_str_eq(err, "");
    ck_assert_str_eq(hak_opt.stats_file, "/tmp/report.%p");
    ck_assert_ptr_eq(hak_opt.stats_file, getenv("HAKMEM_STATS_FILE"));
}
END_TEST

START_TEST(test_verbose_lists_build_and_options)
{
    setenv("HAKMEM_VERBOSE", "1", 1);
    setenv("HAKMEM_SS_CACHE", "9", 1);
    const char *err = init_capturing_stderr();
    ck_assert_ptr_nonnull(strstr(err, "hakmem " PACKAGE_VERSION ", built with: superslab (default) "));
    ck_assert_ptr_nonnull(strstr(err, "\n  HAKMEM_SS_CACHE=9  # "));
    ck_assert_ptr_nonnull(strstr(err, "\n  HAKMEM_VERBOSE=1  # "));
    ck_assert_ptr_nonnull(strstr(err, "\n  HAKMEM_STATS_FILE=  # "));
}
END_TEST

START_TEST(test_empty_value_warns_and_keeps_default)
{
    setenv("HAKMEM_MID_MAX", "", 1);
    const char *err = init_capturing_stderr();
    ck_assert_str_eq(err, "hakmem: HAKMEM_MID_MAX= is not valid (1024..262144); using the default\n");
    ck_assert_uint_eq(hak_opt.mid_max, HAK_MID_MAX);
}
END_TEST

START_TEST(test_unknown_option_is_reported_and_ignored)
{
    setenv("HAKMEM_SUPERSLAB", "0", 1);
    const char *err = init_capturing_stderr();
    ck_assert_str_eq(err, "hakmem: unknown option HAKMEM_SUPERSLAB ignored\n");
}
END_TEST

START_TEST(test_stats_report_lists_options)
{
    unit_init();
    char path[] = "/tmp/hakmem-stats-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    hak_stats_print(fd);
    char buf[8192];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_ptr_nonnull(strstr(buf, "hakmem " PACKAGE_VERSION " statistics\n"));
    ck_assert_ptr_nonnull(strstr(buf, "  HAKMEM_SS_CACHE=4"));
    ck_assert_ptr_nonnull(strstr(buf, "spans acquired"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("environment");
    UNIT_TEST(tc, test_valid_values_are_applied);
    UNIT_TEST(tc, test_out_of_range_value_warns_and_keeps_default);
    UNIT_TEST(tc, test_non_numeric_value_warns_and_keeps_default);
    UNIT_TEST(tc, test_boolean_words);
    UNIT_TEST(tc, test_partial_boolean_word_is_not_valid);
    UNIT_TEST(tc, test_string_option_points_into_environ);
    UNIT_TEST(tc, test_verbose_lists_build_and_options);
    UNIT_TEST(tc, test_empty_value_warns_and_keeps_default);
    UNIT_TEST(tc, test_unknown_option_is_reported_and_ignored);
    UNIT_TEST(tc, test_stats_report_lists_options);
    suite_add_tcase(s, tc);
    return s;
}
UNIT_MAIN(suite)
