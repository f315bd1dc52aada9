/* libFuzzer harness for the hak_* API.
 *
 * The input is a program: a sequence of operations, each one byte of
 * opcode and a few bytes of operands, over a table of up to 32 live
 * blocks:
 *
 *   op % 8   operation                       operands
 *   0        hak_malloc                      slot, size (2 bytes)
 *   1        hak_calloc                      slot, count, size (2 bytes)
 *   2        hak_realloc                     slot, size (2 bytes)
 *   3        aligned_alloc / posix_memalign / memalign
 *                                            slot, alignment, size (2 bytes)
 *   4        hak_free                        slot
 *   5        hak_malloc_usable_size, then write the whole usable size
 *                                            slot; when op >= 248, hak_trim
 *                                            first, then every live block
 *                                            is checked
 *   6        hak_reallocarray                slot, count, size (2 bytes)
 *   7        hak_alloc_at / hak_free_at      slot, site, size (2 bytes)
 *
 * A size's first byte picks its range (tiny, mid, large, a boundary, or
 * an impossible size) and the rest picks the size within it.  Allocating
 * into an occupied slot frees its block first.
 *
 * Checked on every operation:
 *   - a block's contents are what was written, up to its usable size, until
 *     it is freed; realloc keeps the smaller of the two sizes;
 *   - every block is aligned to 16 bytes, or to the alignment asked for;
 *   - the usable size is at least the size asked for;
 *   - no two live blocks overlap (usable sizes included);
 *   - calloc zeroes; impossible sizes and bad alignments fail with NULL and
 *     the right errno, and leave an old block alone.
 * A violation prints what happened and aborts, which libFuzzer reports as
 * a crash with the input that caused it.  Every input frees what it
 * allocated.
 */
#include "hakmem.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOTS = 32 };
#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define SPARSE_ABOVE (64 * KiB)

struct block {
    unsigned char *p;
    size_t size;    /* asked for */
    size_t usable;  /* as reported, all of it written */
    uint8_t seed;
};

static struct block table[SLOTS];
static uint8_t next_seed;

#define FAIL(...)                                  \
    do {                                           \
        fprintf(stderr, "fuzz_api: " __VA_ARGS__); \
        fputc('\n', stderr);                       \
        abort();                                   \
    } while (0)

/* ------------------------------------------------------------------ */
/* block contents: a byte pattern from a per-block seed and the offset; in
 * blocks of more than 64 KiB only the first and last 4 KiB and 16 bytes of
 * every 64 KiB (page faults, not the allocator, would take the time). */

static inline uint8_t byte_at(uint8_t seed, size_t i)
{
    return (uint8_t)(seed + i * 131 + (i >> 8) * 7);
}

/* calls fn on each covered range of a block of n bytes, below `limit` */
static int each_range(size_t n, size_t limit, int (*fn)(unsigned char *, size_t, size_t, uint8_t),
                      unsigned char *p, uint8_t seed)
{
    size_t end = n < limit ? n : limit;
#define RANGE(off, len)                                                                   \
    do {                                                                                  \
        size_t o_ = (off), e_ = o_ + (len);                                               \
        if (e_ > end)                                                                     \
            e_ = end;                                                                     \
        if (o_ < e_ && fn(p, o_, e_ - o_, seed))                                          \
            return 1;                                                                     \
    } while (0)
    if (n <= SPARSE_ABOVE) {
        RANGE(0, n);
        return 0;
    }
    RANGE(0, 4096);
    for (size_t off = 64 * KiB; off + 16 <= n - 4096; off += 64 * KiB)
        RANGE(off, 16);
    RANGE(n - 4096, 4096);
    return 0;
#undef RANGE
}

static int fill_range(unsigned char *p, size_t off, size_t len, uint8_t seed)
{
    for (size_t i = off; i < off + len; i++)
        p[i] = byte_at(seed, i);
    return 0;
}

static size_t bad_offset;

