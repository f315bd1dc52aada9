/* malloc.c — the interposer: the standard allocation functions, for
 * LD_PRELOAD or for linking in place of libc's malloc, and glibc's
 * introspection calls (malloc_stats, mallinfo2, mallopt, malloc_info)
 * for programs that use them.  Built only into libhakmem-malloc.  The
 * caller's return address is the call site that labels large blocks. */
#include "alloc.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SITE __builtin_return_address(0)

/* At load, as the program starts: the options, the secret, the registry
 * and the clock are set up before main() rather than inside the
 * program's first malloc, whose latency (and page faults) would otherwise
 * carry them.  Whatever allocates before this runs (the dynamic loader,
 * other constructors) initialises on its first call as before.  Only the
 * interposer: a program linked with libhakmem may still set HAKMEM_*
 * variables itself before its first hak_ call. */
static void init_at_load(void) __attribute__((constructor));
static void init_at_load(void)
{
    if (hak_init_slow())
        (void)hak_now_ms();     /* the vDSO's data pages fault in here */
}

HAK_EXPORT void *malloc(size_t size)
{
    void *p = hak_malloc_fast(size);
    if (likely(p != NULL))
        return p;
    return hak_alloc_slow_caller(size);     /* a tail call: the site is our caller */
}
HAK_EXPORT void free(void *p) { hak_free_inline(p); }
HAK_EXPORT void cfree(void *p) { hak_free_inline(p); }
HAK_EXPORT void *calloc(size_t n, size_t size) { return hak_calloc_impl(n, size, SITE); }
HAK_EXPORT void *realloc(void *p, size_t size) { return hak_realloc_impl(p, size, SITE); }
HAK_EXPORT void *reallocarray(void *p, size_t n, size_t size) { return hak_reallocarray_impl(p, n, size, SITE); }
HAK_EXPORT int posix_memalign(void **out, size_t align, size_t size) { return hak_posix_memalign_impl(out, align, size, SITE); }
HAK_EXPORT void *aligned_alloc(size_t align, size_t size) { return hak_aligned_alloc_impl(align, size, SITE); }
HAK_EXPORT void *memalign(size_t align, size_t size) { return hak_memalign_round_impl(align, size, SITE); }
HAK_EXPORT size_t malloc_usable_size(void *p) { return hak_usable_impl(p, "malloc_usable_size(): invalid pointer"); }

HAK_EXPORT int malloc_trim(size_t pad) { return hak_trim_impl(pad); }

static size_t page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

HAK_EXPORT void *valloc(size_t size) { return hak_memalign_impl(page_size(), size, SITE); }

HAK_EXPORT void *pvalloc(size_t size)
{
    size_t ps = page_size();
    if (size > SIZE_MAX - ps) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_memalign_impl(ps, size ? (size + ps - 1) & ~(ps - 1) : ps, SITE);
}

/* C23 sized deallocation: the size is a hint we do not need. */
HAK_EXPORT void free_sized(void *p, size_t size) { (void)size; hak_free_inline(p); }
HAK_EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
    (void)align;
    (void)size;
    hak_free_inline(p);
}

/* ---- glibc's introspection calls (documented in hakmem.3) ---- */

HAK_EXPORT void malloc_stats(void) { hak_stats_report(2); }

/* Slab memory is glibc's "arena", large blocks its mmapped chunks.
 * Blocks in thread caches count as in use, as glibc counts its tcache;
 * hakmem keeps no free-chunk lists in glibc's sense, so the block counts
 * of free chunks (ordblks, smblks) and fastbin bytes are 0. */
HAK_EXPORT struct mallinfo2 mallinfo2(void)
{
    hak_mallinfo_t m;
    hak_stats_mallinfo(&m);
    struct mallinfo2 r;
    memset(&r, 0, sizeof r);
    r.arena = m.arena;
    r.uordblks = m.uordblks;
    r.fordblks = m.arena > m.uordblks ? m.arena - m.uordblks : 0;
    r.hblks = m.hblks;
    r.hblkhd = m.hblkhd;
    r.usmblks = m.usmblks;
    r.keepcost = m.keepcost;
    return r;
}

