/* Assertions for the hakmem Check suites.  Check's own ck_assert* report
 * every *passing* check to the runner process (one write per assertion),
 * which is far too slow inside the loops of an allocator test; these are
 * silent on success and fail through ck_abort_msg with a clear message. */
#ifndef HAKMEM_TESTS_EXPECT_H
#define HAKMEM_TESTS_EXPECT_H

#include <check.h>
#include "sanitizer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

#define EXPECT(cond, ...)                \
    do {                                 \
        if (!(cond))                     \
            ck_abort_msg(__VA_ARGS__);   \
    } while (0)

#define EXPECT1(cond) EXPECT(cond, "Assertion '%s' failed", #cond)

#define EXPECT_NONNULL(p) EXPECT((p) != NULL, "'%s' is NULL", #p)
#define EXPECT_NULL(p)                                                     \
    do {                                                                   \
        const void *ex_p_ = (p);                                           \
        EXPECT(ex_p_ == NULL, "'%s' is %p, expected NULL", #p, ex_p_);     \
    } while (0)
#define EXPECT_PTR_CMP(a, op, b)                                                                  \
    do {                                                                                          \
        const void *ex_a_ = (a), *ex_b_ = (b);                                                    \
        EXPECT(ex_a_ op ex_b_, "'%s %s %s' failed: %p vs %p", #a, #op, #b, ex_a_, ex_b_);         \
    } while (0)
#define EXPECT_PTR_EQ(a, b) EXPECT_PTR_CMP(a, ==, b)
#define EXPECT_PTR_NE(a, b) EXPECT_PTR_CMP(a, !=, b)

#define EXPECT_INT_CMP(a, op, b)                                                                  \
    do {                                                                                          \
        long long ex_a_ = (long long)(a), ex_b_ = (long long)(b);                                 \
        EXPECT(ex_a_ op ex_b_, "'%s %s %s' failed: %lld vs %lld", #a, #op, #b, ex_a_, ex_b_);     \
    } while (0)
#define EXPECT_INT_EQ(a, b) EXPECT_INT_CMP(a, ==, b)
#define EXPECT_INT_NE(a, b) EXPECT_INT_CMP(a, !=, b)
#define EXPECT_INT_GE(a, b) EXPECT_INT_CMP(a, >=, b)
#define EXPECT_INT_GT(a, b) EXPECT_INT_CMP(a, >, b)
#define EXPECT_INT_LE(a, b) EXPECT_INT_CMP(a, <=, b)

#define EXPECT_UINT_CMP(a, op, b)                                                                 \
    do {                                                                                          \
        unsigned long long ex_a_ = (unsigned long long)(a), ex_b_ = (unsigned long long)(b);      \
        EXPECT(ex_a_ op ex_b_, "'%s %s %s' failed: %llu vs %llu", #a, #op, #b, ex_a_, ex_b_);     \
    } while (0)
#define EXPECT_UINT_EQ(a, b) EXPECT_UINT_CMP(a, ==, b)
#define EXPECT_UINT_GT(a, b) EXPECT_UINT_CMP(a, >, b)

#define EXPECT_STR_EQ(a, b)                                                                       \
    do {                                                                                          \
        const char *ex_a_ = (a), *ex_b_ = (b);                                                    \
        EXPECT(strcmp(ex_a_, ex_b_) == 0, "'%s' is \"%s\", expected \"%s\"", #a, ex_a_, ex_b_);  \
    } while (0)

/* Check's tcase_set_timeout overrides CK_DEFAULT_TIMEOUT; honour a larger
 * value from the environment (CK_TIMEOUT_MULTIPLIER is applied by Check). */
static inline double timeout_at_least(double want)
{
    const char *e = getenv("CK_DEFAULT_TIMEOUT");
    if (e && *e) {
        double v = atof(e);
        if (v > want)
            return v;
    }
    return want;
}


/* Runs fn in a child with stderr on a pipe; the child must die of SIGABRT
 * after writing exactly one line starting with "hakmem: ". */
static inline void expect_diagnostic(void (*fn)(void), const char *what)
{
    int pfd[2];
    EXPECT_INT_EQ(pipe(pfd), 0);
    fflush(NULL);
    pid_t pid = fork();
    EXPECT_INT_NE(pid, -1);
    if (pid == 0) {
        struct rlimit rl = { 0, 0 };
        setrlimit(RLIMIT_CORE, &rl);
        close(pfd[0]);
        dup2(pfd[1], 2);
        close(pfd[1]);
        alarm(20);
        fn();
        _exit(0);
    }
    close(pfd[1]);
    char buf[4096];
    size_t len = 0;
    for (;;) {
        char tmp[512];
        ssize_t n = read(pfd[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t k = 0; k < n && len < sizeof buf - 1; k++)
            buf[len++] = tmp[k];
    }
    close(pfd[0]);
    buf[len] = 0;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st))
        ck_abort_msg("%s: child exited with status %d instead of aborting; stderr: \"%s\"", what,
                     WEXITSTATUS(st), buf);
    EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
                  "%s: child killed by signal %d, expected SIGABRT (%d); stderr: \"%s\"", what, WTERMSIG(st),
                  SIGABRT, buf);
    EXPECT(len > 8 && strncmp(buf, "hakmem: ", 8) == 0,
                  "%s: stderr does not start with \"hakmem: \": \"%s\"", what, buf);
    EXPECT((const char *)memchr(buf, '\n', len) == buf + len - 1, "%s: stderr is not exactly one line: \"%s\"", what,
                  buf);
}

#endif
