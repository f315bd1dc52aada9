/* unit.h — shared helpers of the white-box suites, which link the
 * allocator statically (lib/libhakmem-internal.la) to reach its internals. */
#ifndef HAKMEM_TESTS_UNIT_H
#define HAKMEM_TESTS_UNIT_H

#include "../../lib/alloc.h"
#include <check.h>
#include "../sanitizer.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Whether the mapping that holds `a` carries a VmFlags flag ("hg":
 * MADV_HUGEPAGE, "nh": MADV_NOHUGEPAGE).  Static buffer: reading
 * allocates nothing. */
static inline bool vma_has_flag(uintptr_t a, const char *flag)
{
    static char buf[4 << 20];
    int fd = open("/proc/self/smaps", O_RDONLY);
    ck_assert_int_ge(fd, 0);
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    buf[len] = '\0';
    bool inside = false;
    for (char *line = buf; *line != '\0';) {
        char *end = strchr(line, '\n');
        if (end != NULL)
            *end = '\0';
        uintptr_t lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            inside = lo <= a && a < hi;
        else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            char pat[8];
            snprintf(pat, sizeof pat, " %s", flag);
            return strstr(line, pat) != NULL;
        }
        if (end == NULL)
            break;
        line = end + 1;
    }
    ck_abort_msg("no mapping holds %#lx", (unsigned long)a);
    return false;
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