static int sat_int(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

/* The same in ints, saturating (glibc's wrap instead). */
HAK_EXPORT struct mallinfo mallinfo(void)
{
    struct mallinfo2 m = mallinfo2();
    struct mallinfo r;
    memset(&r, 0, sizeof r);
    r.arena = sat_int(m.arena);
    r.uordblks = sat_int(m.uordblks);
    r.fordblks = sat_int(m.fordblks);
    r.hblks = sat_int(m.hblks);
    r.hblkhd = sat_int(m.hblkhd);
    r.usmblks = sat_int(m.usmblks);
    r.keepcost = sat_int(m.keepcost);
    return r;
}

/* glibc's tuning parameters have no meaning here (hakmem's tuning is the
 * HAKMEM_* variables): accepted and ignored, so that programs that set
 * them keep working.  Anything else is refused, as glibc does. */
HAK_EXPORT int mallopt(int param, int value)
{
    (void)value;
    switch (param) {
    case M_MXFAST:
    case M_TRIM_THRESHOLD:
    case M_TOP_PAD:
    case M_MMAP_THRESHOLD:
    case M_MMAP_MAX:
    case M_ARENA_MAX:
    case M_ARENA_TEST:
    case M_PERTURB:
    case M_CHECK_ACTION:
        return 1;
    default:
        return 0;
    }
}

/* An XML report shaped like glibc's: one "heap" (hakmem's heaps share
 * their spans' memory), the slab classes in use as <size> elements, large
 * blocks as the mmap total.  fprintf may allocate: this is the caller's
 * stdio, not the allocation path. */
HAK_EXPORT int malloc_info(int options, FILE *fp)
{
    if (options != 0 || fp == NULL) {
        errno = EINVAL;
        return -1;
    }
    hak_class_totals_t t[HAK_NCLASS];
    hak_stats_summary_t s;
    hak_mallinfo_t m;
    hak_stats_summary(&s, t);
    hak_stats_mallinfo(&m);
    uint64_t mapped = atomic_load_explicit(&hak_stats.mapped, memory_order_relaxed);
    uint64_t slab_blocks = s.in_use[0] + s.in_use[1];
    uint64_t slab_bytes = s.in_use_bytes[0] + s.in_use_bytes[1];
    fprintf(fp, "<malloc version=\"hakmem-1\">\n<heap nr=\"0\">\n<sizes>\n");
    uint32_t from = 1;
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        uint32_t b = hak_classes[c].bsize;
        uint64_t u = t[c].allocs > t[c].frees ? t[c].allocs - t[c].frees : 0;
        if (u > 0)
            fprintf(fp, "<size from=\"%u\" to=\"%u\" total=\"%llu\" count=\"%llu\"/>\n",
                    from, b, (unsigned long long)(u * b), (unsigned long long)u);
        from = b + 1;
    }
    fprintf(fp, "</sizes>\n"
                "<total type=\"slab\" count=\"%llu\" size=\"%llu\"/>\n"
                "<total type=\"mmap\" count=\"%llu\" size=\"%llu\"/>\n"
                "<system type=\"current\" size=\"%llu\"/>\n"
                "<system type=\"max\" size=\"%llu\"/>\n"
                "</heap>\n"
                "<total type=\"slab\" count=\"%llu\" size=\"%llu\"/>\n"
                "<total type=\"mmap\" count=\"%llu\" size=\"%llu\"/>\n"
                "<total type=\"remote_frees\" count=\"%llu\"/>\n"
                "<system type=\"current\" size=\"%llu\"/>\n"
                "<system type=\"max\" size=\"%llu\"/>\n"
                "<aspace type=\"total\" size=\"%llu\"/>\n"
                "</malloc>\n",
            (unsigned long long)slab_blocks, (unsigned long long)slab_bytes,
            (unsigned long long)m.hblks, (unsigned long long)m.hblkhd,
            (unsigned long long)m.arena, (unsigned long long)m.usmblks,
            (unsigned long long)slab_blocks, (unsigned long long)slab_bytes,
            (unsigned long long)m.hblks, (unsigned long long)m.hblkhd,
            (unsigned long long)s.remote_frees,
            (unsigned long long)mapped, (unsigned long long)m.usmblks,
            (unsigned long long)mapped);
    return ferror(fp) ? -1 : 0;
}
