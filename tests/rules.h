/* Semantic and misuse rules shared by the "api" suite (tests/test_api.c,
 * calling hak_* directly) and the "interposer" suite (tests/test_interposer.c,
 * calling the standard names under LD_PRELOAD of libhakmem-malloc).
 *
 * The including file defines, before including this header:
 *   A(name)            the function under test: hak_##name or plain name
 *   foreign_alloc(n)   a pointer from an allocator that is NOT hakmem
 *   RULES_PREFIX       "" or "hak_", used only in messages
 *
 * Standard semantics are glibc's.  Misuse (a pointer hakmem does not own,
 * double free, corrupted free-list link) must end in one line
 * "hakmem: ..." on stderr followed by abort().
 */
#ifndef HAKMEM_TESTS_RULES_H
#define HAKMEM_TESTS_RULES_H

#include <check.h>
#include "expect.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Sizes are passed through a volatile so that the compiler neither warns
 * about absurd requests nor folds anything. */
static volatile size_t vsize_sink;
static size_t opaque_size(size_t n)
{
    vsize_sink = n;
    return vsize_sink;
}

static void *volatile vptr_sink;
static void *opaque_ptr(void *p)
{
    vptr_sink = p;
    return vptr_sink;
}

/* Sizes that cross every layer boundary: tiny (<= 1 KiB), mid
 * (1 KiB - 256 KiB), large (>= 256 KiB). */
static const size_t boundary_sizes[] = {
    0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 48, 64, 100, 127, 128, 129, 255, 256,
    257, 500, 511, 512, 513, 1000, 1023, 1024, 1025, 1040, 2000, 2048, 4095,
    4096, 4097, 10000, 16384, 32768, 65535, 65536, 65537, 100000, 131072,
    200000, 262143, 262144, 262145, 300000, 524288, 1048576, 1048577,
    2 * 1048576, 3 * 1048576 + 5, 8 * 1048576,
};

/* ------------------------------------------------------------------ */
/* content patterns                                                    */

static unsigned char pat_byte(size_t i, unsigned seed)
{
    return (unsigned char)((i * 131u) ^ (i >> 8) ^ seed);
}

static void fill_bytes(void *p, size_t n, unsigned seed)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = pat_byte(i, seed);
}

/* Returns the index of the first mismatch, or (size_t)-1. */
static size_t check_bytes(const void *p, size_t n, unsigned seed)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != pat_byte(i, seed))
            return i;
    return (size_t)-1;
}

static size_t first_nonzero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return i;
    return (size_t)-1;
}

static int is_aligned(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

/* The fundamental alignment an object of n bytes needs: 16 for n >= 16,
 * else the largest power of two <= n. */
static size_t natural_alignment(size_t n)
{
    size_t a = 1;
    while (a < 16 && a * 2 <= n)
        a *= 2;
    return a;
}

/* ------------------------------------------------------------------ */
/* malloc / free                                                       */

START_TEST(test_malloc_zero_returns_unique_pointer)
{
    void *p = A(malloc)(opaque_size(0));
    void *q = A(malloc)(opaque_size(0));
    EXPECT_NONNULL(p);
    EXPECT_NONNULL(q);
    EXPECT_PTR_NE(p, q);
    A(free)(p);
    A(free)(q);
}
END_TEST

START_TEST(test_malloc_zero_many_are_distinct)
{
    enum { N = 1000 };
    static void *v[N];
    for (int i = 0; i < N; i++) {
        v[i] = A(malloc)(opaque_size(0));
        EXPECT_NONNULL(v[i]);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            EXPECT(v[i] != v[j], "malloc(0) #%d and #%d both %p", i, j, v[i]);
    for (int i = 0; i < N; i++)
        A(free)(v[i]);
}
END_TEST

START_TEST(test_free_null_is_noop)
{
    A(free)(NULL);
    A(free)(opaque_ptr(NULL));
}
END_TEST

START_TEST(test_malloc_aligns_16_for_sizes_16_and_up)
{
    enum { NT = 2048 - 16 + 1 };
    static void *v[NT];
    /* every tiny/small size, all live at once */
    for (size_t s = 16; s <= 2048; s++) {
        void *p = A(malloc)(opaque_size(s));
        EXPECT_NONNULL(p);
        EXPECT(is_aligned(p, 16), RULES_PREFIX "malloc(%zu) = %p is not 16-byte aligned", s, p);
        v[s - 16] = p;
    }
    for (size_t i = 0; i < NT; i++)
        A(free)(v[i]);
    /* mid and large sizes */
    for (size_t s = 2049; s <= 600 * KiB; s += 4093) {
        void *p = A(malloc)(opaque_size(s));
        EXPECT_NONNULL(p);
        EXPECT(is_aligned(p, 16), RULES_PREFIX "malloc(%zu) = %p is not 16-byte aligned", s, p);
        A(free)(p);
    }
    for (size_t i = 0; i < NELEM(boundary_sizes); i++) {
        size_t s = boundary_sizes[i];
        if (s < 16)
            continue;
        void *p = A(malloc)(opaque_size(s));
        EXPECT_NONNULL(p);
        EXPECT(is_aligned(p, 16), RULES_PREFIX "malloc(%zu) = %p is not 16-byte aligned", s, p);
        A(free)(p);
    }
}
END_TEST

START_TEST(test_malloc_small_sizes_are_naturally_aligned)
{
    for (size_t s = 1; s < 16; s++) {
        void *p = A(malloc)(opaque_size(s));
        EXPECT_NONNULL(p);
        EXPECT(is_aligned(p, natural_alignment(s)),
                      RULES_PREFIX "malloc(%zu) = %p is not %zu-byte aligned", s, p, natural_alignment(s));
        memset(p, 0x5a, s);
        A(free)(p);
    }
}
END_TEST

START_TEST(test_malloc_whole_size_writable_across_layers)
{
    for (size_t i = 0; i < NELEM(boundary_sizes); i++) {
        size_t s = boundary_sizes[i];
        unsigned char *p = A(malloc)(opaque_size(s));
        EXPECT_NONNULL(p);
        fill_bytes(p, s, (unsigned)i);
        EXPECT(check_bytes(p, s, (unsigned)i) == (size_t)-1, "size %zu: readback differs", s);
        A(free)(p);
    }
}
END_TEST

START_TEST(test_tiny_free_then_malloc_same_size_returns_same_block)
{
    static const size_t sizes[] = { 1, 16, 24, 32, 64, 100, 256, 512, 1000, 1024 };
    for (size_t i = 0; i < NELEM(sizes); i++) {
        void *p = A(malloc)(opaque_size(sizes[i]));
        EXPECT_NONNULL(p);
        A(free)(p);
        void *q = A(malloc)(opaque_size(sizes[i]));
        EXPECT(q == p, "size %zu: freed %p, next malloc returned %p (tiny LIFO expected)",
                      sizes[i], p, q);
        A(free)(q);
    }
}
END_TEST

/* Many live blocks of random sizes, each filled with its own pattern,
 * never overlap; blocks freed and reallocated in between keep the others
 * intact. */
START_TEST(test_live_blocks_never_overlap)
{
    enum { N = 6000 };
    static void *v[N];
    static size_t sz[N];
    unsigned r = 12345;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            if (v[i] && (r = r * 1103515245u + 12345u, (r >> 16) % 2))
                continue;
            if (v[i]) {
                EXPECT(check_bytes(v[i], sz[i], (unsigned)i) == (size_t)-1,
                              "block %d (size %zu) was overwritten", i, sz[i]);
                A(free)(v[i]);
            }
            r = r * 1103515245u + 12345u;
            unsigned k = (r >> 16) % 1000;
            size_t s = k < 900 ? (r >> 4) % 1025 : k < 995 ? 1025 + (r >> 4) % (100 * KiB)
                                                          : 256 * KiB + (r >> 4) % MiB;
            v[i] = A(malloc)(opaque_size(s));
            EXPECT_NONNULL(v[i]);
            sz[i] = s;
            fill_bytes(v[i], s, (unsigned)i);
        }
        for (int i = 0; i < N; i++)
            EXPECT(check_bytes(v[i], sz[i], (unsigned)i) == (size_t)-1,
                          "round %d: block %d (size %zu at %p) was overwritten", round, i, sz[i], v[i]);
    }
    for (int i = 0; i < N; i++) {
        A(free)(v[i]);
        v[i] = NULL;
    }
}
END_TEST

