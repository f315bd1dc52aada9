/* SuperSlabs, standalone slabs and the registry: where spans come from,
 * how a pointer finds its span, and that released memory is forgotten. */
#include "unit.h"

START_TEST(test_registry_finds_span_of_every_block)
{
    unit_init();
    for (size_t size = 1; size <= HAK_MID_MAX; size = size * 3 / 2 + 1) {
        char *p = hak_malloc(size);
        hak_span_t *s = hak_span_of((uintptr_t)p);
        ck_assert_ptr_nonnull(s);
        ck_assert_ptr_ne(s, &hak_span_none);
        ck_assert_uint_eq(s->cls, hak_size_class(size));
        ck_assert(hak_span_is_block(s, (uintptr_t)p));
        ck_assert(!hak_span_is_block(s, (uintptr_t)p + 8));
        ck_assert_ptr_eq(atomic_load(&s->owner), hak_tls_heap);
        hak_free(p);
    }
}
END_TEST

START_TEST(test_registry_rejects_foreign_pointers)
{
    unit_init();
    int local;
    void *g = malloc(64);                       /* glibc's */
    ck_assert_ptr_null(hak_span_of((uintptr_t)&local));
    ck_assert_ptr_null(hak_span_of((uintptr_t)g));
    ck_assert_ptr_null(hak_span_of((uintptr_t)1 << 50));
    free(g);
}
END_TEST

START_TEST(test_superslab_header_is_at_the_2mib_base)
{
    unit_init();
    if (!hak_opt.use_superslab)
        return;
    void *p = hak_malloc(100);
    hak_ss_t *ss = (hak_ss_t *)((uintptr_t)p & ~(HAK_SS_SIZE - 1));
    hak_span_t *s = hak_span_of((uintptr_t)p);
    ck_assert_ptr_eq(s->ss, ss);
    ck_assert_ptr_eq(ss->chunk.span_of[s->first_slab], s);
    ck_assert_uint_ge(s->first_slab, 1);                  /* slab 0 is the header */
    ck_assert_uint_eq(s->start, (uintptr_t)ss + ((uintptr_t)s->first_slab << HAK_SLAB_SHIFT));
    hak_free(p);
}
END_TEST

START_TEST(test_spans_of_different_classes_share_a_superslab)
{
    unit_init();
    if (!hak_opt.use_superslab)
        return;
    hak_span_t *a = hak_span_acquire(3), *b = hak_span_acquire(40);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_eq(a->ss, b->ss);
    ck_assert_uint_eq(b->nslabs, hak_classes[40].nslabs);
    /* the slabs of a multi-slab span all map back to it */
    for (unsigned i = 0; i < b->nslabs; i++)
        ck_assert_ptr_eq(hak_span_of(b->start + ((uintptr_t)i << HAK_SLAB_SHIFT)), b);
    hak_span_release(a);
    hak_span_release(b);
}
END_TEST

START_TEST(test_released_span_is_forgotten_by_registry)
{
    unit_init();
    hak_span_t *s = hak_span_acquire(5);
    uintptr_t start = s->start;
    ck_assert_ptr_eq(hak_span_of(start), s);
    hak_span_release(s);
    hak_span_t *now = hak_span_of(start);
    ck_assert(now == NULL || now == &hak_span_none);
}
END_TEST

START_TEST(test_empty_superslab_beyond_cache_is_unmapped)
{
    unit_init();
    if (!hak_opt.use_superslab)
        return;
    hak_opt.ss_cache = 0;
    /* fill more than one SuperSlab so a fresh one is certainly ours alone */
    hak_span_t *spans[64];
    for (int i = 0; i < 64; i++)
        spans[i] = hak_span_acquire(0);
    uint64_t before = atomic_load(&hak_stats.superslabs);
    ck_assert_uint_ge(before, 2);
    for (int i = 0; i < 64; i++)
        hak_span_release(spans[i]);
    ck_assert_uint_lt(atomic_load(&hak_stats.superslabs), before);
}
END_TEST

START_TEST(test_superslab_of_a_small_heap_uses_small_pages)
{
    unit_init();
    if (!hak_opt.use_superslab)
        return;
    hak_span_t *s = hak_span_acquire(3);
    ck_assert_uint_eq(s->ss->huge, HAK_HUGE_NONE);
    ck_assert(!vma_has_flag(s->start, "hg"));
    hak_span_release(s);
}
END_TEST

START_TEST(test_superslab_past_the_huge_page_threshold_is_marked_huge)
{
    unit_init();
    if (!hak_opt.use_superslab)
        return;
    hak_opt.ss_hugepage_after = 2 * HAK_SS_SIZE;
    /* whole-SuperSlab spans: each of the first three needs its own */
    unsigned c = hak_size_class(HAK_MID_MAX);
    hak_span_t *spans[64];
    unsigned n = 0;
    while (n < 64 && atomic_load(&hak_stats.superslabs) < 3)
        spans[n++] = hak_span_acquire(c);
    hak_span_t *first = spans[0], *last = spans[n - 1];
    ck_assert_ptr_ne(first->ss, last->ss);
    ck_assert_uint_eq(first->ss->huge, HAK_HUGE_NONE);
    ck_assert_uint_eq(last->ss->huge, HAK_HUGE_ALL);
    ck_assert(!vma_has_flag(first->start, "hg"));
    ck_assert(vma_has_flag(last->start, "hg"));
    while (n > 0)
        hak_span_release(spans[--n]);
}
END_TEST

START_TEST(test_standalone_slab_is_its_own_aligned_mapping)
{
    unit_init();
    if (hak_opt.use_superslab)
        return;
    hak_span_t *s = hak_span_acquire(0), *t = hak_span_acquire(45);
    ck_assert_ptr_null(s->ss);
    ck_assert_uint_eq(s->start % HAK_SLAB_SIZE, 0);
    ck_assert_uint_eq(t->start % HAK_SLAB_SIZE, 0);
    for (unsigned i = 0; i < t->nslabs; i++)
        ck_assert_ptr_eq(hak_span_of(t->start + ((uintptr_t)i << HAK_SLAB_SHIFT)), t);
    uint64_t unmaps = atomic_load(&hak_stats.unmap_calls);
    hak_span_release(s);
    hak_span_release(t);
    ck_assert_uint_ge(atomic_load(&hak_stats.unmap_calls), unmaps + 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("superslab");
    TCase *tc = tcase_create("registry");
    UNIT_TEST(tc, test_registry_finds_span_of_every_block);
    UNIT_TEST(tc, test_registry_rejects_foreign_pointers);
    UNIT_TEST(tc, test_superslab_header_is_at_the_2mib_base);
    UNIT_TEST(tc, test_spans_of_different_classes_share_a_superslab);
    UNIT_TEST(tc, test_released_span_is_forgotten_by_registry);
    UNIT_TEST(tc, test_empty_superslab_beyond_cache_is_unmapped);
    UNIT_TEST(tc, test_superslab_of_a_small_heap_uses_small_pages);
    UNIT_TEST(tc, test_superslab_past_the_huge_page_threshold_is_marked_huge);
    UNIT_TEST(tc, test_standalone_slab_is_its_own_aligned_mapping);
    suite_add_tcase(s, tc);
    return s;
}
UNIT_MAIN(suite)
