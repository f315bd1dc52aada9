/* Check suite "interposer": this program is NOT linked with hakmem; it is
 * run by tests/interposer.sh with LD_PRELOAD=libhakmem-malloc.so and checks
 * that the standard allocation functions are hakmem's and follow glibc's
 * semantics, including allocations made inside libc (strdup, getline,
 * qsort, stdio, regex, dlopen, threads, ...). */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <glob.h>
#include <iconv.h>
#include <locale.h>
#include <malloc.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define A(name) name
#define RULES_PREFIX ""
#define TRIM(pad) malloc_trim(pad)

/* glibc's own malloc, looked up inside libc.so.6: memory hakmem does not
 * own, even though the process's malloc is hakmem's */
static void *foreign_alloc(size_t n)
{
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (!libc)
        return NULL;
    void *(*libc_malloc)(size_t) = (void *(*)(size_t))dlsym(libc, "malloc");
    if (!libc_malloc || libc_malloc == (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc"))
        return NULL;
    return libc_malloc(n);
}

#include "rules.h"

/* ------------------------------------------------------------------ */
/* is this really hakmem?                                              */

static const char *const std_names[] = {
    "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
    "memalign", "valloc", "pvalloc", "malloc_usable_size",
};

START_TEST(test_hakmem_is_preloaded)
{
    void *v = dlsym(RTLD_DEFAULT, "hak_version");
    EXPECT(v != NULL, "hak_version not found: run with LD_PRELOAD=libhakmem-malloc.so");
    const char *(*version)(void) = (const char *(*)(void))v;
    EXPECT_NONNULL(version());
}
END_TEST

START_TEST(test_standard_names_resolve_to_hakmem)
{
    Dl_info hi, si;
    void *v = dlsym(RTLD_DEFAULT, "hak_version");
    EXPECT_NONNULL(v);
    EXPECT1(dladdr(v, &hi) != 0);
    for (size_t i = 0; i < NELEM(std_names); i++) {
        void *f = dlsym(RTLD_DEFAULT, std_names[i]);
        EXPECT(f != NULL, "%s not found", std_names[i]);
        EXPECT1(dladdr(f, &si) != 0);
        EXPECT(si.dli_fbase == hi.dli_fbase, "%s resolves to %s, not to hakmem (%s)", std_names[i],
                      si.dli_fname, hi.dli_fname);
    }
}
END_TEST

START_TEST(test_malloc_and_hak_api_are_one_allocator)
{
    void *(*hmalloc)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "hak_malloc");
    void (*hfree)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "hak_free");
    size_t (*husable)(void *) = (size_t(*)(void *))dlsym(RTLD_DEFAULT, "hak_malloc_usable_size");
    EXPECT1(hmalloc && hfree && husable);
    static const size_t sizes[] = { 1, 100, 5000, 300000 };
    for (size_t i = 0; i < NELEM(sizes); i++) {
        void *p = malloc(sizes[i]);
        EXPECT_NONNULL(p);
        EXPECT_UINT_EQ(husable(p), malloc_usable_size(p));
        hfree(p);
        void *q = hmalloc(sizes[i]);
        EXPECT_NONNULL(q);
        EXPECT1(malloc_usable_size(q) >= sizes[i]);
        free(q);
    }
    free(malloc(10));
}
END_TEST

/* ------------------------------------------------------------------ */
/* valloc / pvalloc (no hak_ counterpart)                              */

START_TEST(test_valloc_returns_page_aligned_block)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    static const size_t sizes[] = { 1, 100, 4096, 5000, 300000, 3 * MiB };
    for (size_t i = 0; i < NELEM(sizes); i++) {
        void *p = valloc(opaque_size(sizes[i]));
        EXPECT_NONNULL(p);
        EXPECT(is_aligned(p, pg), "valloc(%zu) = %p", sizes[i], p);
        EXPECT1(malloc_usable_size(p) >= sizes[i]);
        memset(p, 0x3c, sizes[i]);
        free(p);
    }
}
END_TEST