START_TEST(test_mid_and_large_blocks_are_reused_without_growth)
{
    /* Allocating and freeing the same mid/large sizes many times must not
     * keep consuming address space: all of this stays within 1 GiB of
     * virtual memory if freed blocks are reused or unmapped. */
    static const size_t sizes[] = { 2000, 40000, 250000, 300000, 4 * MiB };
    for (int it = 0; it < 300; it++)
        for (size_t i = 0; i < NELEM(sizes); i++) {
            char *p = A(malloc)(opaque_size(sizes[i]));
            EXPECT_NONNULL(p);
            p[0] = 1;
            p[sizes[i] - 1] = 2;
            A(free)(p);
        }
}
END_TEST

/* ------------------------------------------------------------------ */
/* malloc failure                                                      */

static void expect_malloc_enomem(size_t n)
{
    errno = 0;
    void *p = A(malloc)(opaque_size(n));
    EXPECT(p == NULL, RULES_PREFIX "malloc(%zu) returned %p, expected NULL", n, p);
    EXPECT(errno == ENOMEM, RULES_PREFIX "malloc(%zu): errno %d, expected ENOMEM", n, errno);
}

START_TEST(test_malloc_size_max_returns_null_enomem)
{
    expect_malloc_enomem(SIZE_MAX);
    expect_malloc_enomem(SIZE_MAX - 1);
    expect_malloc_enomem(SIZE_MAX - 15);
    expect_malloc_enomem(SIZE_MAX - 4095);
    expect_malloc_enomem(SIZE_MAX - 2 * MiB);
}
END_TEST

START_TEST(test_malloc_ptrdiff_max_plus_one_returns_null_enomem)
{
    expect_malloc_enomem((size_t)PTRDIFF_MAX + 1);
    expect_malloc_enomem((size_t)PTRDIFF_MAX + 2);
    expect_malloc_enomem((size_t)PTRDIFF_MAX + 4096);
}
END_TEST

/* ------------------------------------------------------------------ */
/* calloc                                                              */

START_TEST(test_calloc_returns_zeroed_memory)
{
    for (size_t i = 0; i < NELEM(boundary_sizes); i++) {
        size_t s = boundary_sizes[i];
        unsigned char *p = A(calloc)(1, opaque_size(s));
        EXPECT_NONNULL(p);
        EXPECT(first_nonzero(p, s) == (size_t)-1, RULES_PREFIX "calloc(1, %zu): byte %zu not zero",
                      s, first_nonzero(p, s));
        A(free)(p);
    }
}
END_TEST

START_TEST(test_calloc_zeroes_recycled_small_blocks)
{
    static const size_t sizes[] = { 8, 16, 32, 48, 100, 512, 1024, 1500, 4096, 40000, 200000 };
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < NELEM(sizes); i++) {
            size_t s = sizes[i];
            unsigned char *p = A(malloc)(opaque_size(s));
            EXPECT_NONNULL(p);
            memset(p, 0xA5, s);
            A(free)(p);
            unsigned char *q = A(calloc)(opaque_size(s), 1);
            EXPECT_NONNULL(q);
            EXPECT(first_nonzero(q, s) == (size_t)-1,
                          RULES_PREFIX "calloc(%zu, 1) after free of dirty block: byte %zu not zero", s,
                          first_nonzero(q, s));
            A(free)(q);
        }
}
END_TEST

START_TEST(test_calloc_large_block_is_zero_when_recycled)
{
    static const size_t sizes[] = { 256 * KiB, 300000, MiB, MiB + 123, 3 * MiB, 8 * MiB };
    for (int round = 0; round < 4; round++)
        for (size_t i = 0; i < NELEM(sizes); i++) {
            size_t s = sizes[i];
            unsigned char *p = A(calloc)(1, opaque_size(s));
            EXPECT_NONNULL(p);
            EXPECT(first_nonzero(p, s) == (size_t)-1, "calloc(1, %zu): byte %zu not zero", s,
                          first_nonzero(p, s));
            memset(p, 0xFF, s);
            A(free)(p);
        }
}
END_TEST

