// test_cxx.cc — Check suite "cxx": the C++ allocation operators of the
// interposer.  Not linked with hakmem: tests/interposer.sh runs it under
// LD_PRELOAD, and the first test fails when the operators are not
// hakmem's (libstdc++'s would pass everything else).
#include "expect.h"

#include <dlfcn.h>
#include <malloc.h>
#include <initializer_list>
#include <new>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>

static const char *const operator_names[] = {
    "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
    "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
    "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
    "_ZdlPv", "_ZdaPv", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
    "_ZdlPvm", "_ZdaPvm", "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t",
    "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
    "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
};

// Sizes across the layers: tiny, mid, large.
static const size_t sizes[] = { 0, 1, 8, 16, 17, 100, 1000, 1024, 1025, 5000, 65536,
                                262144, 262145, 1 << 20, 3 << 20 };

static volatile size_t size_sink;
static size_t opaque(size_t n)
{
    size_sink = n;
    return size_sink;
}

// The compiler may drop a new/delete pair whose block nobody looks at.
static void *volatile ptr_sink;
static char *escape(void *p)
{
    ptr_sink = p;
    return (char *)ptr_sink;
}

static void fill_and_check(void *p, size_t n, unsigned char v)
{
    memset(p, v, n);
    for (size_t i = 0; i < n; i += 61)
        EXPECT(((unsigned char *)p)[i] == v, "block of %zu bytes lost its contents at %zu", n, i);
}

START_TEST(test_every_operator_form_resolves_to_hakmem)
{
    for (const char *name : operator_names) {
        void *f = dlsym(RTLD_DEFAULT, name);
        EXPECT(f != NULL, "%s not found", name);
        Dl_info info;
        EXPECT(dladdr(f, &info) != 0 && info.dli_fname != NULL, "%s: dladdr failed", name);
        EXPECT(strstr(info.dli_fname, "libhakmem-malloc") != NULL, "%s comes from %s, not from hakmem", name,
               info.dli_fname);
    }
}
END_TEST

START_TEST(test_new_and_delete_in_every_form_round_trip)
{
    for (size_t n : sizes) {
        void *p[8];
        p[0] = ::operator new(n);
        p[1] = ::operator new[](n);
        p[2] = ::operator new(n, std::nothrow);
        p[3] = ::operator new[](n, std::nothrow);
        p[4] = ::operator new(n);
        p[5] = ::operator new[](n);
        p[6] = ::operator new(n, std::nothrow);
        p[7] = ::operator new[](n, std::nothrow);
        for (unsigned k = 0; k < 8; k++) {
            EXPECT(p[k] != NULL, "form %u of new(%zu) returned NULL", k, n);
            EXPECT(((uintptr_t)p[k] & 15) == 0, "new(%zu) is not 16-byte aligned: %p", n, p[k]);
            EXPECT(malloc_usable_size(p[k]) >= n, "new(%zu): usable size %zu", n, malloc_usable_size(p[k]));
            fill_and_check(p[k], n, (unsigned char)(k + 1));
        }
        ::operator delete(p[0]);
        ::operator delete[](p[1]);
        ::operator delete(p[2], std::nothrow);
        ::operator delete[](p[3], std::nothrow);
        ::operator delete(p[4], n);
        ::operator delete[](p[5], n);
        ::operator delete(p[6]);
        ::operator delete[](p[7]);
    }
}
END_TEST

START_TEST(test_sized_delete_of_the_right_size_frees_every_size)
{
    // every size up to past the tiny limit, then the mid and large ones
    for (size_t n = 0; n <= 2100; n++) {
        void *p = ::operator new(opaque(n));
        fill_and_check(p, n, 0x5a);
        ::operator delete(p, n);
    }
    for (size_t n : sizes) {
        char *a = new char[n + 1];
        ::operator delete[](a, n + 1);
    }
}
END_TEST

START_TEST(test_aligned_new_returns_aligned_blocks_of_every_form)
{
    for (size_t al = 16; al <= ((size_t)2 << 20); al <<= 1) {
        for (size_t n : { (size_t)1, (size_t)100, al, al + 1, (size_t)70000 }) {
            std::align_val_t a{al};
            void *p[4] = { ::operator new(n, a), ::operator new[](n, a), ::operator new(n, a, std::nothrow),
                           ::operator new[](n, a, std::nothrow) };
            for (unsigned k = 0; k < 4; k++) {
                EXPECT(p[k] != NULL, "aligned new(%zu, %zu) form %u returned NULL", n, al, k);
                EXPECT(((uintptr_t)p[k] & (al - 1)) == 0, "new(%zu, align %zu) = %p", n, al, p[k]);
                fill_and_check(p[k], n, 0x33);
            }
            ::operator delete(p[0], a);
            ::operator delete[](p[1], n, a);
            ::operator delete(p[2], n, a);
            ::operator delete[](p[3], a, std::nothrow);
        }
    }
}
END_TEST

