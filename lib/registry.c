/* registry.c — "is this pointer ours, and what is it?" in one load.
 *
 * A flat table with one word per 2 MiB window of the 47-bit address space
 * (2^26 entries, 512 MiB of address space).  The table is reserved
 * read-only: under strict overcommit (vm.overcommit_memory=2) a private
 * writable mapping is charged in full even with MAP_NORESERVE, and 512 MiB
 * of commit charge per process is enough to stop programs starting in a
 * small container.  A read-only private mapping is not charged, and reading
 * it gives zeros (the kernel's shared zero page), which is exactly "not
 * ours": so lookups stay one load, with no check of whether the piece they
 * read was ever made writable.  Writers make the 64 KiB piece of the table
 * they need writable first (commit_pieces); that is what is charged, and
 * where it fails (commit limit, vm.max_map_count) registering fails and the
 * allocation returns NULL with ENOMEM.  An entry points to a
 * chunk table (SuperSlab header, or a table of standalone slabs) or to a
 * large block's header, tagged in its low bits.  Entries are written under
 * the lock of the layer that owns the window and read without one: a
 * pointer reaches `free` only after the allocation that registered it. */
#include "internal.h"

#include <errno.h>

uintptr_t *hak_registry;
_Atomic uintptr_t hak_addr_limit;

static pthread_mutex_t chunk_lock = PTHREAD_MUTEX_INITIALIZER;

/* A piece of 64 KiB of table covers 16 GiB of address space: a process
 * typically needs two or three (its heap, its mmap area), and making one
 * writable is a single mprotect on a slow path. */
#define PIECE_SHIFT   16
#define PIECE_ENTRIES (((size_t)1 << PIECE_SHIFT) / sizeof(uintptr_t))
#define NPIECES       (HAK_REG_ENTRIES / PIECE_ENTRIES)
static _Atomic uint64_t committed[NPIECES / 64];   /* bit set: piece is writable */

static bool piece_committed(uintptr_t piece)
{
    return atomic_load_explicit(&committed[piece / 64], memory_order_acquire) >> (piece & 63) & 1;
}

/* Makes the pieces holding windows first..last writable.  No lock: mprotect
 * to the same protection is idempotent, so two threads racing for a piece
 * both succeed; the bit is set only after the mprotect has returned, so a
 * thread that sees it can write. */
static bool commit_pieces(uintptr_t first, uintptr_t last)
{
    for (uintptr_t p = first / PIECE_ENTRIES; p <= last / PIECE_ENTRIES; p++) {
        if (piece_committed(p))
            continue;
        if (!hak_os_commit((char *)hak_registry + (p << PIECE_SHIFT), (size_t)1 << PIECE_SHIFT))
            return false;
        atomic_fetch_or_explicit(&committed[p / 64], (uint64_t)1 << (p & 63), memory_order_release);
    }
    return true;
}

bool hak_registry_init(void)
{
    uintptr_t *r = hak_os_reserve(HAK_REG_ENTRIES * sizeof(uintptr_t));
    if (r == NULL)
        return false;
    hak_registry = r;
    atomic_store_explicit(&hak_addr_limit, (uintptr_t)1 << HAK_ADDR_BITS, memory_order_release);
    return true;
}

bool hak_registry_prepare(uintptr_t base, size_t size)
{
    if (commit_pieces(base >> HAK_SS_SHIFT, (base + size - 1) >> HAK_SS_SHIFT))
        return true;
    errno = ENOMEM;
    return false;
}

/* Nothing is written unless every piece could be made writable, so a
 * failure leaves no half-registered range behind.  Clearing never fails: a
 * window in a piece never made writable already reads 0. */
bool hak_registry_set(uintptr_t base, size_t size, uintptr_t entry)
{
    uintptr_t first = base >> HAK_SS_SHIFT;
    uintptr_t last = (base + size - 1) >> HAK_SS_SHIFT;
    if (entry != 0 && !hak_registry_prepare(base, size))
        return false;
    for (uintptr_t w = first; w <= last; w++)
        if (entry != 0 || piece_committed(w / PIECE_ENTRIES))
            atomic_store_explicit((_Atomic uintptr_t *)&hak_registry[w], entry, memory_order_release);
    return true;
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
        c = commit_pieces(w, w) ? hak_meta_alloc(sizeof *c) : NULL;
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