START_TEST(test_calloc_zero_returns_unique_pointer)
{
    void *p = A(calloc)(0, opaque_size(16));
    void *q = A(calloc)(opaque_size(16), 0);
    void *r = A(calloc)(0, opaque_size(0));
    EXPECT_NONNULL(p);
    EXPECT_NONNULL(q);
    EXPECT_NONNULL(r);
    EXPECT_PTR_NE(p, q);
    EXPECT_PTR_NE(q, r);
    EXPECT_PTR_NE(p, r);
    A(free)(p);
    A(free)(q);
    A(free)(r);
}
END_TEST

static void expect_calloc_enomem(size_t n, size_t m)
{
    errno = 0;
    void *p = A(calloc)(opaque_size(n), opaque_size(m));
    EXPECT(p == NULL, RULES_PREFIX "calloc(%zu, %zu) returned %p, expected NULL", n, m, p);
    EXPECT(errno == ENOMEM, RULES_PREFIX "calloc(%zu, %zu): errno %d, expected ENOMEM", n, m, errno);
}

START_TEST(test_calloc_overflow_returns_null_enomem)
{
    expect_calloc_enomem(SIZE_MAX, SIZE_MAX);
    expect_calloc_enomem(SIZE_MAX / 2 + 1, 2);
    expect_calloc_enomem(2, SIZE_MAX / 2 + 1);
    expect_calloc_enomem((size_t)1 << 32, (size_t)1 << 32); /* product wraps to 0 */
    expect_calloc_enomem(((size_t)1 << 32) + 1, (size_t)1 << 32); /* wraps to 2^32 */
    expect_calloc_enomem(SIZE_MAX / 16 + 1, 16);
}
END_TEST

