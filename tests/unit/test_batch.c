/* The batch: released ranges wait, coalesce, and go to the kernel in as few
 * madvise calls as adjacency allows; whole mappings are reused before new
 * ones are made; pages about to be reused are cancelled out of the queue. */
#include "unit.h"
#include <sys/mman.h>

#define MiB ((size_t)1 << 20)
#define LOAD(x) atomic_load(&hak_stats.x)

/* Large thresholds so that nothing flushes unless the test says so. */
static void batch_init(void)
{
    setenv("HAKMEM_BATCH_BYTES", "1G", 0);
    setenv("HAKMEM_BATCH_RANGES", "1024", 0);
    setenv("HAKMEM_DECAY_THREAD", "0", 0);
    setenv("HAKMEM_ELO", "0", 0);
    unit_init();
}

static char *region(size_t size)
{
    char *p = hak_os_map_aligned(size, HAK_SS_SIZE);
    ck_assert_ptr_nonnull(p);
    return p;
}

START_TEST(test_adjacent_ranges_are_released_with_one_madvise)
{
    batch_init();
    char *r = region(16 * MiB);
    memset(r, 1, 16 * MiB);
    for (int i = 7; i >= 0; i -= 2)             /* out of order: 7 5 3 1 6 4 2 0 */
        hak_batch_release(r + i * 2 * MiB, 2 * MiB, 2 * MiB, HAK_HUGE_NONE);
    for (int i = 6; i >= 0; i -= 2)
        hak_batch_release(r + i * 2 * MiB, 2 * MiB, 2 * MiB, HAK_HUGE_NONE);
    uint64_t calls = LOAD(madvise_calls);
    size_t retained = hak_batch_retained();
    hak_batch_flush();
    ck_assert_uint_eq(LOAD(madvise_calls), calls + 1);
    ck_assert_uint_eq(hak_batch_retained(), retained + 16 * MiB);
    ck_assert_uint_eq(r[5 * MiB], 0);              /* the pages are gone */
}
END_TEST

START_TEST(test_sparse_mappings_count_by_resident_bytes)
{
    setenv("HAKMEM_BATCH_BYTES", "4M", 1);
    batch_init();
    uint64_t flushes = LOAD(batch_flushes);
    char *r[4];
    for (int i = 0; i < 4; i++)
        r[i] = region(2 * MiB);
    for (int i = 0; i < 3; i++)                     /* 3 x 2 MiB mapped, 3 x 1 MiB used */
        hak_batch_release(r[i], 2 * MiB, 1 * MiB, HAK_HUGE_NONE);
    ck_assert_uint_eq(LOAD(batch_flushes), flushes);
    hak_batch_release(r[3], 2 * MiB, 1 * MiB, HAK_HUGE_NONE);
    ck_assert_uint_eq(LOAD(batch_flushes), flushes + 1);
}
END_TEST

START_TEST(test_new_mappings_come_in_chunks_whose_rest_is_retained)
{
    batch_init();
    bool zero;
    uint8_t huge;
    char *a = hak_batch_map(2 * MiB, HAK_SS_SIZE, &zero, &huge);
    uint64_t maps = LOAD(map_calls);
    char *b = hak_batch_map(2 * MiB, HAK_SS_SIZE, &zero, &huge);
    ck_assert_uint_eq(LOAD(map_calls), maps);       /* from the same chunk */
    ck_assert(b + 2 * MiB == a || a + 2 * MiB == b); /* adjacent: releases coalesce */
    ck_assert(zero);
}
END_TEST

START_TEST(test_flush_when_pending_bytes_reach_the_limit)
{
    setenv("HAKMEM_BATCH_BYTES", "4M", 1);
    batch_init();
    char *a = region(2 * MiB), *b = region(2 * MiB);
    uint64_t flushes = LOAD(batch_flushes);
    hak_batch_release(a, 2 * MiB, 2 * MiB, HAK_HUGE_NONE);
    ck_assert_uint_eq(LOAD(batch_flushes), flushes);
    ck_assert_uint_eq(hak_batch_pending(), 2 * MiB);
    hak_batch_release(b, 2 * MiB, 2 * MiB, HAK_HUGE_NONE);
    ck_assert_uint_eq(LOAD(batch_flushes), flushes + 1);
    ck_assert_uint_eq(hak_batch_pending(), 0);
}
END_TEST

START_TEST(test_flush_when_pending_ranges_reach_the_limit)
{
    setenv("HAKMEM_BATCH_RANGES", "4", 1);
    batch_init();
    char *r = region(2 * MiB);
    uint64_t flushes = LOAD(batch_flushes);
    for (int i = 0; i < 4; i++)                 /* not adjacent: four ranges */
        hak_batch_decommit(r + i * 256 * 1024, 64 * 1024);
    ck_assert_uint_eq(LOAD(batch_flushes), flushes + 1);
}
END_TEST

