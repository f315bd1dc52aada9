/* Check suite "commit": what hakmem costs in commit charge.
 *
 * Under strict overcommit (vm.overcommit_memory=2) the kernel charges every
 * private writable mapping in full when it is made, MAP_NORESERVE or not,
 * and refuses mappings past the commit limit; a program whose allocator
 * reserves hundreds of MiB of writable address space cannot start in a
 * small container.  These tests measure, in the same process, the charge
 * before hakmem is first used (Check forks a fresh child per test and
 * nothing in it has called hak_* yet: that is "without hakmem") and after,
 * and require the difference to be what the process actually uses.
 *
 * The charge is computed from /proc/self/smaps whatever the machine's own
 * overcommit mode: a mapping counts if its VmFlags say writable ("wr") and
 * not shared ("sh") or hugetlb ("ht"), which is what mode 2 charges (it
 * ignores MAP_NORESERVE).  The kernel's own "ac" (accounted) flag is
 * reported too; in modes 0 and 1 MAP_NORESERVE mappings do not get it.
 * RLIMIT_DATA, which counts the same mappings, then plays the part of a
 * small container's commit limit, for one process. */
#include "hakmem.h"

#include <check.h>
#include "expect.h"
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* Static, so that reading smaps allocates nothing and changes nothing. */
static char smaps[8 << 20];

typedef struct {
    size_t strict;          /* what vm.overcommit_memory=2 would charge */
    size_t accounted;       /* VMAs the kernel accounted ("ac") */
} charge_t;

