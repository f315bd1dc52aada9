/* unit.h — shared helpers of the white-box suites, which link the
 * allocator statically (lib/libhakmem-internal.la) to reach its internals. */
#ifndef HAKMEM_TESTS_UNIT_H
#define HAKMEM_TESTS_UNIT_H

#include "../../lib/alloc.h"
#include <check.h>
#include "../sanitizer.h"
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

#endif
