/* sizeclass.c — the size classes of slab-backed blocks and their geometry.
 *
 * 16-byte steps up to 128 B, then four classes per power of two (at most
 * 25 % above the previous class, 12.5 % average waste) up to 256 KiB:
 * 8 + 4 * 11 = 52 classes, 20 of them tiny (<= 1 KiB).  Every class size
 * is a multiple of 16, so every block is 16-byte aligned. */
#include "alloc.h"

/* Where a tiny size's list is in a heap: the byte offset of sll[class],
 * indexed by the size itself (2 KiB, and malloc's fast path needs no
 * rounding).  An offset rather than the class index, so that the fast
 * path adds it to the heap as it is (no shift).  A constant, so that path
 * reads it without any ordering against initialisation;
 * hak_sizeclass_init() checks it against class_size(). */
#define O(c) (offsetof(hak_heap_t, sll) + (c) * sizeof(hak_sll_t))
#define S16(c) O(c), O(c), O(c), O(c), O(c), O(c), O(c), O(c), O(c), O(c), O(c), O(c), O(c), O(c), O(c), O(c)
const uint16_t hak_tiny_sll_off[HAK_TINY_MAX + 1] = {
    O(0),                       /* malloc(0) */
    S16(0), S16(1), S16(2), S16(3),
    S16(4), S16(5), S16(6), S16(7),
    S16(8), S16(8), S16(9), S16(9),
    S16(10), S16(10), S16(11), S16(11),
    S16(12), S16(12), S16(12), S16(12),
    S16(13), S16(13), S16(13), S16(13),
    S16(14), S16(14), S16(14), S16(14),
    S16(15), S16(15), S16(15), S16(15),
    S16(16), S16(16), S16(16), S16(16),
    S16(16), S16(16), S16(16), S16(16),
    S16(17), S16(17), S16(17), S16(17),
    S16(17), S16(17), S16(17), S16(17),
    S16(18), S16(18), S16(18), S16(18),
    S16(18), S16(18), S16(18), S16(18),
    S16(19), S16(19), S16(19), S16(19),
    S16(19), S16(19), S16(19), S16(19),
};
#undef S16
#undef O
_Static_assert(offsetof(hak_heap_t, sll) + HAK_NTINY * sizeof(hak_sll_t) <= UINT16_MAX,
               "tiny list offsets fit hak_tiny_sll_off");
hak_class_t hak_classes[HAK_NCLASS];

static uint32_t class_size(unsigned c)
{
    if (c < 8)
        return 16 * (c + 1);
    unsigned k = c - 8;               /* 0..43 */
    uint32_t base = 128u << (k / 4);
    return base + (base / 4) * (k % 4 + 1);
}

unsigned hak_size_class(size_t size)
{
    if (size <= HAK_TINY_MAX)
        return (unsigned)((hak_tiny_sll_off[size] - offsetof(hak_heap_t, sll)) /
                          sizeof(hak_sll_t));
    return hak_mid_class(size);
}

/* Smallest class that fits `size` and whose blocks are all `align`-aligned:
 * spans start on 64 KiB boundaries, so a class whose size is a multiple of
 * align (align <= 64 KiB) has only aligned blocks. */
int hak_aligned_class(size_t size, size_t align)
{
    if (align > HAK_SLAB_SIZE || size > hak_opt.mid_max)
        return -1;
    for (unsigned c = hak_size_class(size ? size : 1); c < HAK_NCLASS; c++) {
        if (hak_classes[c].bsize > hak_opt.mid_max)
            return -1;
        if (hak_classes[c].bsize % align == 0)
            return (int)c;
    }
    return -1;
}

/* Span length: one slab up to 8 KiB blocks; beyond, enough slabs for at
 * least eight blocks, choosing the length in range that wastes least. */
static uint32_t span_slabs(uint32_t bsize)
{
    if (bsize <= 8192)
        return 1;
    uint32_t lo = (uint32_t)((8ull * bsize + HAK_SLAB_SIZE - 1) / HAK_SLAB_SIZE);
    if (lo > HAK_SPAN_MAX_SLABS)
        lo = HAK_SPAN_MAX_SLABS;
    uint32_t best = lo;
    uint64_t best_waste = UINT64_MAX;
    for (uint32_t n = lo; n <= HAK_SPAN_MAX_SLABS && n <= lo + 4; n++) {
        uint64_t bytes = (uint64_t)n * HAK_SLAB_SIZE;
        uint64_t waste = (bytes % bsize) * 1024 / bytes;   /* per mille-ish */
        if (waste < best_waste) {
            best_waste = waste;
            best = n;
        }
    }
    return best;
}

void hak_sizeclass_init(void)
{
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        hak_class_t *k = &hak_classes[c];
        k->bsize = class_size(c);
        k->nslabs = span_slabs(k->bsize);
        /* Per-thread cache: ~32 KiB of tiny blocks, ~128 KiB of mid blocks
         * per class, within fixed counts. */
        uint32_t cap = c < HAK_NTINY ? 32768 / k->bsize : 131072 / k->bsize;
        uint32_t lo = c < HAK_NTINY ? 16 : 1, hi = c < HAK_NTINY ? 256 : 32;
        cap = cap * hak_opt.tls_cap_scale / 100;
        if (cap < lo)
            cap = lo;
        if (cap > hi)
            cap = hi;
        k->cap = cap;
        k->batch = cap / 2 ? cap / 2 : 1;
        k->run_max = HAK_REMOTE_RUN_BYTES / k->bsize < HAK_REMOTE_RUN_MAX ? HAK_REMOTE_RUN_BYTES / k->bsize
                                                                         : HAK_REMOTE_RUN_MAX;
    }
    for (size_t i = 0; i <= HAK_TINY_MAX; i++) {
        unsigned c = hak_size_class(i);
        hak_assert(class_size(c) >= i && (c == 0 || class_size(c - 1) < i));
        (void)c;
    }
}
