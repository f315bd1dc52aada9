/* Check suite "exhaustion": running out of memory or mappings is an error
 * the program sees (NULL with errno ENOMEM, or ENOMEM from
 * posix_memalign), never a crash, and hakmem works again once there is
 * room.
 *
 * Each scenario runs in a child of its own, forked before hakmem is used
 * (options come from the environment at the first call, and the limits
 * must not reach the test runner): the child reports a broken expectation
 * on stderr and exits 1; being killed by a signal is a failure too.
 *
 *   address space   setrlimit(RLIMIT_AS) a little above what the child
 *                   uses, then allocate until NULL, for each size layer
 *                   and each allocation function;
 *   mappings        the child fills vm.max_map_count with one-page
 *                   mappings of its own, then allocates and frees every
 *                   size while mmap fails, while mmap works but munmap and
 *                   mprotect cannot split a mapping (one slot free), and
 *                   once there is room again; nothing may leak. */
#include "hakmem.h"

#include <check.h>
#include "expect.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

static const size_t sizes[] = { 32, 8 * KiB, 100 * KiB, 1 * MiB, 64 * MiB };
#define NSIZES (sizeof sizes / sizeof sizes[0])

enum { K_MALLOC, K_CALLOC, K_REALLOC, K_MEMALIGN, NKINDS };
static const char *const kind_name[NKINDS] = { "hak_malloc", "hak_calloc", "hak_realloc", "hak_posix_memalign" };

/* ---- in the child ---- */

static const char *scenario = "";

__attribute__((format(printf, 1, 2), noreturn)) static void child_fail(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(buf, sizeof buf, "%s: ", scenario);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    /* write(2): stdio may want memory the child does not have. */
    if (write(2, buf, strlen(buf)) < 0 || write(2, "\n", 1) < 0)
        _exit(2);
    _exit(1);
}
#define CHECK(cond, ...)                   \
    do {                                   \
        if (!(cond))                       \
            child_fail(__VA_ARGS__);       \
    } while (0)

/* Marks a block at both ends, so that a block handed out twice or a block
 * that is not really there shows up. */
static void mark(unsigned char *p, size_t size, unsigned char v)
{
    p[0] = v;
    p[size - 1] = v;
}

static void check_mark(const unsigned char *p, size_t size, unsigned char v, const char *what)
{
    CHECK(p[0] == v && p[size - 1] == v, "%s: block %p of %zu bytes lost its contents", what, (void *)p, size);
}

/* One block of `size` through `kind`, marked; NULL if there is no memory,
 * after checking that the failure is reported the standard way and that a
 * failed realloc left its block intact. */
static void *alloc_one(int kind, size_t size, unsigned char v)
{
    void *p = NULL;
    errno = 0;
    switch (kind) {
    case K_MALLOC:
        p = hak_malloc(size);
        break;
    case K_CALLOC: {
        unsigned char *c = hak_calloc(1, size);
        if (c != NULL)
            CHECK(c[0] == 0 && c[size / 2] == 0 && c[size - 1] == 0, "hak_calloc(%zu): not zeroed", size);
        p = c;
        break;
    }
    case K_REALLOC: {
        /* A block half the size, grown: the growing realloc is the one
         * that may fail, and its block must then be untouched. */
        size_t half = size / 2;
        unsigned char *q = hak_realloc(NULL, half);
        if (q == NULL)
            break;
        mark(q, half, (unsigned char)(v + 1));
        errno = 0;
        p = hak_realloc(q, size);
        if (p == NULL) {
            CHECK(errno == ENOMEM, "hak_realloc(%p, %zu): NULL with errno %d, not ENOMEM", (void *)q, size, errno);
            check_mark(q, half, (unsigned char)(v + 1), "failed hak_realloc");
            hak_free(q);
            errno = ENOMEM;
        } else {
            check_mark(p, half, (unsigned char)(v + 1), "hak_realloc");
        }
        break;
    }
    case K_MEMALIGN: {
        size_t align = size >= MiB ? 2 * MiB : size >= 8 * KiB ? 4096 : 64;
        errno = 12345;
        int rc = hak_posix_memalign(&p, align, size);
        if (rc != 0) {
            CHECK(rc == ENOMEM, "hak_posix_memalign(%zu, %zu) returned %d, not ENOMEM", align, size, rc);
            CHECK(errno == 12345, "hak_posix_memalign changed errno to %d on failure", errno);
            return NULL;
        }
        CHECK(((uintptr_t)p & (align - 1)) == 0, "hak_posix_memalign(%zu): %p is not aligned", align, p);
        break;
    }
    }
    if (p == NULL) {
        CHECK(errno == ENOMEM, "%s(%zu): NULL with errno %d, not ENOMEM", kind_name[kind], size, errno);
        return NULL;
    }
    mark(p, size, v);
    return p;
}