START_TEST(test_pending_mapping_is_reused_without_syscall)
{
    batch_init();
    char *r = region(4 * MiB);
    r[0] = 42;
    hak_batch_release(r, 4 * MiB, 4 * MiB, HAK_HUGE_NONE);
    uint64_t calls = LOAD(madvise_calls), maps = LOAD(map_calls);
    bool zero = true;
    uint8_t huge;
    char *p = hak_batch_take(4 * MiB, HAK_SS_SIZE, &zero, &huge);
    ck_assert_ptr_eq(p, r);
    ck_assert(!zero);
    ck_assert_uint_eq(p[0], 42);                   /* never advised */
    ck_assert_uint_eq(LOAD(madvise_calls), calls);
    ck_assert_uint_eq(LOAD(map_calls), maps);
    ck_assert_uint_eq(hak_batch_pending(), 0);
}
END_TEST

START_TEST(test_retained_mapping_is_reused_zeroed)
{
    batch_init();
    char *r = region(6 * MiB);
    memset(r, 7, 6 * MiB);
    hak_batch_release(r, 6 * MiB, 6 * MiB, HAK_HUGE_NONE);
    hak_batch_flush();
    size_t retained = hak_batch_retained();
    bool zero = false;
    uint8_t huge;
    uint64_t reused = LOAD(retained_reused), maps = LOAD(map_calls);
    char *p = hak_batch_take(2 * MiB, HAK_SS_SIZE, &zero, &huge);
    ck_assert_ptr_nonnull(p);
    ck_assert(zero);
    for (size_t i = 0; i < 2 * MiB; i += 4096)
        ck_assert_uint_eq(p[i], 0);
    ck_assert_uint_eq(LOAD(retained_reused), reused + 1);
    ck_assert_uint_eq(LOAD(map_calls), maps);
    ck_assert_uint_eq(hak_batch_retained(), retained - 2 * MiB);
}
END_TEST

START_TEST(test_mappings_beyond_retain_limit_are_unmapped)
{
    setenv("HAKMEM_RETAIN_MAX", "2M", 1);           /* also keeps no chunk rest */
    batch_init();
    char *a = region(2 * MiB), *b = region(2 * MiB);
    hak_batch_release(a, 2 * MiB, 2 * MiB, HAK_HUGE_NONE);
    hak_batch_release(b, 2 * MiB, 2 * MiB, HAK_HUGE_NONE);
    uint64_t unmaps = LOAD(unmap_calls);
    hak_batch_flush();
    ck_assert_uint_eq(hak_batch_retained(), 2 * MiB);
    ck_assert_uint_eq(LOAD(unmap_calls), unmaps + 1);
}
END_TEST

START_TEST(test_decommitted_pages_read_zero_after_flush)
{
    batch_init();
    char *r = region(2 * MiB);
    memset(r, 9, 2 * MiB);
    hak_batch_decommit(r + 64 * 1024, 128 * 1024);
    ck_assert_uint_eq(r[64 * 1024], 9);             /* not yet */
    hak_batch_flush();
    ck_assert_uint_eq(r[64 * 1024], 0);
    ck_assert_uint_eq(r[192 * 1024 - 1], 0);
    ck_assert_uint_eq(r[192 * 1024], 9);
    ck_assert_uint_eq(r[64 * 1024 - 1], 9);
}
END_TEST

START_TEST(test_cancelled_pages_keep_their_contents)
{
    batch_init();
    char *r = region(2 * MiB);
    memset(r, 9, 2 * MiB);
    hak_batch_decommit(r, 1 * MiB);
    hak_batch_cancel(r + 256 * 1024, 256 * 1024);   /* a hole in the middle */
    hak_batch_flush();
    ck_assert_uint_eq(r[0], 0);
    ck_assert_uint_eq(r[256 * 1024], 9);
    ck_assert_uint_eq(r[512 * 1024 - 1], 9);
    ck_assert_uint_eq(r[512 * 1024], 0);
    ck_assert_uint_eq(r[1 * MiB], 9);
}
END_TEST

START_TEST(test_releasing_a_mapping_cancels_its_queued_pages)
{
    batch_init();
    char *r = region(2 * MiB);
    hak_batch_decommit(r, 64 * 1024);
    hak_batch_release(r, 2 * MiB, 2 * MiB, HAK_HUGE_NONE);
    bool zero;
    uint8_t huge;
    char *p = hak_batch_take(2 * MiB, HAK_SS_SIZE, &zero, &huge);
    ck_assert_ptr_eq(p, r);
    p[0] = 5;
    hak_batch_flush();                              /* must not touch p */
    ck_assert_uint_eq(p[0], 5);
}
END_TEST