static bool has_flag(const char *flags, const char *f)
{
    for (const char *p = flags; (p = strstr(p, f)) != NULL; p += 2)
        if ((p == flags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\n' || p[2] == '\0'))
            return true;
    return false;
}

static charge_t commit_charge(void)
{
    int fd = open("/proc/self/smaps", O_RDONLY);
    EXPECT(fd >= 0, "cannot open /proc/self/smaps");
    size_t len = 0;
    ssize_t r;
    while (len < sizeof smaps - 1 && (r = read(fd, smaps + len, sizeof smaps - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    EXPECT(len < sizeof smaps - 1, "/proc/self/smaps larger than %zu bytes", sizeof smaps);
    smaps[len] = '\0';
    charge_t c = { 0, 0 };
    size_t size = 0;
    int vmas = 0, flagged = 0;
    for (char *line = smaps; *line != '\0';) {
        char *end = strchr(line, '\n');
        if (end != NULL)
            *end = '\0';
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            size = hi - lo;
            vmas++;
        } else if (strncmp(line, "VmFlags:", 8) == 0) {
            flagged++;
            if (has_flag(line + 8, "wr") && !has_flag(line + 8, "sh") && !has_flag(line + 8, "ht"))
                c.strict += size;
            if (has_flag(line + 8, "ac"))
                c.accounted += size;
        }
        if (end == NULL)
            break;
        line = end + 1;
    }
    EXPECT(vmas > 0 && flagged == vmas, "smaps: %d mappings, %d VmFlags lines", vmas, flagged);
    return c;
}

/* The charge one first use of hakmem adds must be a few MiB: a SuperSlab,
 * the metadata arena, the registry pieces actually written. */
static void check_first_use(const char *what, size_t size)
{
    charge_t before = commit_charge();
    void *p = hak_malloc(size);
    EXPECT_NONNULL(p);
    memset(p, 1, size);
    hak_free(p);
    charge_t after = commit_charge();
    size_t strict = after.strict - before.strict, acct = after.accounted - before.accounted;
    fprintf(stderr, "commit charge of hakmem after one %s malloc/free: %zu KiB (strict overcommit), "
            "%zu KiB accounted in this mode; process total %zu KiB\n",
            what, strict / 1024, acct / 1024, after.strict / 1024);
    EXPECT(after.strict >= before.strict, "charge went down from %zu to %zu KiB", before.strict / 1024,
           after.strict / 1024);
    EXPECT(strict <= 6 * MiB, "one %s malloc/free under hakmem adds %zu KiB of commit charge "
           "under strict overcommit, more than 6 MiB", what, strict / 1024);
    EXPECT(acct <= 6 * MiB, "one %s malloc/free adds %zu KiB of accounted commit charge", what, acct / 1024);
}

START_TEST(test_first_tiny_malloc_costs_a_few_mib_of_commit)
{
    check_first_use("64-byte", 64);
}
END_TEST

START_TEST(test_first_mid_malloc_costs_a_few_mib_of_commit)
{
    check_first_use("100 KiB", 100 * KiB);
}
END_TEST

START_TEST(test_first_large_malloc_costs_a_few_mib_of_commit)
{
    check_first_use("1 MiB", 1 * MiB);
}
END_TEST

/* free() of a pointer nobody registered (addresses spread over the whole
 * user address space, most of whose registry pieces were never made
 * writable, and a stack address) must be reported as an invalid pointer:
 * the registry lookup must not fault.  Each is tried in a child, since the
 * report aborts; the lookups must add no charge. */
START_TEST(test_free_of_foreign_addresses_is_reported_not_a_fault)
{
    void *p = hak_malloc(64);
    EXPECT_NONNULL(p);
    hak_free(p);
    charge_t before = commit_charge();
    int local;
    for (unsigned bit = 12; bit <= 47; bit++) {
        uintptr_t a = bit == 47 ? (uintptr_t)&local : ((uintptr_t)1 << bit) + 4096;
        pid_t pid = fork();
        EXPECT(pid >= 0, "fork failed");
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 2);
            hak_free((void *)a);
            _exit(0);
        }
        int st;
        EXPECT_INT_EQ(waitpid(pid, &st, 0), pid);
        EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
               "free(%#lx): child %s %d, expected the SIGABRT of an invalid-pointer report",
               (unsigned long)a, WIFSIGNALED(st) ? "killed by signal" : "exited with",
               WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
    charge_t after = commit_charge();
    EXPECT(after.strict <= before.strict + 64 * KiB, "lookups of foreign addresses added %zu KiB of charge",
           (after.strict - before.strict) / 1024);
}
END_TEST

/* RLIMIT_DATA caps what a process may have in private writable mappings,
 * counted as strict overcommit counts them (MAP_NORESERVE or not, and
 * including what mprotect makes writable): a tight limit is a commit limit
 * of the process's own.  hakmem must start and serve small, mid and large
 * sizes within 12 MiB of headroom, and running into the limit must be
 * ENOMEM, after which freeing makes room again. */
static size_t vm_data(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *v = strstr(buf, "VmData:");
    return v == NULL ? 0 : strtoull(v + 7, NULL, 10) * 1024;
}

static void child_check(bool ok, const char *msg)
{
    if (!ok) {
        if (write(2, msg, strlen(msg)) < 0 || write(2, "\n", 1) < 0)
            _exit(2);
        _exit(1);
    }
}

START_TEST(test_hakmem_works_under_a_tight_data_limit)
{
    pid_t pid = fork();
    EXPECT(pid >= 0, "fork failed");
    if (pid == 0) {
        size_t data = vm_data();
        child_check(data > 0, "no VmData in /proc/self/status");
        struct rlimit rl = { data + 12 * MiB, RLIM_INFINITY };
        child_check(setrlimit(RLIMIT_DATA, &rl) == 0, "setrlimit(RLIMIT_DATA) failed");
        static const size_t first[] = { 64, 8 * KiB, 100 * KiB, 1 * MiB };
        for (unsigned i = 0; i < 4; i++) {
            void *p = hak_malloc(first[i]);
            child_check(p != NULL, "RLIMIT_DATA 12 MiB above use: a first malloc failed");
            memset(p, 1, first[i]);
            hak_free(p);
        }
        static void *blocks[64];
        unsigned n = 0;
        for (; n < 64; n++) {
            errno = 0;
            if ((blocks[n] = hak_malloc(1 * MiB)) == NULL)
                break;
            memset(blocks[n], 2, 1 * MiB);
        }
        child_check(n < 64, "64 blocks of 1 MiB within 12 MiB of RLIMIT_DATA");
        child_check(errno == ENOMEM, "at RLIMIT_DATA: NULL without ENOMEM");
        for (unsigned i = 0; i < n; i++)
            hak_free(blocks[i]);
        void *p = hak_malloc(1 * MiB);
        child_check(p != NULL, "after freeing, a 1 MiB malloc failed under RLIMIT_DATA");
        hak_free(p);
        _exit(0);
    }
    int st;
    EXPECT_INT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT(!WIFSIGNALED(st), "the child was killed by signal %d", WTERMSIG(st));
    EXPECT(WEXITSTATUS(st) == 0, "the child failed (its message is on stderr above)");
}
END_TEST

static Suite *commit_suite(void)
{
    Suite *s = suite_create("commit");
    TCase *tc = tcase_create("first use");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_first_tiny_malloc_costs_a_few_mib_of_commit);
    tcase_add_test(tc, test_first_mid_malloc_costs_a_few_mib_of_commit);
    tcase_add_test(tc, test_first_large_malloc_costs_a_few_mib_of_commit);
    tcase_add_test(tc, test_free_of_foreign_addresses_is_reported_not_a_fault);
    tcase_add_test(tc, test_hakmem_works_under_a_tight_data_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    static const char why[] = "the sanitizer's runtime maps shadow memory of its own, which these "
                              "limits starve before hakmem (and the forks it makes are unsupported there)";
    SKIP_PROGRAM_UNDER_SANITIZER("thread", "commit charge and data limits", why);
    SKIP_PROGRAM_UNDER_SANITIZER("address", "commit charge and data limits", why);
    struct rlimit rl = { 0, 0 };
    setrlimit(RLIMIT_CORE, &rl);
    SRunner *sr = srunner_create(commit_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