static int check_range(unsigned char *p, size_t off, size_t len, uint8_t seed)
{
    for (size_t i = off; i < off + len; i++)
        if (p[i] != byte_at(seed, i)) {
            bad_offset = i;
            return 1;
        }
    return 0;
}

static int zero_range(unsigned char *p, size_t off, size_t len, uint8_t seed)
{
    (void)seed;
    for (size_t i = off; i < off + len; i++)
        if (p[i]) {
            bad_offset = i;
            return 1;
        }
    return 0;
}

static void check_block(int slot, const char *when)
{
    struct block *b = &table[slot];
    if (each_range(b->usable, b->usable, check_range, b->p, b->seed))
        FAIL("%s: block %p (slot %d, size %zu, usable %zu) changed at offset %zu", when, (void *)b->p, slot,
             b->size, b->usable, bad_offset);
}

/* ------------------------------------------------------------------ */
/* the checks every new block gets */

static void adopt(int slot, void *p, size_t size, size_t align, const char *what)
{
    struct block *b = &table[slot];
    if ((uintptr_t)p % 16)
        FAIL("%s(%zu) returned %p, not aligned to 16", what, size, p);
    if (align && (uintptr_t)p % align)
        FAIL("%s(alignment %zu, %zu) returned %p", what, align, size, p);
    size_t usable = hak_malloc_usable_size(p);
    if (usable < size)
        FAIL("%s(%zu) returned %p with usable size %zu", what, size, p, usable);
    uintptr_t lo = (uintptr_t)p, hi = lo + usable;
    for (int i = 0; i < SLOTS; i++) {
        if (i == slot || !table[i].p)
            continue;
        uintptr_t l2 = (uintptr_t)table[i].p, h2 = l2 + table[i].usable;
        if (lo < h2 && l2 < hi)
            FAIL("%s(%zu) returned %p..%p, which overlaps live block %p..%p (slot %d)", what, size, (void *)lo,
                 (void *)hi, (void *)l2, (void *)h2, i);
    }
    b->p = p;
    b->size = size;
    b->usable = usable;
    b->seed = next_seed++;
    each_range(usable, usable, fill_range, b->p, b->seed);
}

static void release(int slot)
{
    if (!table[slot].p)
        return;
    check_block(slot, "before free");
    hak_free(table[slot].p);
    table[slot].p = NULL;
}

static void expect_failure(void *p, int err, const char *what, size_t a, size_t b)
{
    if (p)
        FAIL("%s(%zu, %zu) succeeded (%p), expected a failure", what, a, b, p);
    if (errno != err)
        FAIL("%s(%zu, %zu) failed with errno %d, expected %d", what, a, b, errno, err);
}

/* ------------------------------------------------------------------ */
/* decoding */

struct input {
    const uint8_t *d;
    size_t n, i;
};

static uint8_t byte(struct input *in)
{
    return in->i < in->n ? in->d[in->i++] : 0;
}

static const size_t boundaries[] = {
    0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 127, 128, 129, 1023, 1024, 1025, 4095, 4096, 4097,
    65535, 65536, 65537, 131072, 262143, 262144, 262145, 2 * MiB - 1, 2 * MiB, 2 * MiB + 1,
};

/* A size, and whether it is impossible (must fail). */
static size_t decode_size(struct input *in, int *impossible)
{
    uint8_t a = byte(in), b = byte(in);
    size_t v = (size_t)(a & 31) << 8 | b; /* 0 .. 8191 */
    *impossible = 0;
    switch (a >> 5) {
    case 0:
    case 1:
    case 2:
        return v % 1025;                       /* tiny, 0 .. 1 KiB */
    case 3:
    case 4:
        return 1025 + v * 32 + (b & 31);       /* mid, up to ~256 KiB */
    case 5:
        return 256 * KiB + v * 512 + b;        /* large, up to ~4 MiB */
    case 6:
        return boundaries[v % (sizeof boundaries / sizeof boundaries[0])];
    default:
        *impossible = 1;                       /* more than PTRDIFF_MAX */
        return v & 1 ? SIZE_MAX - (v >> 1) : (size_t)PTRDIFF_MAX + 1 + (v >> 1);
    }
}

