/* malloc.c — the interposer: the standard allocation functions, for
 * LD_PRELOAD or for linking in place of libc's malloc.  Built only into
 * libhakmem-malloc.  The caller's return address is passed down as the
 * call site that labels large blocks. */
#include "alloc.h"

#include <errno.h>
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