START_TEST(test_calloc_huge_returns_null_enomem)
{
    expect_calloc_enomem(1, SIZE_MAX);
    expect_calloc_enomem(SIZE_MAX, 1);
    expect_calloc_enomem((size_t)PTRDIFF_MAX + 1, 1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* realloc                                                             */

START_TEST(test_realloc_null_acts_as_malloc)
{
    for (size_t i = 0; i < NELEM(boundary_sizes); i++) {
        size_t s = boundary_sizes[i];
        unsigned char *p = A(realloc)(NULL, opaque_size(s));
        EXPECT_NONNULL(p);
        if (s >= 16)
            EXPECT1(is_aligned(p, 16));
        fill_bytes(p, s, 3);
        EXPECT1(check_bytes(p, s, 3) == (size_t)-1);
        A(free)(p);
    }
}
END_TEST

START_TEST(test_realloc_null_zero_returns_unique_pointer)
{
    void *p = A(realloc)(NULL, opaque_size(0));
    void *q = A(realloc)(NULL, opaque_size(0));
    EXPECT_NONNULL(p);
    EXPECT_NONNULL(q);
    EXPECT_PTR_NE(p, q);
    A(free)(p);
    A(free)(q);
}
END_TEST

START_TEST(test_realloc_zero_frees_and_returns_null)
{
    for (size_t i = 0; i < NELEM(boundary_sizes); i++) {
        size_t s = boundary_sizes[i];
        void *p = A(malloc)(opaque_size(s));
        EXPECT_NONNULL(p);
        void *q = A(realloc)(p, opaque_size(0));
        EXPECT(q == NULL, RULES_PREFIX "realloc(malloc(%zu), 0) returned %p, expected NULL", s, q);
    }
}
END_TEST

START_TEST(test_realloc_zero_releases_tiny_block)
{
    /* the block freed by realloc(p, 0) is the next one handed out for that
     * size (tiny LIFO), which shows it really was freed */
    void *p = A(malloc)(opaque_size(48));
    EXPECT_NONNULL(p);
    EXPECT_NULL(A(realloc)(p, opaque_size(0)));
    void *q = A(malloc)(opaque_size(48));
    EXPECT_PTR_EQ(p, q);
    A(free)(q);
}
END_TEST

static const size_t realloc_sizes[] = {
    0, 1, 15, 16, 17, 100, 512, 1023, 1024, 1025, 2000, 4096, 65535, 65536,
    65537, 200000, 262143, 262144, 262145, 1048576, 3 * 1048576 + 5,
};

START_TEST(test_realloc_preserves_contents_across_layers)
{
    for (size_t i = 0; i < NELEM(realloc_sizes); i++)
        for (size_t j = 0; j < NELEM(realloc_sizes); j++) {
            size_t a = realloc_sizes[i], b = realloc_sizes[j];
            if (b == 0)
                continue;
            unsigned seed = (unsigned)(i * 64 + j);
            unsigned char *p = A(malloc)(opaque_size(a));
            EXPECT_NONNULL(p);
            fill_bytes(p, a, seed);
            unsigned char *q = A(realloc)(p, opaque_size(b));
            EXPECT(q != NULL, RULES_PREFIX "realloc(%zu -> %zu) returned NULL", a, b);
            size_t keep = a < b ? a : b;
            size_t bad = check_bytes(q, keep, seed);
            EXPECT(bad == (size_t)-1, RULES_PREFIX "realloc(%zu -> %zu): byte %zu changed", a, b, bad);
            if (b >= 16)
                EXPECT(is_aligned(q, 16), RULES_PREFIX "realloc(%zu -> %zu) = %p not 16-aligned", a, b, q);
            memset(q, 0x77, b); /* whole new size writable */
            A(free)(q);
        }
}
END_TEST

START_TEST(test_realloc_grow_step_by_step_preserves_contents)
{
    size_t s = 1;
    unsigned char *p = A(malloc)(1);
    EXPECT_NONNULL(p);
    p[0] = pat_byte(0, 9);
    while (s < 6 * MiB) {
        size_t ns = s + s / 3 + 1;
        unsigned char *q = A(realloc)(p, opaque_size(ns));
        EXPECT_NONNULL(q);
        size_t bad = check_bytes(q, s, 9);
        EXPECT(bad == (size_t)-1, RULES_PREFIX "realloc(%zu -> %zu): byte %zu changed", s, ns, bad);
        for (size_t k = s; k < ns; k++)
            q[k] = pat_byte(k, 9);
        p = q;
        s = ns;
    }
    /* and back down */
    while (s > 1) {
        size_t ns = s / 2;
        unsigned char *q = A(realloc)(p, opaque_size(ns));
        EXPECT_NONNULL(q);
        size_t bad = check_bytes(q, ns, 9);
        EXPECT(bad == (size_t)-1, RULES_PREFIX "realloc(%zu -> %zu): byte %zu changed", s, ns, bad);
        p = q;
        s = ns;
    }
    A(free)(p);
}
END_TEST

START_TEST(test_realloc_failure_keeps_old_block)
{
    static const size_t sizes[] = { 32, 5000, 300000 };
    for (size_t i = 0; i < NELEM(sizes); i++) {
        unsigned char *p = A(malloc)(sizes[i]);
        EXPECT_NONNULL(p);
        fill_bytes(p, sizes[i], 5);
        errno = 0;
        void *q = A(realloc)(p, opaque_size(SIZE_MAX));
        EXPECT(q == NULL, RULES_PREFIX "realloc(p, SIZE_MAX) returned %p", q);
        EXPECT_INT_EQ(errno, ENOMEM);
        errno = 0;
        q = A(realloc)(p, opaque_size((size_t)PTRDIFF_MAX + 1));
        EXPECT(q == NULL, RULES_PREFIX "realloc(p, PTRDIFF_MAX+1) returned %p", q);
        EXPECT_INT_EQ(errno, ENOMEM);
        EXPECT1(check_bytes(p, sizes[i], 5) == (size_t)-1);
        A(free)(p);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* reallocarray                                                        */

START_TEST(test_reallocarray_allocates_and_preserves)
{
    unsigned char *p = A(reallocarray)(NULL, opaque_size(10), 10);
    EXPECT_NONNULL(p);
    fill_bytes(p, 100, 4);
    p = A(reallocarray)(p, opaque_size(1000), 100);
    EXPECT_NONNULL(p);
    EXPECT1(check_bytes(p, 100, 4) == (size_t)-1);
    memset(p + 100, 1, 100000 - 100);
    p = A(reallocarray)(p, opaque_size(3), 7);
    EXPECT_NONNULL(p);
    EXPECT1(check_bytes(p, 21, 4) == (size_t)-1);
    A(free)(p);
}
END_TEST

START_TEST(test_reallocarray_overflow_enomem_keeps_block)
{
    unsigned char *p = A(malloc)(64);
    EXPECT_NONNULL(p);
    fill_bytes(p, 64, 6);
    errno = 0;
    void *q = A(reallocarray)(p, opaque_size(SIZE_MAX / 2), 3);
    EXPECT_NULL(q);
    EXPECT_INT_EQ(errno, ENOMEM);
    errno = 0;
    q = A(reallocarray)(p, opaque_size((size_t)1 << 32), (size_t)1 << 32);
    EXPECT_NULL(q);
    EXPECT_INT_EQ(errno, ENOMEM);
    EXPECT1(check_bytes(p, 64, 6) == (size_t)-1);
    A(free)(p);

    errno = 0;
    q = A(reallocarray)(NULL, opaque_size(SIZE_MAX), opaque_size(SIZE_MAX));
    EXPECT_NULL(q);
    EXPECT_INT_EQ(errno, ENOMEM);
}
END_TEST

/* ------------------------------------------------------------------ */
/* posix_memalign / aligned_alloc / memalign                           */

static const size_t align_test_sizes[] = { 1, 16, 100, 1000, 1024, 5000, 70000, 300000, 3 * MiB + 1 };

static void check_aligned_block(const char *fn, void *p, size_t align, size_t size)
{
    EXPECT(p != NULL, "%s(%zu, %zu) returned NULL", fn, align, size);
    EXPECT(is_aligned(p, align), "%s(%zu, %zu) = %p is misaligned", fn, align, size, p);
    fill_bytes(p, size, (unsigned)align);
    EXPECT1(check_bytes(p, size, (unsigned)align) == (size_t)-1);
    size_t u = A(malloc_usable_size)(p);
    EXPECT(u >= size, "%s(%zu, %zu): usable size %zu", fn, align, size, u);
}

START_TEST(test_posix_memalign_power_of_two_alignments_work)
{
    for (size_t align = sizeof(void *); align <= 2 * MiB; align *= 2)
        for (size_t i = 0; i < NELEM(align_test_sizes); i++) {
            size_t s = align_test_sizes[i];
            void *p = (void *)0x1;
            int rc = A(posix_memalign)(&p, align, opaque_size(s));
            EXPECT(rc == 0, RULES_PREFIX "posix_memalign(%zu, %zu) returned %d", align, s, rc);
            check_aligned_block(RULES_PREFIX "posix_memalign", p, align, s);
            A(free)(p);
        }
}
END_TEST

START_TEST(test_posix_memalign_many_live_aligned_blocks)
{
    /* keep many aligned blocks alive at once, so that they are not all the
     * same recycled block */
    enum { N = 64 };
    void *v[N];
    for (size_t align = 16; align <= 2 * MiB; align *= 4) {
        size_t s = align < 4096 ? 200 : 4096;
        for (int i = 0; i < N; i++) {
            EXPECT_INT_EQ(A(posix_memalign)(&v[i], align, opaque_size(s)), 0);
            EXPECT1(is_aligned(v[i], align));
            fill_bytes(v[i], s, (unsigned)i);
        }
        for (int i = 0; i < N; i++) {
            EXPECT(check_bytes(v[i], s, (unsigned)i) == (size_t)-1, "align %zu block %d overwritten",
                          align, i);
            A(free)(v[i]);
        }
    }
}
END_TEST

START_TEST(test_posix_memalign_2mib_alignment_works)
{
    static const size_t sizes[] = { 1, 4096, 2 * MiB, 2 * MiB + 1, 5 * MiB };
    for (size_t i = 0; i < NELEM(sizes); i++) {
        void *p = NULL;
        EXPECT_INT_EQ(A(posix_memalign)(&p, 2 * MiB, opaque_size(sizes[i])), 0);
        check_aligned_block(RULES_PREFIX "posix_memalign", p, 2 * MiB, sizes[i]);
        A(free)(p);
    }
}
END_TEST

START_TEST(test_posix_memalign_non_power_of_two_returns_einval)
{
    static const size_t bad[] = { 24, 40, 48, 96, 3 * 4096, 1000000 };
    for (size_t i = 0; i < NELEM(bad); i++) {
        void *sentinel = (void *)0x5a5a5a50;
        void *p = sentinel;
        int rc = A(posix_memalign)(&p, opaque_size(bad[i]), 64);
        EXPECT(rc == EINVAL, RULES_PREFIX "posix_memalign(align %zu) returned %d, expected EINVAL",
                      bad[i], rc);
        EXPECT(p == sentinel, RULES_PREFIX "posix_memalign(align %zu) changed *memptr on failure", bad[i]);
    }
}
END_TEST

START_TEST(test_posix_memalign_non_multiple_of_pointer_returns_einval)
{
    static const size_t bad[] = { 0, 1, 2, 4, sizeof(void *) / 2, sizeof(void *) + 1 };
    for (size_t i = 0; i < NELEM(bad); i++) {
        void *sentinel = (void *)0x5a5a5a50;
        void *p = sentinel;
        int rc = A(posix_memalign)(&p, opaque_size(bad[i]), 64);
        EXPECT(rc == EINVAL, RULES_PREFIX "posix_memalign(align %zu) returned %d, expected EINVAL",
                      bad[i], rc);
        EXPECT(p == sentinel, RULES_PREFIX "posix_memalign(align %zu) changed *memptr on failure", bad[i]);
    }
}
END_TEST

START_TEST(test_posix_memalign_impossible_size_returns_enomem)
{
    static const size_t aligns[] = { 16, 64, 4096, MiB };
    static const size_t sizes[] = { SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1 };
    for (size_t a = 0; a < NELEM(aligns); a++)
        for (size_t i = 0; i < NELEM(sizes); i++) {
            void *sentinel = (void *)0x5a5a5a50;
            void *p = sentinel;
            int rc = A(posix_memalign)(&p, aligns[a], opaque_size(sizes[i]));
            EXPECT(rc == ENOMEM, RULES_PREFIX "posix_memalign(%zu, %zu) returned %d, expected ENOMEM",
                          aligns[a], sizes[i], rc);
            EXPECT(p == sentinel, RULES_PREFIX "posix_memalign(%zu, %zu) changed *memptr on failure",
                          aligns[a], sizes[i]);
        }
}
END_TEST

START_TEST(test_posix_memalign_zero_size_returns_freeable_pointer)
{
    void *p = NULL, *q = NULL;
    EXPECT_INT_EQ(A(posix_memalign)(&p, 64, opaque_size(0)), 0);
    EXPECT_INT_EQ(A(posix_memalign)(&q, 64, opaque_size(0)), 0);
    EXPECT_NONNULL(p);
    EXPECT_NONNULL(q);
    EXPECT_PTR_NE(p, q);
    EXPECT1(is_aligned(p, 64) && is_aligned(q, 64));
    A(free)(p);
    A(free)(q);
}
END_TEST

START_TEST(test_aligned_alloc_power_of_two_alignments_work)
{
    for (size_t align = 1; align <= 2 * MiB; align *= 2)
        for (size_t i = 0; i < NELEM(align_test_sizes); i++) {
            size_t s = align_test_sizes[i];
            void *p = A(aligned_alloc)(opaque_size(align), opaque_size(s));
            check_aligned_block(RULES_PREFIX "aligned_alloc", p, align, s);
            A(free)(p);
        }
}
END_TEST

START_TEST(test_aligned_alloc_non_power_of_two_returns_null_einval)
{
    static const size_t bad[] = { 3, 24, 48, 100, 3 * 4096 };
    for (size_t i = 0; i < NELEM(bad); i++) {
        errno = 0;
        void *p = A(aligned_alloc)(opaque_size(bad[i]), 256);
        EXPECT(p == NULL, RULES_PREFIX "aligned_alloc(%zu, 256) returned %p, expected NULL", bad[i], p);
        EXPECT(errno == EINVAL, RULES_PREFIX "aligned_alloc(%zu, 256): errno %d, expected EINVAL", bad[i],
                      errno);
    }
}
END_TEST

START_TEST(test_aligned_alloc_zero_alignment_returns_null_einval)
{
    errno = 0;
    void *p = A(aligned_alloc)(opaque_size(0), 64);
    EXPECT_NULL(p);
    EXPECT_INT_EQ(errno, EINVAL);
}
END_TEST

START_TEST(test_aligned_alloc_huge_size_returns_null_enomem)
{
    errno = 0;
    void *p = A(aligned_alloc)(4096, opaque_size(SIZE_MAX - 100));
    EXPECT_NULL(p);
    EXPECT_INT_EQ(errno, ENOMEM);
    errno = 0;
    p = A(aligned_alloc)(MiB, opaque_size(SIZE_MAX - MiB / 2));
    EXPECT_NULL(p);
    EXPECT_INT_EQ(errno, ENOMEM);
}
END_TEST

START_TEST(test_memalign_power_of_two_alignments_work)
{
    for (size_t align = 1; align <= 2 * MiB; align *= 2)
        for (size_t i = 0; i < NELEM(align_test_sizes); i++) {
            size_t s = align_test_sizes[i];
            void *p = A(memalign)(opaque_size(align), opaque_size(s));
            check_aligned_block(RULES_PREFIX "memalign", p, align, s);
            A(free)(p);
        }
}
END_TEST

START_TEST(test_memalign_rounds_non_power_of_two_alignment_up)
{
    static const size_t req[] = { 24, 48, 100, 3000, 5000, 3 * 4096, 700000 };
    static const size_t want[] = { 32, 64, 128, 4096, 8192, 4 * 4096, MiB };
    for (size_t i = 0; i < NELEM(req); i++) {
        void *p = A(memalign)(opaque_size(req[i]), 1000);
        EXPECT(p != NULL, RULES_PREFIX "memalign(%zu, 1000) returned NULL", req[i]);
        EXPECT(is_aligned(p, want[i]), RULES_PREFIX "memalign(%zu, 1000) = %p, not %zu-aligned", req[i], p,
                      want[i]);
        memset(p, 1, 1000);
        A(free)(p);
    }
}
END_TEST

START_TEST(test_memalign_zero_alignment_acts_as_malloc)
{
    void *p = A(memalign)(opaque_size(0), 100);
    EXPECT_NONNULL(p);
    EXPECT1(is_aligned(p, 16));
    memset(p, 1, 100);
    A(free)(p);
}
END_TEST

START_TEST(test_memalign_huge_size_returns_null_enomem)
{
    errno = 0;
    void *p = A(memalign)(64, opaque_size(SIZE_MAX - 32));
    EXPECT_NULL(p);
    EXPECT_INT_EQ(errno, ENOMEM);
    errno = 0;
    p = A(memalign)(MiB, opaque_size(SIZE_MAX - MiB / 2));
    EXPECT_NULL(p);
    EXPECT_INT_EQ(errno, ENOMEM);
}
END_TEST

/* ------------------------------------------------------------------ */
/* malloc_usable_size                                                  */

START_TEST(test_malloc_usable_size_null_is_zero)
{
    EXPECT_UINT_EQ(A(malloc_usable_size)(NULL), 0);
}
END_TEST

START_TEST(test_malloc_usable_size_at_least_requested)
{
    for (size_t s = 0; s <= 4200; s++) {
        void *p = A(malloc)(opaque_size(s));
        EXPECT_NONNULL(p);
        size_t u = A(malloc_usable_size)(p);
        EXPECT(u >= s, RULES_PREFIX "malloc_usable_size(malloc(%zu)) = %zu", s, u);
        A(free)(p);
    }
    for (size_t i = 0; i < NELEM(boundary_sizes); i++) {
        size_t s = boundary_sizes[i];
        void *p = A(malloc)(opaque_size(s));
        EXPECT_NONNULL(p);
        size_t u = A(malloc_usable_size)(p);
        EXPECT(u >= s, RULES_PREFIX "malloc_usable_size(malloc(%zu)) = %zu", s, u);
        A(free)(p);
    }
}
END_TEST

START_TEST(test_malloc_usable_size_bytes_all_writable)
{
    /* Fill the whole usable size of many live neighbouring blocks; no
     * block's usable area may overlap another's. */
    enum { N = 3000 };
    static void *v[N];
    static size_t us[N];
    for (int i = 0; i < N; i++) {
        size_t s = i < 2700   ? (size_t)(i % 1100)                     /* tiny and first mid */
                   : i < 2980 ? 1100 + (size_t)(i - 2700) * 900          /* mid */
                              : 256 * KiB + (size_t)(i - 2980) * 50000;  /* large */
        v[i] = A(malloc)(opaque_size(s));
        EXPECT_NONNULL(v[i]);
        us[i] = A(malloc_usable_size)(v[i]);
        EXPECT1(us[i] >= s);
        fill_bytes(v[i], us[i], (unsigned)i * 7);
    }
    for (int i = 0; i < N; i++) {
        size_t bad = check_bytes(v[i], us[i], (unsigned)i * 7);
        EXPECT(bad == (size_t)-1, "usable area of block %d (%p, usable %zu) overwritten at %zu", i, v[i],
                      us[i], bad);
        A(free)(v[i]);
    }
}
END_TEST

START_TEST(test_malloc_usable_size_of_aligned_and_large_blocks)
{
    static const size_t sizes[] = { 256 * KiB, 300000, 5 * MiB + 3 };
    for (size_t i = 0; i < NELEM(sizes); i++) {
        unsigned char *p = A(malloc)(opaque_size(sizes[i]));
        EXPECT_NONNULL(p);
        size_t u = A(malloc_usable_size)(p);
        EXPECT1(u >= sizes[i]);
        /* opaque_ptr: _FORTIFY_SOURCE (distribution build flags) knows
         * the requested size and would abort a write beyond it. */
        memset(opaque_ptr(p), 0xCC, u);
        A(free)(p);
    }
    void *q = A(memalign)(4096, 5000);
    EXPECT_NONNULL(q);
    size_t u = A(malloc_usable_size)(q);
    EXPECT1(u >= 5000);
    memset(opaque_ptr(q), 0xCC, u);
    A(free)(q);
}
END_TEST

/* ------------------------------------------------------------------ */
/* trim (TRIM: hak_trim or glibc's malloc_trim)                        */

/* Without stdio, which would allocate and free between two trims. */
static size_t rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *res = strchr(buf, ' ');
    return res ? (size_t)strtoull(res + 1, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

START_TEST(test_trim_gives_freed_memory_back_to_the_kernel)
{
    enum { SMALL = 20000, LARGE = 4 };
    static void *small[SMALL];
    void *large[LARGE];
    for (int i = 0; i < SMALL; i++) {
        EXPECT_NONNULL(small[i] = A(malloc)(opaque_size(i % 2 ? 64 : 8000)));
        memset(small[i], 1, i % 2 ? 64 : 8000);
    }
    for (int i = 0; i < LARGE; i++) {
        EXPECT_NONNULL(large[i] = A(malloc)(opaque_size(4 * MiB)));
        memset(large[i], 1, 4 * MiB);
    }
    for (int i = 0; i < SMALL; i++)
        A(free)(small[i]);
    for (int i = 0; i < LARGE; i++)
        A(free)(large[i]);
    size_t before = rss_bytes();
    EXPECT_INT_EQ(TRIM(0), 1);
    size_t after = rss_bytes();
    /* 16 MiB of large blocks were cached, besides slabs (the empty
     * SuperSlabs beyond HAKMEM_SS_CACHE have gone back already) */
    EXPECT(after + 16 * MiB <= before, "RSS went from %zu KiB to %zu KiB", before / KiB, after / KiB);
    EXPECT_INT_EQ(TRIM(0), 0);      /* nothing left to give back */
}
END_TEST

START_TEST(test_trim_leaves_live_blocks_intact_and_usable)
{
    static const size_t sizes[] = { 1, 16, 100, 1024, 5000, 70000, 256 * KiB, 300000, 3 * MiB + 1 };
    void *live[NELEM(sizes)], *dead[NELEM(sizes)];
    for (size_t i = 0; i < NELEM(sizes); i++) {
        EXPECT_NONNULL(live[i] = A(malloc)(opaque_size(sizes[i])));
        EXPECT_NONNULL(dead[i] = A(malloc)(opaque_size(sizes[i])));
        fill_bytes(live[i], sizes[i], (unsigned)i);
    }
    for (size_t i = 0; i < NELEM(sizes); i++)
        A(free)(dead[i]);
    TRIM(0);
    for (size_t i = 0; i < NELEM(sizes); i++) {
        EXPECT(check_bytes(live[i], sizes[i], (unsigned)i) == (size_t)-1, "size %zu: contents changed", sizes[i]);
        EXPECT_NONNULL(live[i] = A(realloc)(live[i], sizes[i] * 2));
        EXPECT(check_bytes(live[i], sizes[i], (unsigned)i) == (size_t)-1, "size %zu: contents changed", sizes[i]);
        EXPECT_NONNULL(dead[i] = A(malloc)(opaque_size(sizes[i])));
        memset(dead[i], 2, sizes[i]);
    }
    for (size_t i = 0; i < NELEM(sizes); i++) {
        A(free)(live[i]);
        A(free)(dead[i]);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* misuse: each one aborts with exactly one "hakmem: " line            */

static void no_foreign_allocator(void)
{
    static const char m[] = "test: no foreign allocator available (is hakmem preloaded?)\n";
    ssize_t w = write(2, m, sizeof m - 1);
    (void)w;
    _exit(3);
}

static void misuse_free_of_stack_pointer(void)
{
    char buf[64];
    memset(buf, 0, sizeof buf);
    A(free)(opaque_ptr(buf + 16));
}

static void misuse_free_of_foreign_heap_pointer(void)
{
    void *p = foreign_alloc(64);
    if (!p)
        no_foreign_allocator();
    memset(p, 0, 64);
    A(free)(opaque_ptr(p));
}

static void misuse_free_of_mmap_pointer(void)
{
    char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(3);
    A(free)(opaque_ptr(p + 4096));
}

static void misuse_free_of_interior_pointer(void)
{
    char *p = A(malloc)(opaque_size(64));
    A(free)(opaque_ptr(p + 8));
}

static void misuse_free_of_interior_pointer_mid(void)
{
    char *p = A(malloc)(opaque_size(4096));
    A(free)(opaque_ptr(p + 64));
}

static void misuse_free_of_interior_pointer_large(void)
{
    char *p = A(malloc)(opaque_size(MiB));
    A(free)(opaque_ptr(p + 8192));
}

static void misuse_double_free(void)
{
    void *p = A(malloc)(opaque_size(32));
    A(free)(p);
    A(free)(opaque_ptr(p));
}

static void misuse_double_free_after_other_frees(void)
{
    /* the block is no longer at the head of the free list */
    void *p = A(malloc)(opaque_size(32));
    void *q = A(malloc)(opaque_size(32));
    void *r = A(malloc)(opaque_size(32));
    A(free)(p);
    A(free)(q);
    A(free)(r);
    A(free)(opaque_ptr(p));
}

/* Cross-thread misuse: `other_free` frees a block in a thread of its own,
 * which then exits; the block's span stays with the calling thread. */
static void *other_free_main(void *p)
{
    A(free)(p);
    return NULL;
}

static void other_free(void *p)
{
    pthread_t t;
    if (pthread_create(&t, NULL, other_free_main, p) != 0 || pthread_join(t, NULL) != 0)
        _exit(3);
}

/* Live blocks beside the victim, so that its span stays in use and the
 * remote queue does not hold every block of the span. */
static void *neighbours[64];
static void *keep_neighbours(size_t size)
{
    for (int i = 0; i < 64; i++)
        neighbours[i] = A(malloc)(opaque_size(size));
    return A(malloc)(opaque_size(size));
}

static void misuse_double_free_by_owner_then_other_thread(void)
{
    void *p = keep_neighbours(48);
    A(free)(p);
    other_free(opaque_ptr(p));
}

static void misuse_double_free_by_other_thread_then_owner(void)
{
    void *p = keep_neighbours(48);
    other_free(p);
    A(free)(opaque_ptr(p));
}

static void misuse_double_free_by_two_other_threads(void)
{
    void *p = keep_neighbours(48);
    other_free(p);
    other_free(opaque_ptr(p));
}

static void misuse_double_free_by_other_thread_mid(void)
{
    void *p = keep_neighbours(3000);
    other_free(p);
    other_free(opaque_ptr(p));
}

/* The owner's refills drain the remote queue in between: the block is
 * back on its span's free list, or handed out again, when the second free
 * arrives; either way it must not be handed out twice. */
static void misuse_double_free_by_other_thread_after_drain(void)
{
    void *p = keep_neighbours(48);
    other_free(p);
    for (int i = 0; i < 10000; i++)
        A(free)(A(malloc)(opaque_size(48)));
    other_free(opaque_ptr(p));
    void *a = A(malloc)(opaque_size(48)), *b = A(malloc)(opaque_size(48));
    if (a == b)                     /* handed out twice: the bug itself */
        _exit(4);
}

static void misuse_corrupted_free_list_link(void)
{
    void *p = A(malloc)(opaque_size(32));
    A(free)(p);
    ((volatile uintptr_t *)opaque_ptr(p))[0] ^= 1;
    void *q = A(malloc)(opaque_size(32));
    (void)opaque_ptr(q);
}

static void misuse_realloc_of_foreign_pointer(void)
{
    void *p = foreign_alloc(64);
    if (!p)
        no_foreign_allocator();
    void *q = A(realloc)(opaque_ptr(p), opaque_size(100));
    (void)opaque_ptr(q);
}

static void misuse_realloc_of_stack_pointer(void)
{
    char buf[64];
    memset(buf, 0, sizeof buf);
    void *q = A(realloc)(opaque_ptr(buf), opaque_size(100));
    (void)opaque_ptr(q);
}

static void misuse_malloc_usable_size_of_foreign_pointer(void)
{
    void *p = foreign_alloc(64);
    if (!p)
        no_foreign_allocator();
    size_t u = A(malloc_usable_size)(opaque_ptr(p));
    vsize_sink = u;
}

#define MISUSE_TESTS(name)                                 \
    START_TEST(test_##name##_aborts)                       \
    {                                                      \
        misuse_##name();                                   \
    }                                                      \
    END_TEST                                               \
    START_TEST(test_##name##_prints_diagnostic)            \
    {                                                      \
        expect_diagnostic(misuse_##name, #name);           \
    }                                                      \
    END_TEST

MISUSE_TESTS(free_of_stack_pointer)
MISUSE_TESTS(free_of_foreign_heap_pointer)
MISUSE_TESTS(free_of_mmap_pointer)
MISUSE_TESTS(free_of_interior_pointer)
MISUSE_TESTS(free_of_interior_pointer_mid)
MISUSE_TESTS(free_of_interior_pointer_large)
MISUSE_TESTS(double_free)
MISUSE_TESTS(double_free_after_other_frees)
MISUSE_TESTS(double_free_by_owner_then_other_thread)
MISUSE_TESTS(double_free_by_other_thread_then_owner)
MISUSE_TESTS(double_free_by_two_other_threads)
MISUSE_TESTS(double_free_by_other_thread_mid)
MISUSE_TESTS(double_free_by_other_thread_after_drain)
MISUSE_TESTS(corrupted_free_list_link)
MISUSE_TESTS(realloc_of_foreign_pointer)
MISUSE_TESTS(realloc_of_stack_pointer)
MISUSE_TESTS(malloc_usable_size_of_foreign_pointer)

#define ADD_MISUSE(tc, name)                                                  \
    do {                                                                      \
        tcase_add_test_raise_signal(tc, test_##name##_aborts, SIGABRT);       \
        tcase_add_test(tc, test_##name##_prints_diagnostic);                  \
    } while (0)


static TCase *rules_semantics_tcase(void)
{
    TCase *tc = tcase_create("semantics");
    tcase_set_timeout(tc, timeout_at_least(60));
    tcase_add_test(tc, test_malloc_zero_returns_unique_pointer);
    tcase_add_test(tc, test_malloc_zero_many_are_distinct);
    tcase_add_test(tc, test_free_null_is_noop);
    tcase_add_test(tc, test_malloc_aligns_16_for_sizes_16_and_up);
    tcase_add_test(tc, test_malloc_small_sizes_are_naturally_aligned);
    tcase_add_test(tc, test_malloc_whole_size_writable_across_layers);
    tcase_add_test(tc, test_tiny_free_then_malloc_same_size_returns_same_block);
    tcase_add_test(tc, test_live_blocks_never_overlap);
    tcase_add_test(tc, test_mid_and_large_blocks_are_reused_without_growth);
    tcase_add_test(tc, test_malloc_size_max_returns_null_enomem);
    tcase_add_test(tc, test_malloc_ptrdiff_max_plus_one_returns_null_enomem);
    tcase_add_test(tc, test_calloc_returns_zeroed_memory);
    tcase_add_test(tc, test_calloc_zeroes_recycled_small_blocks);
    tcase_add_test(tc, test_calloc_large_block_is_zero_when_recycled);
    tcase_add_test(tc, test_calloc_zero_returns_unique_pointer);
    tcase_add_test(tc, test_calloc_overflow_returns_null_enomem);
    tcase_add_test(tc, test_calloc_huge_returns_null_enomem);
    tcase_add_test(tc, test_realloc_null_acts_as_malloc);
    tcase_add_test(tc, test_realloc_null_zero_returns_unique_pointer);
    tcase_add_test(tc, test_realloc_zero_frees_and_returns_null);
    tcase_add_test(tc, test_realloc_zero_releases_tiny_block);
    tcase_add_test(tc, test_realloc_preserves_contents_across_layers);
    tcase_add_test(tc, test_realloc_grow_step_by_step_preserves_contents);
    tcase_add_test(tc, test_realloc_failure_keeps_old_block);
    tcase_add_test(tc, test_reallocarray_allocates_and_preserves);
    tcase_add_test(tc, test_reallocarray_overflow_enomem_keeps_block);
    tcase_add_test(tc, test_posix_memalign_power_of_two_alignments_work);
    tcase_add_test(tc, test_posix_memalign_many_live_aligned_blocks);
    tcase_add_test(tc, test_posix_memalign_2mib_alignment_works);
    tcase_add_test(tc, test_posix_memalign_non_power_of_two_returns_einval);
    tcase_add_test(tc, test_posix_memalign_non_multiple_of_pointer_returns_einval);
    tcase_add_test(tc, test_posix_memalign_impossible_size_returns_enomem);
    tcase_add_test(tc, test_posix_memalign_zero_size_returns_freeable_pointer);
    tcase_add_test(tc, test_aligned_alloc_power_of_two_alignments_work);
    tcase_add_test(tc, test_aligned_alloc_non_power_of_two_returns_null_einval);
    tcase_add_test(tc, test_aligned_alloc_zero_alignment_returns_null_einval);
    tcase_add_test(tc, test_aligned_alloc_huge_size_returns_null_enomem);
    tcase_add_test(tc, test_memalign_power_of_two_alignments_work);
    tcase_add_test(tc, test_memalign_rounds_non_power_of_two_alignment_up);
    tcase_add_test(tc, test_memalign_zero_alignment_acts_as_malloc);
    tcase_add_test(tc, test_memalign_huge_size_returns_null_enomem);
    tcase_add_test(tc, test_malloc_usable_size_null_is_zero);
    tcase_add_test(tc, test_malloc_usable_size_at_least_requested);
    tcase_add_test(tc, test_malloc_usable_size_bytes_all_writable);
    tcase_add_test(tc, test_malloc_usable_size_of_aligned_and_large_blocks);
    tcase_add_test(tc, test_trim_gives_freed_memory_back_to_the_kernel);
    tcase_add_test(tc, test_trim_leaves_live_blocks_intact_and_usable);
    return tc;
}

static TCase *rules_misuse_tcase(void)
{
    TCase *tc = tcase_create("misuse");
    tcase_set_timeout(tc, timeout_at_least(30));
    ADD_MISUSE(tc, free_of_stack_pointer);
    ADD_MISUSE(tc, free_of_foreign_heap_pointer);
    ADD_MISUSE(tc, free_of_mmap_pointer);
    ADD_MISUSE(tc, free_of_interior_pointer);
    ADD_MISUSE(tc, free_of_interior_pointer_mid);
    ADD_MISUSE(tc, free_of_interior_pointer_large);
    ADD_MISUSE(tc, double_free);
    ADD_MISUSE(tc, double_free_after_other_frees);
    ADD_MISUSE(tc, double_free_by_owner_then_other_thread);
    ADD_MISUSE(tc, double_free_by_other_thread_then_owner);
    ADD_MISUSE(tc, double_free_by_two_other_threads);
    ADD_MISUSE(tc, double_free_by_other_thread_mid);
    ADD_MISUSE(tc, double_free_by_other_thread_after_drain);
    ADD_MISUSE(tc, corrupted_free_list_link);
    ADD_MISUSE(tc, realloc_of_foreign_pointer);
    ADD_MISUSE(tc, realloc_of_stack_pointer);
    ADD_MISUSE(tc, malloc_usable_size_of_foreign_pointer);
    return tc;
}

/* Runs the suite; Check's fork mode is required for the misuse tests.
 * Core dumps of the aborting children are switched off. */
static int rules_run(Suite *s)
{
    struct rlimit rl = { 0, 0 };
    setrlimit(RLIMIT_CORE, &rl);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* HAKMEM_TESTS_RULES_H */