static void op_malloc(struct input *in, int slot)
{
    int bad;
    size_t size = decode_size(in, &bad);
    release(slot);
    errno = 0;
    void *p = hak_malloc(size);
    if (bad)
        return expect_failure(p, ENOMEM, "hak_malloc", size, 0);
    if (!p)
        FAIL("hak_malloc(%zu) failed, errno %d", size, errno);
    adopt(slot, p, size, 0, "hak_malloc");
}

static void op_calloc(struct input *in, int slot)
{
    size_t count = byte(in);
    int bad;
    size_t size = decode_size(in, &bad);
    if (count > 64 && !bad)
        count %= 16; /* keep products within the large layer */
    size_t total;
    int overflow = __builtin_mul_overflow(count, size, &total) || total > PTRDIFF_MAX;
    release(slot);
    errno = 0;
    void *p = hak_calloc(count, size);
    if (overflow)
        return expect_failure(p, ENOMEM, "hak_calloc", count, size);
    if (!p)
        FAIL("hak_calloc(%zu, %zu) failed, errno %d", count, size, errno);
    if (each_range(total, total, zero_range, p, 0))
        FAIL("hak_calloc(%zu, %zu) = %p is not zero at offset %zu", count, size, p, bad_offset);
    adopt(slot, p, total, 0, "hak_calloc");
}

/* realloc keeps the smaller of the two sizes; the new usable tail is ours */
static void after_realloc(int slot, void *q, struct block old, size_t size, const char *what)
{
    size_t keep = old.size < size ? old.size : size;
    if (each_range(old.usable, keep, check_range, q, old.seed))
        FAIL("%s(%p, %zu) = %p lost the old contents (%zu bytes kept) at offset %zu", what, (void *)old.p, size,
             q, keep, bad_offset);
    table[slot].p = NULL; /* the old block is gone */
    adopt(slot, q, size, 0, what);
}

static void op_realloc(struct input *in, int slot)
{
    int bad;
    size_t size = decode_size(in, &bad);
    struct block old = table[slot];
    if (old.p)
        check_block(slot, "before realloc");
    errno = 0;
    void *q = hak_realloc(old.p, size);
    if (bad) {
        expect_failure(q, ENOMEM, "hak_realloc", (size_t)(uintptr_t)old.p, size);
        if (old.p)
            check_block(slot, "after a failed realloc");
        return;
    }
    if (old.p && size == 0) {
        if (q)
            FAIL("hak_realloc(%p, 0) returned %p, expected NULL (the block freed)", (void *)old.p, q);
        table[slot].p = NULL;
        return;
    }
    if (!q)
        FAIL("hak_realloc(%p, %zu) failed, errno %d", (void *)old.p, size, errno);
    if (!old.p) {
        adopt(slot, q, size, 0, "hak_realloc(NULL)");
        return;
    }
    after_realloc(slot, q, old, size, "hak_realloc");
}

static void op_reallocarray(struct input *in, int slot)
{
    size_t count = byte(in);
    int bad;
    size_t size = decode_size(in, &bad);
    if (count > 64 && !bad)
        count %= 16;
    size_t total;
    int overflow = __builtin_mul_overflow(count, size, &total) || total > PTRDIFF_MAX;
    struct block old = table[slot];
    if (!old.p || total == 0)
        return op_malloc(in, slot); /* realloc(p, 0) is op 2's business */
    check_block(slot, "before reallocarray");
    errno = 0;
    void *q = hak_reallocarray(old.p, count, size);
    if (overflow) {
        expect_failure(q, ENOMEM, "hak_reallocarray", count, size);
        check_block(slot, "after a failed reallocarray");
        return;
    }
    if (!q)
        FAIL("hak_reallocarray(%p, %zu, %zu) failed, errno %d", (void *)old.p, count, size, errno);
    after_realloc(slot, q, old, total, "hak_reallocarray");
}