START_TEST(test_pvalloc_rounds_size_up_to_pages)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    static const size_t sizes[] = { 1, 100, 4096, 5000, 300000 };
    for (size_t i = 0; i < NELEM(sizes); i++) {
        void *p = pvalloc(opaque_size(sizes[i]));
        EXPECT_NONNULL(p);
        EXPECT(is_aligned(p, pg), "pvalloc(%zu) = %p", sizes[i], p);
        size_t want = (sizes[i] + pg - 1) / pg * pg;
        size_t u = malloc_usable_size(p);
        EXPECT(u >= want, "pvalloc(%zu): usable %zu < %zu", sizes[i], u, want);
        memset(p, 0x3c, want);
        free(p);
    }
}
END_TEST

START_TEST(test_pvalloc_zero_returns_freeable_page_aligned_pointer)
{
    void *p = pvalloc(opaque_size(0));
    EXPECT_NONNULL(p);
    EXPECT1(is_aligned(p, (size_t)sysconf(_SC_PAGESIZE)));
    free(p);
}
END_TEST

START_TEST(test_valloc_and_pvalloc_huge_return_null_enomem)
{
    errno = 0;
    EXPECT_NULL(valloc(opaque_size(SIZE_MAX)));
    EXPECT_INT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_NULL(pvalloc(opaque_size(SIZE_MAX)));
    EXPECT_INT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_NULL(pvalloc(opaque_size(SIZE_MAX - 100)));
    EXPECT_INT_EQ(errno, ENOMEM);
}
END_TEST

/* ------------------------------------------------------------------ */
/* allocations made inside libc                                        */

START_TEST(test_libc_strdup_and_strndup)
{
    static const char *s = "the quick brown fox jumps over the lazy dog";
    char *big = malloc(100001);
    EXPECT_NONNULL(big);
    for (int i = 0; i < 100000; i++)
        big[i] = (char)('a' + i % 26);
    big[100000] = 0;
    for (int i = 0; i < 2000; i++) {
        char *d = strdup(s);
        char *n = strndup(big, (size_t)i * 50);
        EXPECT_NONNULL(d);
        EXPECT_NONNULL(n);
        EXPECT_STR_EQ(d, s);
        EXPECT_UINT_EQ(strlen(n), (size_t)i * 50);
        EXPECT1(memcmp(n, big, (size_t)i * 50) == 0);
        free(d);
        free(n);
    }
    char *d = strdup(big);
    EXPECT_NONNULL(d);
    EXPECT_STR_EQ(d, big);
    free(d);
    free(big);
}
END_TEST

START_TEST(test_libc_getline_grows_buffer_with_realloc)
{
    FILE *f = tmpfile();
    EXPECT_NONNULL(f);
    for (int i = 0; i < 300; i++) {
        for (int k = 0; k < i * 97; k++)
            fputc('a' + (i + k) % 26, f);
        fputc('\n', f);
    }
    rewind(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int i = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        EXPECT_INT_EQ(n, i * 97 + 1);
        for (int k = 0; k < i * 97; k++)
            EXPECT_INT_EQ(line[k], 'a' + (i + k) % 26);
        EXPECT1(malloc_usable_size(line) >= cap);
        i++;
    }
    EXPECT_INT_EQ(i, 300);
    free(line);
    fclose(f);
}
END_TEST

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

START_TEST(test_libc_qsort_large_array)
{
    enum { N = 200000 };
    int *v = malloc(N * sizeof *v);
    EXPECT_NONNULL(v);
    unsigned r = 1;
    for (int i = 0; i < N; i++) {
        r = r * 1103515245u + 12345u;
        v[i] = (int)(r >> 1);
    }
    qsort(v, N, sizeof *v, cmp_int);
    for (int i = 1; i < N; i++)
        EXPECT_INT_LE(v[i - 1], v[i]);
    free(v);
}
END_TEST

