/* registry.c — "is this pointer ours, and what is it?" in one load.
 *
 * A flat table with one word per 2 MiB window of the 47-bit address space
 * (2^26 entries, 512 MiB of address space mapped MAP_NORESERVE: only the
 * pages covering windows we use are ever touched).  An entry points to a
 * chunk table (SuperSlab header, or a table of standalone slabs) or to a
 * large block's header, tagged in its low bits.  Entries are written under
 * the lock of the layer that owns the window and read without one: a
 * pointer reaches `free` only after the allocation that registered it. */
#include "internal.h"

uintptr_t *hak_registry;
_Atomic uintptr_t hak_addr_limit;

static pthread_mutex_t chunk_lock = PTHREAD_MUTEX_INITIALIZER;

bool hak_registry_init(void)
{
    uintptr_t *r = hak_os_reserve(HAK_REG_ENTRIES * sizeof(uintptr_t));
    if (r == NULL)
        return false;
    hak_registry = r;
    atomic_store_explicit(&hak_addr_limit, (uintptr_t)1 << HAK_ADDR_BITS, memory_order_release);
    return true;
}

void hak_registry_set(uintptr_t base, size_t size, uintptr_t entry)
{
    uintptr_t first = base >> HAK_SS_SHIFT;
    uintptr_t last = (base + size - 1) >> HAK_SS_SHIFT;
    for (uintptr_t w = first; w <= last; w++)
        atomic_store_explicit((_Atomic uintptr_t *)&hak_registry[w], entry, memory_order_release);
}

/* Standalone slabs share a window with each other and with foreign
 * mappings, so their window gets a table of its own, made on first use and
 * kept: it is 256 bytes, and the window is likely to be used again. */
hak_chunk_t *hak_registry_chunk_for(uintptr_t addr)
{
    uintptr_t w = addr >> HAK_SS_SHIFT;
    pthread_mutex_lock(&chunk_lock);
    uintptr_t e = atomic_load_explicit((_Atomic uintptr_t *)&hak_registry[w], memory_order_relaxed);
    hak_chunk_t *c = NULL;
    if ((e & HAK_TAG_MASK) == HAK_TAG_CHUNK) {
        c = (hak_chunk_t *)(e - HAK_TAG_CHUNK);
    } else {
        /* A window holding standalone slabs cannot also hold a SuperSlab or
         * a large block: those own their windows whole. */
        hak_assert(e == 0);
        c = hak_meta_alloc(sizeof *c);
        if (c != NULL) {
            for (unsigned i = 0; i < HAK_SS_SLABS; i++)
                c->span_of[i] = &hak_span_none;
            atomic_store_explicit((_Atomic uintptr_t *)&hak_registry[w],
                                  (uintptr_t)c | HAK_TAG_CHUNK, memory_order_release);
        }
    }
    pthread_mutex_unlock(&chunk_lock);
    return c;
}

void hak_registry_lock(void)   { pthread_mutex_lock(&chunk_lock); }
void hak_registry_unlock(void) { pthread_mutex_unlock(&chunk_lock); }
void hak_registry_reset(void)  { pthread_mutex_init(&chunk_lock, NULL); }