static void op_aligned(struct input *in, int slot)
{
    uint8_t a = byte(in);
    size_t align = (size_t)1 << (a % 23); /* 1 .. 4 MiB */
    int invalid = 0;
    if (a & 0x80 && align > 2) {
        align += 1 + a % 7;               /* not a power of two */
        invalid = 1;
    }
    int bad;
    size_t size = decode_size(in, &bad);
    release(slot);
    void *p = NULL;
    const char *what;
    errno = 0;
    switch ((a >> 5) & 3) {
    case 0:
        what = "hak_aligned_alloc";
        p = hak_aligned_alloc(align, size);
        if (invalid)
            return expect_failure(p, EINVAL, what, align, size);
        break;
    case 1: {
        what = "hak_posix_memalign";
        void *sentinel = (void *)&table; /* must stay untouched on failure */
        p = sentinel;
        int rc = hak_posix_memalign(&p, align, size);
        int want = invalid || align < sizeof(void *) ? EINVAL : bad ? ENOMEM : 0;
        if (rc != want)
            FAIL("hak_posix_memalign(%zu, %zu) returned %d, expected %d", align, size, rc, want);
        if (rc) {
            if (p != sentinel)
                FAIL("hak_posix_memalign(%zu, %zu) failed but changed *memptr", align, size);
            return;
        }
        break;
    }
    default:
        what = "hak_memalign";
        p = hak_memalign(align, size);
        if (invalid) /* glibc's memalign rounds a bad alignment up */
            align = 0;
        break;
    }
    if (bad)
        return expect_failure(p, ENOMEM, what, align, size);
    if (!p)
        FAIL("%s(%zu, %zu) failed, errno %d", what, align, size, errno);
    adopt(slot, p, size, align, what);
}

static void op_usable(uint8_t op, int slot)
{
    if (op >= 248) {            /* trimming must not touch live blocks */
        hak_trim(0);
        for (int i = 0; i < SLOTS; i++)
            if (table[i].p)
                check_block(i, "after hak_trim");
    }
    struct block *b = &table[slot];
    if (!b->p)
        return;
    check_block(slot, "usable size");
    size_t u = hak_malloc_usable_size(b->p);
    if (u != b->usable)
        FAIL("usable size of %p changed from %zu to %zu", (void *)b->p, b->usable, u);
    /* the whole usable size is ours: rewrite it with a new pattern */
    b->seed = next_seed++;
    each_range(b->usable, b->usable, fill_range, b->p, b->seed);
}

static void op_site(struct input *in, int slot)
{
    static char sites[4];
    const void *site = &sites[byte(in) % 4];
    int bad;
    size_t size = decode_size(in, &bad);
    if (table[slot].p) {
        check_block(slot, "before hak_free_at");
        hak_free_at(table[slot].p, site);
        table[slot].p = NULL;
    }
    errno = 0;
    void *p = hak_alloc_at(size, site);
    if (bad)
        return expect_failure(p, ENOMEM, "hak_alloc_at", size, 0);
    if (!p)
        FAIL("hak_alloc_at(%zu) failed, errno %d", size, errno);
    adopt(slot, p, size, 0, "hak_alloc_at");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = { data, size, 0 };
    while (in.i < in.n) {
        uint8_t op = byte(&in);
        int slot = byte(&in) % SLOTS;
        switch (op % 8) {
        case 0: op_malloc(&in, slot); break;
        case 1: op_calloc(&in, slot); break;
        case 2: op_realloc(&in, slot); break;
        case 3: op_aligned(&in, slot); break;
        case 4: release(slot); break;
        case 5: op_usable(op, slot); break;
        case 6: op_reallocarray(&in, slot); break;
        default: op_site(&in, slot); break;
        }
    }
    for (int i = 0; i < SLOTS; i++)
        release(i);
    return 0;
}