START_TEST(test_libc_stdio_fopen_fprintf_fclose)
{
    char path[] = "/tmp/hakmem-interposer-XXXXXX";
    int fd = mkstemp(path);
    EXPECT_INT_GE(fd, 0);
    close(fd);
    for (int round = 0; round < 50; round++) {
        FILE *f = fopen(path, "w");
        EXPECT_NONNULL(f);
        EXPECT_INT_EQ(setvbuf(f, NULL, _IOFBF, 1000 + (size_t)round * 100), 0);
        for (int i = 0; i < 200; i++)
            fprintf(f, "%d %s %.3f\n", i, "line", i / 7.0);
        EXPECT_INT_EQ(fclose(f), 0);
    }
    FILE *f = fopen(path, "r");
    EXPECT_NONNULL(f);
    int count = 0, a;
    char w[16];
    double d;
    while (fscanf(f, "%d %15s %lf", &a, w, &d) == 3) {
        EXPECT_INT_EQ(a, count);
        count++;
    }
    fclose(f);
    unlink(path);
    EXPECT_INT_EQ(count, 200);
}
END_TEST

START_TEST(test_libc_open_memstream_and_asprintf)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    EXPECT_NONNULL(m);
    for (int i = 0; i < 100000; i++)
        fprintf(m, "%08d", i);
    EXPECT_INT_EQ(fclose(m), 0);
    EXPECT_UINT_EQ(len, 800000);
    EXPECT1(strncmp(buf + 8 * 99999, "00099999", 8) == 0);
    free(buf);
    for (int i = 0; i < 1000; i++) {
        char *s = NULL;
        EXPECT_INT_GT(asprintf(&s, "%d-%0*d", i, i % 300, i), 0);
        EXPECT_NONNULL(s);
        free(s);
    }
}
END_TEST

START_TEST(test_libc_regex_compile_and_match)
{
    for (int i = 0; i < 200; i++) {
        regex_t re;
        EXPECT_INT_EQ(regcomp(&re, "([a-z]+)@([a-z]+)\\.(com|org)", REG_EXTENDED), 0);
        regmatch_t m[4];
        EXPECT_INT_EQ(regexec(&re, "mail: someone@example.org!", 4, m, 0), 0);
        EXPECT_INT_EQ(m[1].rm_so, 6);
        EXPECT_INT_EQ(m[3].rm_eo, 25);
        EXPECT_INT_EQ(regexec(&re, "nothing here", 4, m, 0), REG_NOMATCH);
        regfree(&re);
    }
}
END_TEST