START_TEST(test_madv_free_leaves_retained_memory_not_known_zero)
{
    setenv("HAKMEM_MADV_FREE", "1", 1);
    batch_init();
    char *r = region(2 * MiB);
    memset(r, 3, 2 * MiB);
    hak_batch_release(r, 2 * MiB, 2 * MiB, HAK_HUGE_NONE);
    hak_batch_flush();
    bool zero = true;
    uint8_t huge;
    ck_assert_ptr_eq(hak_batch_take(2 * MiB, HAK_SS_SIZE, &zero, &huge), r);
    ck_assert(!zero);
}
END_TEST

START_TEST(test_empty_superslab_beyond_cache_goes_through_the_batch)
{
    setenv("HAKMEM_SS_CACHE", "0", 1);
    batch_init();
    if (!hak_opt.use_superslab)
        return;
    hak_span_t *first = hak_span_acquire(40), *s = first;
    for (int i = 0; i < 100 && s->ss == first->ss; i++)
        s = hak_span_acquire(40);                   /* fill until a new SuperSlab */
    hak_ss_t *ss = s->ss;
    ck_assert_ptr_ne(ss, first->ss);
    uint64_t ranges = LOAD(batch_ranges);
    hak_span_release(s);                            /* its SuperSlab is empty now */
    ck_assert_uint_eq(LOAD(batch_ranges), ranges + 1);
    ck_assert_uint_eq(hak_registry[(uintptr_t)ss >> HAK_SS_SHIFT], 0);
    ck_assert_uint_ge(hak_batch_pending(), HAK_SS_SIZE);
    /* the next SuperSlab is that one again, without a new mapping */
    uint64_t maps = LOAD(map_calls);
    hak_span_t *again = hak_span_acquire(40);
    ck_assert_ptr_eq(again->ss, ss);
    ck_assert_uint_eq(LOAD(map_calls), maps);
}
END_TEST

START_TEST(test_empty_slabs_of_live_superslab_are_decommitted_after_decay)
{
    setenv("HAKMEM_DECAY_MS", "20", 1);
    batch_init();
    if (!hak_opt.use_superslab)
        return;
    hak_span_t *keep = hak_span_acquire(3), *s = hak_span_acquire(40);
    ck_assert_ptr_eq(keep->ss, s->ss);
    char *base = (char *)s->start;
    memset(base, 4, (size_t)s->nslabs << HAK_SLAB_SHIFT);
    hak_span_release(s);
    uint64_t decommits = LOAD(slab_decommits);
    usleep(50 * 1000);
    hak_decay_run(hak_now_ms());
    hak_batch_flush();
    ck_assert_uint_gt(LOAD(slab_decommits), decommits);
    ck_assert_uint_eq(base[0], 0);
    /* and taken again, the slabs are usable (cancel or refault) */
    hak_span_t *again = hak_span_acquire(40);
    memset((char *)again->start, 6, (size_t)again->nslabs << HAK_SLAB_SHIFT);
    hak_batch_flush();
    ck_assert_uint_eq(((char *)again->start)[0], 6);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("batch");
    UNIT_TEST(tc, test_adjacent_ranges_are_released_with_one_madvise);
    UNIT_TEST(tc, test_flush_when_pending_bytes_reach_the_limit);
    UNIT_TEST(tc, test_sparse_mappings_count_by_resident_bytes);
    UNIT_TEST(tc, test_new_mappings_come_in_chunks_whose_rest_is_retained);
    UNIT_TEST(tc, test_flush_when_pending_ranges_reach_the_limit);
    UNIT_TEST(tc, test_pending_mapping_is_reused_without_syscall);
    UNIT_TEST(tc, test_retained_mapping_is_reused_zeroed);
    UNIT_TEST(tc, test_mappings_beyond_retain_limit_are_unmapped);
    UNIT_TEST(tc, test_decommitted_pages_read_zero_after_flush);
    UNIT_TEST(tc, test_cancelled_pages_keep_their_contents);
    UNIT_TEST(tc, test_releasing_a_mapping_cancels_its_queued_pages);
    UNIT_TEST(tc, test_madv_free_leaves_retained_memory_not_known_zero);
    UNIT_TEST(tc, test_empty_superslab_beyond_cache_goes_through_the_batch);
    UNIT_TEST(tc, test_empty_slabs_of_live_superslab_are_decommitted_after_decay);
    suite_add_tcase(s, tc);
    return s;
}
UNIT_MAIN(suite)
