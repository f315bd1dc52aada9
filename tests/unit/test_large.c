/* Large blocks: own 2 MiB-aligned mappings found through the registry,
 * with an out-of-line record; any power-of-two alignment; boundary set by
 * option; what happens on free (BigCache, batch) is in test_bigcache. */
#include "unit.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

START_TEST(test_large_block_is_registered_and_forgotten_when_released)
{
    setenv("HAKMEM_BIGCACHE_MAX", "0", 1);          /* nothing is kept */
    unit_init();
    size_t size = HAK_MID_MAX + 1;
    char *p = hak_malloc(size);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % HAK_SS_SIZE, 0);
    uintptr_t e = hak_registry[(uintptr_t)p >> HAK_SS_SHIFT];
    hak_large_t *l = hak_large_of(e, p);
    ck_assert_ptr_nonnull(l);
    ck_assert_uint_eq(l->size, size);
    ck_assert_uint_eq(l->capacity, hak_large_capacity(size));
    ck_assert_uint_eq(hak_malloc_usable_size(p), l->capacity);
    memset(p, 1, hak_malloc_usable_size(p));
    hak_large_publish();                /* a thread's counts are published in batches */
    uint64_t frees = atomic_load(&hak_stats.large_frees);
    hak_free(p);
    hak_large_publish();
    ck_assert_uint_eq(atomic_load(&hak_stats.large_frees), frees + 1);
    ck_assert_uint_eq(hak_registry[(uintptr_t)p >> HAK_SS_SHIFT], 0);
}
END_TEST

START_TEST(test_capacity_is_the_size_class_at_most_a_quarter_above)
{
    unit_init();
    for (size_t size = HAK_MID_MAX + 1; size < ((size_t)1 << 30); size = size * 5 / 4 + 4097) {
        size_t cap = hak_large_capacity(size);
        ck_assert_uint_ge(cap, size);
        ck_assert_uint_le(cap, size + size / 4 + 4096);
        ck_assert_uint_eq(cap % 4096, 0);
    }
}
END_TEST

START_TEST(test_large_block_spanning_windows_is_found_from_each)
{
    unit_init();
    char *p = hak_malloc(9u << 20);
    uintptr_t e0 = hak_registry[(uintptr_t)p >> HAK_SS_SHIFT];
    for (size_t off = 0; off < (9u << 20); off += HAK_SS_SIZE)
        ck_assert_uint_eq(hak_registry[((uintptr_t)p + off) >> HAK_SS_SHIFT], e0);
    p[(9u << 20) - 1] = 1;
    hak_free(p);
}
END_TEST

/* A window the block fills at least three quarters of faults in as one
 * huge page (its 384 or more small faults cost far more); one it fills
 * less of keeps small pages, as memory the block cannot use. */
START_TEST(test_window_filled_three_quarters_is_marked_huge)
{
    setenv("HAKMEM_BIGCACHE_MAX", "0", 1);
    unit_init();
    if (!hak_opt.large_hugepage)
        return;
    char *three_q = hak_malloc(HAK_SS_SIZE / 4 * 3);
    char *half = hak_malloc(HAK_SS_SIZE / 2 + 4096);
    char *one_and_quarter = hak_malloc(HAK_SS_SIZE / 4 * 5);
    ck_assert(vma_has_flag((uintptr_t)three_q, "hg"));
    ck_assert(!vma_has_flag((uintptr_t)half, "hg"));
    ck_assert(vma_has_flag((uintptr_t)one_and_quarter, "hg"));
    ck_assert(!vma_has_flag((uintptr_t)one_and_quarter + HAK_SS_SIZE, "hg"));
    hak_free(three_q);
    hak_free(half);
    hak_free(one_and_quarter);
}
END_TEST

/* realloc past the end of a block whose neighbour is taken moves it to a
 * fresh 2 MiB-aligned range (mremap onto a reservation made through os.c):
 * contents kept, registry moved, and the mapped bytes grow by exactly the
 * difference (the reservation is not counted twice). */
