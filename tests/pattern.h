/* Block patterns for the stress and fork tests: a block carries, in its
 * first word, its size mangled with a key derived from its own address,
 * and after that a pattern derived from the same key.  A block handed out
 * twice, two blocks that overlap, a stray write or a block that moved
 * without its contents all show up when the block is checked, and any
 * thread can check a block it did not allocate: the block says how big
 * it is.
 *
 * Blocks of more than 64 KiB are written only where a bug is likely to
 * show (the first and last 4 KiB, one word every 64 KiB): touching every
 * page would make the test measure page faults, not the allocator.
 *
 * Sizes must be at least PATTERN_MIN bytes (the header word). */
#ifndef HAKMEM_TESTS_PATTERN_H
#define HAKMEM_TESTS_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PATTERN_MIN 8
#define PATTERN_SPARSE_ABOVE ((size_t)64 * 1024)

static inline uint64_t pat_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* xorshift64*: a per-thread generator, never zero */
static inline uint64_t pat_rng(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t pat_key(const void *p)
{
    return pat_mix64((uintptr_t)p ^ 0x6a09e667f3bcc909ULL);
}

static inline uint64_t pat_word(uint64_t key, size_t w)
{
    return key ^ (w * 0x9E3779B97F4A7C15ULL);
}

/* Calls fn(block, offset, len, arg) on every range the pattern covers,
 * header excluded; stops at the first nonzero return. */
static inline int pat_ranges(size_t n, int (*fn)(unsigned char *, size_t, size_t, uint64_t),
                             unsigned char *c, uint64_t key)
{
    if (n <= PATTERN_SPARSE_ABOVE)
        return fn(c, 8, n - 8, key);
    int r = fn(c, 8, 4096 - 8, key);
    size_t tail = (n - 4096) & ~(size_t)7;
    for (size_t off = 64 * 1024; !r && off + 8 <= tail; off += 64 * 1024)
        r = fn(c, off, 8, key);
    return r ? r : fn(c, tail, n - tail, key);
}

/* A range starts on a word boundary (every offset above is a multiple
 * of 8); a partial last word takes the low bytes of its pattern word. */
static inline int pat_fill_range(unsigned char *c, size_t off, size_t len, uint64_t key)
{
    size_t w = off / 8, end = off + len;
    for (; off + 8 <= end; off += 8, w++) {
        uint64_t v = pat_word(key, w);
        memcpy(c + off, &v, 8);
    }
    if (off < end) {
        uint64_t v = pat_word(key, w);
        memcpy(c + off, &v, end - off);
    }
    return 0;
}

static inline int pat_check_range(unsigned char *c, size_t off, size_t len, uint64_t key)
{
    size_t w = off / 8, end = off + len;
    for (; off + 8 <= end; off += 8, w++) {
        uint64_t v = pat_word(key, w), got;
        memcpy(&got, c + off, 8);
        if (got != v)
            return 1;
    }
    if (off < end) {
        uint64_t v = pat_word(key, w);
        if (memcmp(c + off, &v, end - off) != 0)
            return 1;
    }
    return 0;
}

static inline void pat_fill(void *p, size_t n)
{
    uint64_t key = pat_key(p), h = n ^ key;
    memcpy(p, &h, 8);
    pat_ranges(n, pat_fill_range, p, key);
}

/* The size the header claims, or 0 if the header is not intact (a size
 * beyond `max` cannot be right). */
static inline size_t pat_size(const void *p, size_t max)
{
    uint64_t h;
    memcpy(&h, p, 8);
    h ^= pat_key(p);
    return h >= PATTERN_MIN && h <= max ? (size_t)h : 0;
}

/* 1 if the block at p is intact; its size comes from its header. */
static inline int pat_ok(void *p, size_t max, size_t *size)
{
    size_t n = pat_size(p, max);
    if (size)
        *size = n;
    return n != 0 && pat_ranges(n, pat_check_range, p, pat_key(p)) == 0;
}

static inline size_t pat_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

#endif
