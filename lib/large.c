/* large.c — blocks above the slab classes: each is its own mapping, 2 MiB
 * aligned and a whole number of 2 MiB windows long, so that the registry
 * finds its header with the same single load as slab memory.  The pages
 * beyond the block are never touched, so the rounding costs address
 * space, not memory.  (BigCache, madvise batching and the strategy
 * tournament sit in front of this in later layers.) */
#include "internal.h"

#include <errno.h>

#define LARGE_MAGIC 0x68616b4c41524745ull   /* "hakLARGE" */
#define LARGE_HDR   64

void *hak_large_alloc(size_t size, size_t align, const void *site)
{
    size_t off = align > LARGE_HDR ? align : LARGE_HDR;
    size_t map_align = align > HAK_SS_SIZE ? align : HAK_SS_SIZE;
    if (size > (size_t)PTRDIFF_MAX - off - 2 * HAK_SS_SIZE || map_align > ((size_t)1 << 40)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t map = (off + size + HAK_SS_SIZE - 1) & ~(HAK_SS_SIZE - 1);
    char *base = hak_os_map_aligned(map, map_align);
    if (base == NULL)
        return NULL;
    hak_large_t *l = (hak_large_t *)base;
    l->magic = LARGE_MAGIC ^ hak_secret;
    l->user = (uintptr_t)base + off;
    l->map_size = map;
    l->size = size;
    l->site = site;
    hak_registry_set((uintptr_t)base, map, (uintptr_t)l | HAK_TAG_LARGE);
    atomic_fetch_add_explicit(&hak_stats.large_allocs, 1, memory_order_relaxed);
    return (void *)l->user;
}

/* The header of the large block `p`, or NULL if `p` is not one. */
hak_large_t *hak_large_of(uintptr_t entry, void *p)
{
    if ((entry & HAK_TAG_MASK) != HAK_TAG_LARGE)
        return NULL;
    hak_large_t *l = (hak_large_t *)(entry & ~(uintptr_t)HAK_TAG_MASK);
    if (l->magic != (LARGE_MAGIC ^ hak_secret) || l->user != (uintptr_t)p)
        return NULL;
    return l;
}

/* What the user may use: the request rounded up to whole pages, as glibc
 * reports for its mapped chunks.  The rest of the mapping is reserve for
 * growing in place. */
size_t hak_large_usable(hak_large_t *l)
{
    uintptr_t end = (l->user + l->size + 4095) & ~(uintptr_t)4095;
    return end - l->user;
}

/* Resizes in place when a fresh block of the new size would get a mapping
 * of the same length; false when the caller should move it.  Pages given
 * up by shrinking go back to the kernel. */
bool hak_large_resize(hak_large_t *l, size_t size)
{
    size_t off = l->user - (uintptr_t)l;
    if (size > l->map_size - off ||
        ((off + size + HAK_SS_SIZE - 1) & ~(HAK_SS_SIZE - 1)) != l->map_size)
        return false;
    uintptr_t old_end = (l->user + l->size + 4095) & ~(uintptr_t)4095;
    uintptr_t new_end = (l->user + size + 4095) & ~(uintptr_t)4095;
    if (new_end < old_end)
        hak_os_decommit((void *)new_end, old_end - new_end);
    l->size = size;
    return true;
}

void hak_large_free(hak_large_t *l, void *p)
{
    (void)p;
    size_t map = l->map_size;
    l->magic = 0;
    hak_registry_set((uintptr_t)l, map, 0);
    atomic_fetch_add_explicit(&hak_stats.large_frees, 1, memory_order_relaxed);
    hak_os_unmap(l, map);
}