START_TEST(test_realloc_blocked_in_place_moves_to_a_new_aligned_range)
{
    setenv("HAKMEM_BIGCACHE_MAX", "0", 1);
    unit_init();
    char *p = hak_malloc(1u << 20);
    ck_assert_ptr_nonnull(p);
    memset(p, 7, 1u << 20);
    hak_large_t *l = hak_large_of(hak_registry[(uintptr_t)p >> HAK_SS_SHIFT], p);
    ck_assert_ptr_nonnull(l);
    size_t old_map = l->map_size;
    void *b = mmap(p + old_map, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    ck_assert(b != MAP_FAILED || errno == EEXIST);  /* either way, taken */
    uint64_t mapped = atomic_load(&hak_stats.mapped), mremaps = atomic_load(&hak_stats.large_mremaps);
    char *q = hak_realloc(p, 8u << 20);
    ck_assert_ptr_nonnull(q);
    ck_assert_ptr_ne(q, p);
    ck_assert_uint_eq((uintptr_t)q % HAK_SS_SIZE, 0);
    ck_assert_uint_eq(atomic_load(&hak_stats.large_mremaps), mremaps + 1);
    for (size_t i = 0; i < (1u << 20); i += 4093)
        ck_assert_int_eq(q[i], 7);
    ck_assert_ptr_eq(hak_large_of(hak_registry[(uintptr_t)q >> HAK_SS_SHIFT], q), l);
    ck_assert_uint_eq(atomic_load(&hak_stats.mapped), mapped + l->map_size - old_map);
    memset(q, 8, 8u << 20);
    hak_free(q);
    if (b != MAP_FAILED)
        munmap(b, 4096);
}
END_TEST

START_TEST(test_large_alignments_up_to_4mib)
{
    unit_init();
    for (size_t align = 128; align <= (4u << 20); align *= 2) {
        void *p = NULL;
        ck_assert_int_eq(hak_posix_memalign(&p, align, HAK_MID_MAX + 100), 0);
        ck_assert_uint_eq((uintptr_t)p % align, 0);
        memset(p, 2, HAK_MID_MAX + 100);
        hak_free(p);
    }
}
END_TEST

START_TEST(test_mid_max_option_moves_the_large_boundary)
{
    setenv("HAKMEM_MID_MAX", "4096", 1);
    unit_init();
    ck_assert_uint_eq(hak_opt.mid_max, 4096);
    void *p = hak_malloc(5000);
    ck_assert_ptr_null(hak_span_of((uintptr_t)p));
    ck_assert_ptr_nonnull(hak_large_of(hak_registry[(uintptr_t)p >> HAK_SS_SHIFT], p));
    hak_free(p);
}
END_TEST

START_TEST(test_free_inside_large_block_aborts)
{
    unit_init();
    char *p = hak_malloc(1u << 20);
    hak_free(p + 4096);
}
END_TEST

START_TEST(test_large_double_free_aborts)
{
    unit_init();
    char *p = hak_malloc(1u << 20);
    hak_free(p);
    hak_free(p);
}
END_TEST

/* A thread keeps its live-block counts to itself for a few operations
 * (large.c); its exit publishes them, and a reader's own are exact. */
static void *keep_two_of_three(void *arg)
{
    void **out = arg;
    for (int i = 0; i < 3; i++)
        out[i] = hak_malloc((size_t)1 << 20);
    hak_free(out[2]);
    return NULL;
}

START_TEST(test_live_counts_of_an_exited_thread_are_published)
{
    void *mine = hak_malloc((size_t)3 << 20);
    void *theirs[3];
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, keep_two_of_three, theirs), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    struct hak_stats s;
    ck_assert_int_eq(hak_stats_get(&s, sizeof s), 0);
    ck_assert_uint_eq(s.large_in_use, 3);
    ck_assert_uint_eq(s.large_allocs, 4);
    ck_assert_uint_eq(s.large_frees, 1);
    hak_free(theirs[0]);
    hak_free(theirs[1]);
    hak_free(mine);
    ck_assert_int_eq(hak_stats_get(&s, sizeof s), 0);
    ck_assert_uint_eq(s.large_in_use, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("large");
    TCase *tc = tcase_create("mappings");
    UNIT_TEST(tc, test_large_block_is_registered_and_forgotten_when_released);
    UNIT_TEST(tc, test_live_counts_of_an_exited_thread_are_published);
    UNIT_TEST(tc, test_capacity_is_the_size_class_at_most_a_quarter_above);
    UNIT_TEST(tc, test_large_block_spanning_windows_is_found_from_each);
    UNIT_TEST(tc, test_large_alignments_up_to_4mib);
    UNIT_TEST(tc, test_window_filled_three_quarters_is_marked_huge);
    UNIT_TEST(tc, test_realloc_blocked_in_place_moves_to_a_new_aligned_range);
    UNIT_TEST(tc, test_mid_max_option_moves_the_large_boundary);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("misuse");
    tcase_add_test_raise_signal(tm, test_free_inside_large_block_aborts, SIGABRT);
    tcase_add_test_raise_signal(tm, test_large_double_free_aborts, SIGABRT);
    suite_add_tcase(s, tm);
    return s;
}
UNIT_MAIN(suite)
