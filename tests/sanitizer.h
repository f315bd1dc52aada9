/* sanitizer.h — tests in a build configured with --enable-sanitizer=NAME
 * run with HAK_TEST_SANITIZER=NAME.  What cannot run under that sanitizer
 * says so on one line and steps aside: a check returns at once (Check has
 * no "skipped" result: it counts as passed), a whole program exits 77,
 * automake's SKIP. */
#ifndef HAKMEM_TESTS_SANITIZER_H
#define HAKMEM_TESTS_SANITIZER_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline bool under_sanitizer(const char *name)
{
    const char *san = getenv("HAK_TEST_SANITIZER");
    return san != NULL && strcmp(san, name) == 0;
}

#define SKIP_UNDER_SANITIZER(name, why)                                                  \
    do {                                                                                 \
        if (under_sanitizer(name)) {                                                     \
            fprintf(stderr, "%s: skipped under -fsanitize=%s: %s\n", __func__, (name),   \
                    (why));                                                              \
            return;                                                                      \
        }                                                                                \
    } while (0)

#define SKIP_PROGRAM_UNDER_SANITIZER(name, what, why)                                    \
    do {                                                                                 \
        if (under_sanitizer(name)) {                                                     \
            printf("SKIP: %s under -fsanitize=%s: %s\n", (what), (name), (why));         \
            exit(77);                                                                    \
        }                                                                                \
    } while (0)

#endif