static size_t vm_size(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    CHECK(fd >= 0, "cannot open /proc/self/statm");
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    CHECK(n > 0, "cannot read /proc/self/statm");
    buf[n] = '\0';
    return strtoull(buf, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

/* hakmem's own count of what it has mapped (the statistics report). */
static size_t mapped_bytes(void)
{
    static char buf[16384];
    int fd[2];
    size_t len = 0;
    ssize_t r;
    CHECK(pipe(fd) == 0, "pipe failed");
    hak_stats_print(fd[1]);
    close(fd[1]);
    while (len < sizeof buf - 1 && (r = read(fd[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    close(fd[0]);
    buf[len] = '\0';
    const char *line = strstr(buf, "mapped bytes ");
    CHECK(line != NULL, "no \"mapped bytes\" in the statistics report");
    return strtoull(line + strlen("mapped bytes "), NULL, 10);
}

/* Allocates and frees one block of each size, through each function; all
 * must succeed. */
static void all_sizes_work(const char *when)
{
    for (int k = 0; k < NKINDS; k++)
        for (size_t i = 0; i < NSIZES; i++) {
            void *p = alloc_one(k, sizes[i], 0x5a);
            CHECK(p != NULL, "%s: %s(%zu) failed", when, kind_name[k], sizes[i]);
            hak_free(p);
        }
}

static void run_child(void (*fn)(int, int), int a, int b)
{
    fflush(NULL);
    pid_t pid = fork();
    EXPECT(pid >= 0, "fork failed");
    if (pid == 0) {
        fn(a, b);
        _exit(0);
    }
    int st;
    EXPECT_INT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT(!WIFSIGNALED(st), "the child was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    EXPECT(WEXITSTATUS(st) == 0, "the child failed (its message is on stderr above)");
}

/* ---- address space: RLIMIT_AS ---- */

/* Room above what the child has mapped when the limit is set; hakmem may
 * already hold some address space (retained, cached), hence the margin on
 * the block count. */
#define AS_ROOM (64 * MiB)

/* Allocates blocks of sizes[si] through `kind` until one fails, frees
 * them, and checks that every size can be allocated again. */
static void as_child(int kind, int si)
{
    size_t size = sizes[si];
    char name[64];
    snprintf(name, sizeof name, "RLIMIT_AS, %s(%zu)", kind_name[kind], size);
    scenario = name;
    all_sizes_work("before the limit");     /* hakmem initialised, every layer used once */
    size_t cap = (AS_ROOM + 256 * MiB) / size + 64;
    void **blocks = mmap(NULL, cap * sizeof *blocks, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(blocks != MAP_FAILED, "cannot map the block array");
    struct rlimit rl = { vm_size() + AS_ROOM, RLIM_INFINITY };
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit(RLIMIT_AS) failed");
    size_t n = 0;
    for (;;) {
        CHECK(n < cap, "%zu blocks of %zu bytes and never NULL", n, size);
        void *p = alloc_one(kind, size, (unsigned char)n);
        if (p == NULL)
            break;
        blocks[n++] = p;
    }
    /* Exhausted: a few more attempts fail the same way, not worse. */
    for (int i = 0; i < 3; i++) {
        void *p = alloc_one(kind, size, 1);
        if (p != NULL)
            hak_free(p);
    }
    for (size_t i = 0; i < n; i++) {
        check_mark(blocks[i], size, (unsigned char)i, "block allocated before exhaustion");
        hak_free(blocks[i]);
    }
    all_sizes_work("after freeing everything");
    fprintf(stderr, "%s: %zu blocks before NULL/ENOMEM; all sizes work again after freeing\n", name, n);
}

START_TEST(test_rlimit_as_exhaustion_is_enomem_for_every_size_and_function)
{
    run_child(as_child, _i / (int)NSIZES, _i % (int)NSIZES);
}
END_TEST

/* ---- mappings: vm.max_map_count ---- */

#define MAX_FILLERS (1u << 20)
static void *fillers[MAX_FILLERS];
static size_t nfillers;

/* One-page mappings, alternately inaccessible and writable so that
 * neighbours never merge, until mmap says ENOMEM: the process then has
 * vm.max_map_count mappings (plus the one mmap allows past it).  Both
 * kinds have the flags of hakmem's own mappings (anonymous, private,
 * MAP_NORESERVE), so that a mapping hakmem makes next to the last one
 * merges with it, and trimming or giving back part of it needs a split. */
static void fill_map_count(void)
{
    long page = sysconf(_SC_PAGESIZE);
    for (;;) {
        CHECK(nfillers < MAX_FILLERS, "%zu mappings and mmap still works", nfillers);
        void *p = mmap(NULL, (size_t)page, nfillers % 2 ? PROT_READ | PROT_WRITE : PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            CHECK(errno == ENOMEM, "mmap failed with errno %d, not ENOMEM", errno);
            break;
        }
        fillers[nfillers++] = p;
    }
}

/* Gives back the `n` most recent fillers; whole mappings, so that never
 * needs a split. */
static void unfill(size_t n)
{
    long page = sysconf(_SC_PAGESIZE);
    for (; n > 0 && nfillers > 0; n--)
        CHECK(munmap(fillers[--nfillers], (size_t)page) == 0, "munmap of a filler failed");
}

/* Blocks of a size in one churn: 256 KiB worth, at least 4, so that slab
 * sizes need spans beyond the ones already there, and give them back. */
static unsigned churn_count(size_t size)
{
    size_t n = 256 * KiB / size;
    return n < 4 ? 4 : n > 8192 ? 8192 : (unsigned)n;
}

static unsigned churn_total(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < NSIZES; i++)
        n += churn_count(sizes[i]);
    return n * NKINDS;
}

/* Allocates churn_count blocks of every size through every function and
 * frees them; failures must be ENOMEM.  Returns how many allocations
 * worked. */
static unsigned churn(void)
{
    static void *b[8192];
    unsigned ok = 0;
    for (int k = 0; k < NKINDS; k++)
        for (size_t i = 0; i < NSIZES; i++) {
            unsigned n = churn_count(sizes[i]);
            for (unsigned j = 0; j < n; j++) {
                b[j] = alloc_one(k, sizes[i], (unsigned char)(j + 7));
                ok += b[j] != NULL;
            }
            for (unsigned j = 0; j < n; j++)
                if (b[j] != NULL) {
                    check_mark(b[j], sizes[i], (unsigned char)(j + 7), "churn");
                    hak_free(b[j]);
                }
        }
    return ok;
}

/* superslab: 1 (SuperSlabs) or 0 (standalone slabs: each span its own
 * mapping, unmapped when empty). */
static void map_count_child(int superslab, int unused)
{
    (void)unused;
    scenario = superslab ? "max_map_count, SuperSlabs" : "max_map_count, standalone slabs";
    /* Nothing cached or retained: every free of a mapping is an unmap, so
     * that the failing unmaps are reached, and a leak shows in "mapped". */
    setenv("HAKMEM_TINY_USE_SUPERSLAB", superslab ? "1" : "0", 1);
    setenv("HAKMEM_RETAIN_MAX", "0", 1);
    setenv("HAKMEM_BIGCACHE_MAX", "0", 1);
    setenv("HAKMEM_SS_CACHE", "0", 1);
    setenv("HAKMEM_BATCH_RANGES", "1", 1);
    all_sizes_work("before filling the mappings");
    size_t base = mapped_bytes();

    fill_map_count();
    unsigned full = churn();
    /* One slot free at a time: hakmem's mmap then works, and the munmap
     * or mprotect that would split it does not. */
    unsigned edge = 0;
    for (int round = 0; round < 16; round++) {
        unfill(1);
        edge += churn();
    }
    unfill(nfillers);
    all_sizes_work("after the mappings were given back");
    unsigned room = churn();
    CHECK(room == churn_total(), "with room again, only %u of %u allocations worked", room, churn_total());
    size_t end = mapped_bytes();
    fprintf(stderr, "%s: %u allocations worked at the limit, %u with one slot free at a time; "
            "mapped %zu KiB before, %zu KiB after\n", scenario, full, edge, base / 1024, end / 1024);
    /* The metadata arena grows in 1 MiB steps and keeps what it has, and
     * the thread keeps a few spans (a SuperSlab or two) for reuse. */
    CHECK(end <= base + 6 * MiB, "hakmem maps %zu KiB once everything is freed, %zu KiB before: "
          "address space leaked at the mapping limit", end / 1024, base / 1024);
}

START_TEST(test_max_map_count_exhaustion_degrades_and_recovers)
{
    run_child(map_count_child, _i, 0);
}
END_TEST

static Suite *exhaustion_suite(void)
{
    Suite *s = suite_create("exhaustion");
    TCase *tc = tcase_create("address space");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_rlimit_as_exhaustion_is_enomem_for_every_size_and_function, 0,
                        (int)(NKINDS * NSIZES));
    suite_add_tcase(s, tc);
    tc = tcase_create("mappings");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_max_map_count_exhaustion_degrades_and_recovers, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    static const char why[] = "the sanitizer's runtime maps shadow memory of its own, which these "
                              "limits starve before hakmem (and the forks it makes are unsupported there)";
    SKIP_PROGRAM_UNDER_SANITIZER("thread", "exhaustion of address space and mappings", why);
    SKIP_PROGRAM_UNDER_SANITIZER("address", "exhaustion of address space and mappings", why);
    struct rlimit rl = { 0, 0 };
    setrlimit(RLIMIT_CORE, &rl);
    SRunner *sr = srunner_create(exhaustion_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