START_TEST(test_libc_directory_glob_and_paths)
{
    DIR *d = opendir("/proc/self/fd");
    EXPECT_NONNULL(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    EXPECT_INT_GE(n, 3);
    struct dirent **list = NULL;
    int k = scandir("/usr/lib", &list, NULL, alphasort);
    EXPECT_INT_GT(k, 0);
    for (int i = 0; i < k; i++)
        free(list[i]);
    free(list);
    glob_t g;
    EXPECT_INT_EQ(glob("/usr/include/*.h", 0, NULL, &g), 0);
    EXPECT_UINT_GT(g.gl_pathc, 0);
    globfree(&g);
    char *rp = realpath("/usr/../usr/./lib", NULL);
    EXPECT_NONNULL(rp);
    EXPECT_STR_EQ(rp, "/usr/lib");
    free(rp);
    char *cwd = getcwd(NULL, 0);
    EXPECT_NONNULL(cwd);
    free(cwd);
}
END_TEST

START_TEST(test_libc_locale_time_and_iconv)
{
    locale_t l = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
    if (l == (locale_t)0)
        l = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    EXPECT1(l != (locale_t)0);
    freelocale(l);
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    time_t t = 1700000000;
    struct tm tm;
    EXPECT_NONNULL(localtime_r(&t, &tm));
    char buf[64];
    EXPECT_UINT_GT(strftime(buf, sizeof buf, "%Y-%m-%d", &tm), 0);
    EXPECT_STR_EQ(buf, "2023-11-14");
    iconv_t cd = iconv_open("UTF-16LE", "UTF-8");
    if (cd != (iconv_t)-1) {
        char in[] = "h\xc3\xa9llo", out[32];
        char *ip = in, *op = out;
        size_t il = strlen(in), ol = sizeof out;
        EXPECT1(iconv(cd, &ip, &il, &op, &ol) != (size_t)-1);
        EXPECT_UINT_EQ(sizeof out - ol, 10);
        iconv_close(cd);
    }
}
END_TEST

START_TEST(test_libc_dlopen_and_dlclose)
{
    for (int i = 0; i < 20; i++) {
        void *h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
        EXPECT(h != NULL, "dlopen: %s", dlerror());
        double (*c)(double) = (double (*)(double))dlsym(h, "cos");
        EXPECT_NONNULL(c);
        EXPECT1(c(0.0) == 1.0);
        dlclose(h);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* threads through the standard names                                  */

static pthread_key_t tls_key;
static atomic_int dtor_ok;

static void key_dtor(void *v)
{
    /* runs late in thread exit; free and malloc must still work */
    free(v);
    char *p = malloc(333);
    if (p) {
        memset(p, 1, 333);
        free(p);
        atomic_fetch_add(&dtor_ok, 1);
    }
}

struct pass {
    void *p[1000];
    size_t s[1000];
};

static void *thread_alloc(void *arg)
{
    struct pass *ps = arg;
    for (int i = 0; i < 1000; i++) {
        ps->s[i] = (size_t)(i * 37) % 4000 + 1;
        ps->p[i] = malloc(ps->s[i]);
        if (ps->p[i])
            fill_bytes(ps->p[i], ps->s[i], (unsigned)i);
    }
    pthread_setspecific(tls_key, malloc(100));
    char *s = strdup("thread-local strdup");
    free(s);
    return NULL;
}

START_TEST(test_threads_free_blocks_of_exited_threads)
{
    free(malloc(1)); /* hakmem initialised before our key exists */
    EXPECT_INT_EQ(pthread_key_create(&tls_key, key_dtor), 0);
    enum { T = 16 };
    static struct pass ps[T];
    for (int round = 0; round < 3; round++) {
        pthread_t t[T];
        for (int i = 0; i < T; i++)
            EXPECT_INT_EQ(pthread_create(&t[i], NULL, thread_alloc, &ps[i]), 0);
        for (int i = 0; i < T; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < T; i++)
            for (int k = 0; k < 1000; k++) {
                EXPECT_NONNULL(ps[i].p[k]);
                EXPECT1(check_bytes(ps[i].p[k], ps[i].s[k], (unsigned)k) == (size_t)-1);
                free(ps[i].p[k]);
            }
    }
    EXPECT_INT_EQ(atomic_load(&dtor_ok), 3 * T);
    pthread_key_delete(tls_key);
}
END_TEST

/* ------------------------------------------------------------------ */
/* glibc's introspection calls                                         */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* What `f` writes to file descriptor `fd`, as a string (static buffer). */
static const char *capture_fd(int fd, void (*f)(void))
{
    static char buf[65536];
    char path[] = "/tmp/hakmem-interposer-XXXXXX";
    int tmp = mkstemp(path);
    EXPECT1(tmp >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(fd);
    dup2(tmp, fd);
    f();
    dup2(saved, fd);
    close(saved);
    ssize_t n = pread(tmp, buf, sizeof buf - 1, 0);
    close(tmp);
    EXPECT1(n > 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

START_TEST(test_malloc_stats_writes_the_report_to_stderr)
{
    free(malloc(100));
    const char *r = capture_fd(2, malloc_stats);
    EXPECT1(strncmp(r, "hakmem ", 7) == 0);
    EXPECT_NONNULL(strstr(r, " statistics\n"));
    EXPECT_NONNULL(strstr(r, "\nsize classes ("));
    EXPECT_NONNULL(strstr(r, "\n  class 112: "));
}
END_TEST

START_TEST(test_mallinfo2_counts_slab_and_large_blocks)
{
    enum { N = 1000 };
    static void *p[N];
    /* blocks this thread has cached count as in use already: none left */
    malloc_trim(0);
    struct mallinfo2 m0 = mallinfo2();
    for (int i = 0; i < N; i++)
        EXPECT_NONNULL(p[i] = malloc(1024));
    struct mallinfo2 m1 = mallinfo2();
    EXPECT_UINT_CMP(m1.uordblks, >=, m0.uordblks + N * 1024);
    EXPECT_UINT_CMP(m1.arena, >=, m1.uordblks);
    EXPECT_UINT_EQ(m1.fordblks, m1.arena - m1.uordblks);
    EXPECT_UINT_EQ(m1.ordblks, 0);
    EXPECT_UINT_CMP(m1.usmblks, >=, m1.arena);
    for (int i = 0; i < N; i++)
        free(p[i]);
    struct mallinfo2 m2 = mallinfo2();
    /* back, but for the blocks the thread keeps cached */
    EXPECT_UINT_CMP(m2.uordblks, <, m1.uordblks - N * 1024 * 9 / 10);

    void *big = malloc((size_t)4 << 20);
    EXPECT_NONNULL(big);
    struct mallinfo2 m3 = mallinfo2();
    EXPECT_UINT_EQ(m3.hblks, m2.hblks + 1);
    EXPECT_UINT_CMP(m3.hblkhd, >=, m2.hblkhd + ((size_t)4 << 20));
    free(big);
    struct mallinfo2 m4 = mallinfo2();
    EXPECT_UINT_EQ(m4.hblks, m2.hblks);
    EXPECT_UINT_EQ(m4.hblkhd, m2.hblkhd);
    /* the freed block waits in BigCache: malloc_trim would give it back */
    EXPECT_UINT_CMP(m4.keepcost, >=, m3.keepcost);
}
END_TEST

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
START_TEST(test_mallinfo_is_mallinfo2_in_ints)
{
    void *big = malloc((size_t)4 << 20);
    EXPECT_NONNULL(big);
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo m = mallinfo();
    EXPECT_INT_EQ(m.arena, (int)m2.arena);
    EXPECT_INT_EQ(m.hblks, (int)m2.hblks);
    EXPECT_INT_EQ(m.hblkhd, (int)m2.hblkhd);
    EXPECT_INT_EQ(m.ordblks, 0);
    EXPECT1(m.uordblks > 0 && m.usmblks > 0);
    free(big);
}
END_TEST
#pragma GCC diagnostic pop

START_TEST(test_mallopt_accepts_glibc_parameters_and_refuses_others)
{
    static const int known[] = { M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD,
                                 M_MMAP_MAX, M_ARENA_MAX, M_ARENA_TEST, M_PERTURB,
                                 M_CHECK_ACTION };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        EXPECT_INT_EQ(mallopt(known[i], 1), 1);
    EXPECT_INT_EQ(mallopt(12345, 1), 0);
    EXPECT_INT_EQ(mallopt(-12345, 1), 0);
    free(malloc(10));
}
END_TEST

START_TEST(test_malloc_info_writes_xml)
{
    void *small = malloc(48), *big = malloc((size_t)4 << 20);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    EXPECT_NONNULL(f);
    errno = 0;
    EXPECT_INT_EQ(malloc_info(1, f), -1);
    EXPECT_INT_EQ(errno, EINVAL);
    EXPECT_INT_EQ(malloc_info(0, f), 0);
    EXPECT_INT_EQ(fclose(f), 0);
    EXPECT1(strncmp(text, "<malloc version=\"hakmem-1\">\n", 28) == 0);
    EXPECT1(len >= 10 && strcmp(text + len - 10, "</malloc>\n") == 0);
    EXPECT_NONNULL(strstr(text, "<heap nr=\"0\">"));
    EXPECT_NONNULL(strstr(text, "<total type=\"mmap\" count=\""));
    EXPECT_NONNULL(strstr(text, "<system type=\"current\" size=\""));
    EXPECT_NONNULL(strstr(text, "<size from=\"33\" to=\"48\" "));
    free(text);
    free(small);
    free(big);
}
END_TEST

START_TEST(test_hak_stats_get_through_the_interposer)
{
    struct st { uint64_t f[23]; } s;     /* struct hak_stats, first version */
    int (*get)(void *, size_t) = (int (*)(void *, size_t))dlsym(RTLD_DEFAULT, "hak_stats_get");
    EXPECT_NONNULL(get);
    void *p = malloc(100);
    EXPECT_INT_EQ(get(&s, sizeof s), 0);
    EXPECT1(s.f[0] > 0 && s.f[3] > 0);  /* mapped, tiny allocations */
    errno = 0;
    EXPECT_INT_EQ(get(&s, 8), -1);
    EXPECT_INT_EQ(errno, EINVAL);
    free(p);
}
END_TEST

static Suite *interposer_suite(void)
{
    Suite *s = suite_create("interposer");

    TCase *tc = tcase_create("identity");
    tcase_set_timeout(tc, timeout_at_least(30));
    tcase_add_test(tc, test_hakmem_is_preloaded);
    tcase_add_test(tc, test_standard_names_resolve_to_hakmem);
    tcase_add_test(tc, test_malloc_and_hak_api_are_one_allocator);
    suite_add_tcase(s, tc);

    suite_add_tcase(s, rules_semantics_tcase());

    tc = tcase_create("page_aligned");
    tcase_set_timeout(tc, timeout_at_least(30));
    tcase_add_test(tc, test_valloc_returns_page_aligned_block);
    tcase_add_test(tc, test_pvalloc_rounds_size_up_to_pages);
    tcase_add_test(tc, test_pvalloc_zero_returns_freeable_page_aligned_pointer);
    tcase_add_test(tc, test_valloc_and_pvalloc_huge_return_null_enomem);
    suite_add_tcase(s, tc);

    tc = tcase_create("libc");
    tcase_set_timeout(tc, timeout_at_least(30));
    tcase_add_test(tc, test_libc_strdup_and_strndup);
    tcase_add_test(tc, test_libc_getline_grows_buffer_with_realloc);
    tcase_add_test(tc, test_libc_qsort_large_array);
    tcase_add_test(tc, test_libc_stdio_fopen_fprintf_fclose);
    tcase_add_test(tc, test_libc_open_memstream_and_asprintf);
    tcase_add_test(tc, test_libc_regex_compile_and_match);
    tcase_add_test(tc, test_libc_directory_glob_and_paths);
    tcase_add_test(tc, test_libc_locale_time_and_iconv);
    tcase_add_test(tc, test_libc_dlopen_and_dlclose);
    tcase_add_test(tc, test_threads_free_blocks_of_exited_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("introspection");
    tcase_set_timeout(tc, timeout_at_least(30));
    tcase_add_test(tc, test_malloc_stats_writes_the_report_to_stderr);
    tcase_add_test(tc, test_mallinfo2_counts_slab_and_large_blocks);
    tcase_add_test(tc, test_mallinfo_is_mallinfo2_in_ints);
    tcase_add_test(tc, test_mallopt_accepts_glibc_parameters_and_refuses_others);
    tcase_add_test(tc, test_malloc_info_writes_xml);
    tcase_add_test(tc, test_hak_stats_get_through_the_interposer);
    suite_add_tcase(s, tc);

    suite_add_tcase(s, rules_misuse_tcase());
    return s;
}

int main(void)
{
    return rules_run(interposer_suite());
}