START_TEST(test_new_of_an_impossible_size_throws_bad_alloc)
{
    bool thrown = false;
    try {
        void *p = ::operator new(opaque((size_t)1 << 62));
        ::operator delete(p);
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    EXPECT(thrown, "new(2^62) did not throw std::bad_alloc");
    thrown = false;
    try {
        void *p = ::operator new[](opaque((size_t)1 << 62), std::align_val_t{4096});
        ::operator delete[](p, std::align_val_t{4096});
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    EXPECT(thrown, "aligned new[](2^62) did not throw std::bad_alloc");
}
END_TEST

START_TEST(test_nothrow_new_of_an_impossible_size_returns_null)
{
    EXPECT(::operator new(opaque((size_t)1 << 62), std::nothrow) == NULL, "nothrow new(2^62) is not NULL");
    EXPECT(::operator new[](opaque((size_t)1 << 62), std::nothrow) == NULL, "nothrow new[](2^62) is not NULL");
    EXPECT(::operator new(opaque((size_t)1 << 62), std::align_val_t{64}, std::nothrow) == NULL,
           "aligned nothrow new(2^62) is not NULL");
}
END_TEST

// The address space this process has mapped, from /proc/self/statm.
static size_t mapped_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    EXPECT(f != NULL && fscanf(f, "%lu", &pages) == 1, "cannot read /proc/self/statm");
    fclose(f);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

START_TEST(test_new_under_rlimit_as_throws_bad_alloc_and_nothrow_returns_null)
{
    SKIP_UNDER_SANITIZER("undefined", "the runtime's reservations change with the limit");
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = mapped_bytes() + 64 * MiB;
    EXPECT(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit: %s", strerror(errno));
    bool thrown = false;
    try {
        char *p = escape(new char[opaque(4096 * MiB)]);
        p[0] = 1;
        delete[] p;
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    EXPECT(thrown, "new char[4 GiB] under a 64 MiB RLIMIT_AS margin did not throw");
    EXPECT(escape(new (std::nothrow) char[opaque(4096 * MiB)]) == NULL, "nothrow new[] of 4 GiB is not NULL");
    // and the allocator still works
    for (size_t n : { (size_t)32, (size_t)5000, (size_t)MiB }) {
        char *q = escape(new char[n]);
        fill_and_check(q, n, 7);
        delete[] q;
    }
}
END_TEST

static int handler_calls;
static void handler_gives_up_third_time(void)
{
    if (++handler_calls == 3)
        std::set_new_handler(nullptr);
}

START_TEST(test_new_calls_the_new_handler_until_it_is_removed)
{
    handler_calls = 0;
    std::set_new_handler(handler_gives_up_third_time);
    bool thrown = false;
    try {
        void *p = ::operator new(opaque((size_t)1 << 62));
        ::operator delete(p);
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    EXPECT(thrown, "new did not throw once the handler removed itself");
    EXPECT_INT_EQ(handler_calls, 3);
}
END_TEST

static void *reserve;
static void handler_frees_the_reserve(void)
{
    handler_calls++;
    free(reserve);
    reserve = NULL;
    std::set_new_handler(nullptr);
}

START_TEST(test_new_succeeds_when_the_new_handler_frees_memory)
{
    SKIP_UNDER_SANITIZER("undefined", "the runtime's reservations change with the limit");
    reserve = malloc(96 * MiB);
    EXPECT_NONNULL(reserve);
    memset(reserve, 1, 96 * MiB);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = mapped_bytes() + 32 * MiB;
    EXPECT(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit: %s", strerror(errno));
    handler_calls = 0;
    std::set_new_handler(handler_frees_the_reserve);
    char *p = escape(new char[opaque(64 * MiB)]);
    EXPECT_INT_EQ(handler_calls, 1);
    fill_and_check(p, 64 * MiB, 9);
    delete[] p;
}
END_TEST

static void handler_throws(void)
{
    handler_calls++;
    throw std::bad_alloc();
}

START_TEST(test_nothrow_new_returns_null_when_the_new_handler_throws)
{
    handler_calls = 0;
    std::set_new_handler(handler_throws);
    EXPECT(::operator new(opaque((size_t)1 << 62), std::nothrow) == NULL, "nothrow new is not NULL");
    EXPECT(::operator new[](opaque((size_t)1 << 62), std::align_val_t{256}, std::nothrow) == NULL,
           "aligned nothrow new[] is not NULL");
    EXPECT_INT_GE(handler_calls, 2);
    // the allocation path is unharmed
    void *p = ::operator new(64, std::nothrow);
    EXPECT_NONNULL(p);
    ::operator delete(p, 64);
}
END_TEST

static void *delete_in_thread(void *p)
{
    ::operator delete(p, 48);
    return NULL;
}

START_TEST(test_sized_delete_by_another_thread_frees)
{
    for (int i = 0; i < 1000; i++) {
        void *p = ::operator new(48);
        pthread_t t;
        EXPECT_INT_EQ(pthread_create(&t, NULL, delete_in_thread, p), 0);
        pthread_join(t, NULL);
    }
}
END_TEST

// Misuse: a size that does not match the block ends in one line.
static void delete_tiny_with_another_tiny_size(void) { ::operator delete(::operator new(opaque(32)), opaque(64)); }
static void delete_tiny_with_a_mid_size(void) { ::operator delete(::operator new(opaque(100)), opaque(5000)); }
static void delete_mid_with_another_mid_size(void) { ::operator delete(::operator new(opaque(5000)), opaque(9000)); }
static void delete_large_with_a_tiny_size(void) { ::operator delete(::operator new(opaque(MiB)), opaque(100)); }
static void delete_array_with_a_larger_size(void) { ::operator delete[](new char[opaque(300)], opaque(2 * MiB)); }
static void delete_aligned_with_a_larger_size(void)
{
    ::operator delete(::operator new(opaque(100), std::align_val_t{64}), opaque(10000), std::align_val_t{64});
}
static void delete_of_a_stack_pointer(void)
{
    char buf[64];
    ::operator delete(opaque(1) ? (void *)buf : NULL, 64);
}

#define MISUSE(fn)                          \
    START_TEST(test_##fn##_is_reported)     \
    {                                       \
        expect_diagnostic(fn, #fn);         \
    }                                       \
    END_TEST

MISUSE(delete_tiny_with_another_tiny_size)
MISUSE(delete_tiny_with_a_mid_size)
MISUSE(delete_mid_with_another_mid_size)
MISUSE(delete_large_with_a_tiny_size)
MISUSE(delete_array_with_a_larger_size)
MISUSE(delete_aligned_with_a_larger_size)
MISUSE(delete_of_a_stack_pointer)

int main(void)
{
    struct rlimit rl = { 0, 0 };
    setrlimit(RLIMIT_CORE, &rl);
    Suite *s = suite_create("cxx");
    TCase *tc = tcase_create("operators");
    tcase_set_timeout(tc, timeout_at_least(60));
    tcase_add_test(tc, test_every_operator_form_resolves_to_hakmem);
    tcase_add_test(tc, test_new_and_delete_in_every_form_round_trip);
    tcase_add_test(tc, test_sized_delete_of_the_right_size_frees_every_size);
    tcase_add_test(tc, test_aligned_new_returns_aligned_blocks_of_every_form);
    tcase_add_test(tc, test_new_of_an_impossible_size_throws_bad_alloc);
    tcase_add_test(tc, test_nothrow_new_of_an_impossible_size_returns_null);
    tcase_add_test(tc, test_new_under_rlimit_as_throws_bad_alloc_and_nothrow_returns_null);
    tcase_add_test(tc, test_new_calls_the_new_handler_until_it_is_removed);
    tcase_add_test(tc, test_new_succeeds_when_the_new_handler_frees_memory);
    tcase_add_test(tc, test_nothrow_new_returns_null_when_the_new_handler_throws);
    tcase_add_test(tc, test_sized_delete_by_another_thread_frees);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("misuse");
    tcase_add_test(tm, test_delete_tiny_with_another_tiny_size_is_reported);
    tcase_add_test(tm, test_delete_tiny_with_a_mid_size_is_reported);
    tcase_add_test(tm, test_delete_mid_with_another_mid_size_is_reported);
    tcase_add_test(tm, test_delete_large_with_a_tiny_size_is_reported);
    tcase_add_test(tm, test_delete_array_with_a_larger_size_is_reported);
    tcase_add_test(tm, test_delete_aligned_with_a_larger_size_is_reported);
    tcase_add_test(tm, test_delete_of_a_stack_pointer_is_reported);
    suite_add_tcase(s, tm);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
