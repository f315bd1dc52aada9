/* unit.h — shared helpers of the white-box suites, which link the
 * allocator statically (lib/libhakmem-internal.la) to reach its internals. */
#ifndef HAKMEM_TESTS_UNIT_H
#define HAKMEM_TESTS_UNIT_H

#include "../../lib/alloc.h"
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Forces the fallback slab source when the variant asks for it (the
 * checks run once with SuperSlabs and once without). */
static inline void unit_init(void)
{
    const char *v = getenv("UNIT_STANDALONE");
    if (v && *v == '1')
        setenv("HAKMEM_TINY_USE_SUPERSLAB", "0", 1);
    void *p = hak_malloc(1);
    hak_free(p);
}

#define UNIT_MAIN(make_suite)                                   \
    int main(void)                                              \
    {                                                           \
        SRunner *sr = srunner_create(make_suite());             \
        srunner_run_all(sr, CK_NORMAL);                         \
        int failed = srunner_ntests_failed(sr);                 \
        srunner_free(sr);                                       \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;            \
    }

#define UNIT_TEST(tc, fn) tcase_add_test(tc, fn)

/* As in tests/expect.h: under --enable-sanitizer=NAME (HAK_TEST_SANITIZER
 * in the test environment) a check that cannot run returns at once,
 * printing one line that says why. */
#define SKIP_UNDER_SANITIZER(name, why)                                                  \
    do {                                                                                 \
        const char *sk_san_ = getenv("HAK_TEST_SANITIZER");                              \
        if (sk_san_ != NULL && strcmp(sk_san_, (name)) == 0) {                           \
            fprintf(stderr, "%s: skipped under -fsanitize=%s: %s\n", __func__, sk_san_,  \
                    (why));                                                              \
            return;                                                                      \
        }                                                                                \
    } while (0)
#endif
