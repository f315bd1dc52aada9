/* BigCache: freed large blocks stay mapped and serve the next allocation of
 * their class, preferring the same call site; a miss resizes a block of
 * another class (split, grown in its mapping or by mremap) before it maps
 * anew; bounded in bytes, by a bound that follows the peak of the live
 * large blocks; decayed; calloc of a recycled block is zero; realloc in
 * place and by mremap. */
#include "unit.h"
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define LOAD(x) atomic_load(&hak_stats.x)

/* A fixed retention threshold (32 MiB), so no tournament epoch changes it
 * under the test; no decay thread unless the test asks for one. */
static void bc_init(void)
{
    setenv("HAKMEM_ELO", "0", 0);
    setenv("HAKMEM_DECAY_THREAD", "0", 0);
    unit_init();
}

/* A block that none of these tests' requests fits (8 MiB: whole huge-page
 * windows), allocated before the blocks it is to push out of the thread's
 * slot into their classes when it is freed (allocated after them, it
 * could be one of them, grown by a miss).  Never written: it would serve
 * a request only at more than twice the request's size. */
static void *pusher_new(void)
{
    return hak_malloc(8 * MiB);
}

static void push_out_of_slot(void *pusher)
{
    hak_free(pusher);
}

/* Pages of [p, p + n) not resident. */
static size_t not_resident(const void *p, size_t n)
{
    static unsigned char vec[(64 << 20) / 4096];
    size_t pages = (n + 4095) / 4096;
    ck_assert_uint_le(pages, sizeof vec);
    ck_assert_int_eq(mincore((void *)p, pages * 4096, vec), 0);
    size_t out = 0;
    for (size_t i = 0; i < pages; i++)
        out += !(vec[i] & 1);
    return out;
}

static bool registered(void *p)
{
    return hak_large_of(hak_registry[(uintptr_t)p >> HAK_SS_SHIFT], p) != NULL;
}

START_TEST(test_freed_block_serves_next_allocation_of_its_class)
{
    bc_init();
    char *p = hak_malloc(1 * MiB);
    hak_free(p);
    uint64_t hits = LOAD(bc_hits);
    char *q = hak_malloc(1 * MiB - 100 * KiB);      /* same class: (896K, 1M] */
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(LOAD(bc_hits), hits + 1);
    ck_assert(registered(q));
    hak_free(q);
}
END_TEST

/* A miss whose classes are empty takes a cached block of a smaller class
 * that its mapping can hold, grown in place: its resident pages serve the
 * request, with no new mapping and no madvise. */
START_TEST(test_miss_grows_a_smaller_block_within_its_mapping)
{
    bc_init();
    char *p = hak_malloc(1 * MiB);
    memset(p, 0x3c, 1 * MiB);
    hak_free(p);                                      /* in the slot, which does not fit */
    size_t held = hak_bigcache_held();
    uint64_t misses = LOAD(bc_misses), fits = LOAD(bc_fits), maps = LOAD(map_calls);
    uint64_t madv = LOAD(madvise_calls), reused = LOAD(batch_reused) + LOAD(retained_reused);
    char *q = hak_malloc(1900 * KiB);                 /* class 2 MiB: three up */
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(LOAD(bc_misses), misses + 1);
    ck_assert_uint_eq(LOAD(bc_fits), fits + 1);
    ck_assert_uint_eq(LOAD(map_calls), maps);
    ck_assert_uint_eq(LOAD(madvise_calls), madv);
    ck_assert_uint_eq(LOAD(batch_reused) + LOAD(retained_reused), reused);
    ck_assert_uint_eq(not_resident(q, 1 * MiB), 0);   /* the pages it had */
    ck_assert_uint_eq(hak_bigcache_held(), held - hak_large_capacity(1 * MiB));
    ck_assert_uint_eq(hak_malloc_usable_size(q), hak_large_capacity(1900 * KiB));
    memset(q, 0x5a, hak_malloc_usable_size(q));
    hak_free(q);
}
END_TEST

/* A thread's last freed block waits in its slot; once the thread is gone,
 * a miss of another thread still finds it (the slots go to their classes). */
static void *free_one_and_exit(void *arg)
{
    char *p = hak_malloc(1 * MiB);
    memset(p, 0x6e, 1 * MiB);
    hak_free(p);
    *(char **)arg = p;
    return NULL;
}

START_TEST(test_miss_finds_the_block_of_an_exited_thread)
{
    bc_init();
    char *p = NULL;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, free_one_and_exit, &p), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_uint_eq(hak_bigcache_held(), hak_large_capacity(1 * MiB));
    uint64_t fits = LOAD(bc_fits), maps = LOAD(map_calls);
    char *q = hak_malloc(1900 * KiB);
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(LOAD(bc_fits), fits + 1);
    ck_assert_uint_eq(LOAD(map_calls), maps);
    ck_assert_uint_eq(not_resident(q, 1 * MiB), 0);
    hak_free(q);
}
END_TEST

/* Of two blocks of the class, the one whose earlier user asked for as
 * much as the request serves it, though the other is newer: its pages are
 * all resident. */
START_TEST(test_hit_prefers_a_block_whose_pages_cover_the_request)
{
    bc_init();
    void *pusher = pusher_new();
    char *a = hak_malloc(2000 * KiB), *b = hak_malloc(1800 * KiB);   /* both class 2 MiB */
    memset(a, 1, 2000 * KiB);
    memset(b, 2, 1800 * KiB);
    hak_free(a);
    hak_free(b);                                      /* newest */
    push_out_of_slot(pusher);
    char *q = hak_malloc(1950 * KiB);
    ck_assert_ptr_eq(q, a);
    ck_assert_uint_eq(not_resident(q, 1950 * KiB), 0);
    char *r = hak_malloc(1750 * KiB);                 /* b covers this one */
    ck_assert_ptr_eq(r, b);
    hak_free(q);
    hak_free(r);
}
END_TEST

/* With nothing cached that can serve it, a miss maps anew. */
START_TEST(test_miss_with_nothing_usable_maps_anew)
{
    bc_init();
    uint64_t fits = LOAD(bc_fits);
    char *p = hak_malloc(1 * MiB + 1);
    char *q = hak_malloc(3 * MiB);
    ck_assert_ptr_ne(q, p);
    ck_assert_uint_eq(LOAD(bc_fits), fits);
    ck_assert_uint_eq(hak_bigcache_held(), 0);
    hak_free(p);
    hak_free(q);
}
END_TEST

/* A miss that finds only a bigger block keeps the windows it needs and
 * files the rest as a block of its own: both are served from the pages
 * of the one mapping, and neither touches the other. */
START_TEST(test_miss_splits_a_bigger_block)
{
    bc_init();
    char *p = hak_malloc(8 * MiB);
    memset(p, 0x11, 8 * MiB);
    hak_free(p);
    uint64_t splits = LOAD(bc_splits), maps = LOAD(map_calls), madv = LOAD(madvise_calls);
    char *q = hak_malloc(1900 * KiB);
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(LOAD(bc_splits), splits + 1);
    ck_assert_uint_eq(hak_bigcache_held(), 6 * MiB);
    uintptr_t rest = (uintptr_t)p + 2 * MiB;
    ck_assert(hak_large_is_cached(hak_registry[rest >> HAK_SS_SHIFT], (void *)rest));
    char *r = hak_malloc(6 * MiB);                    /* the rest, its own class */
    ck_assert_ptr_eq(r, (char *)rest);
    ck_assert_uint_eq(LOAD(map_calls), maps);
    ck_assert_uint_eq(LOAD(madvise_calls), madv);
    ck_assert_uint_eq(not_resident(p, 8 * MiB), 0);
    memset(q, 1, hak_malloc_usable_size(q));
    memset(r, 2, hak_malloc_usable_size(r));
    for (size_t i = 0; i < hak_malloc_usable_size(q); i += 4096)
        ck_assert_uint_eq((unsigned char)q[i], 1);
    ck_assert(registered(q) && registered(r));
    hak_free(q);
    hak_free(r);
}
END_TEST

/* A miss beyond every cached mapping grows one by mremap: its pages move
 * with it, contents and all, instead of being faulted in again. */
START_TEST(test_miss_beyond_the_mappings_grows_a_block_by_mremap)
{
    bc_init();
    unsigned char *p = hak_malloc(1 * MiB);
    for (size_t i = 0; i < 1 * MiB; i += 4096)
        p[i] = (unsigned char)(i / 4096 + 1);
    hak_free(p);
    uint64_t moves = LOAD(bc_fit_moves), mremaps = LOAD(large_mremaps), madv = LOAD(madvise_calls);
    unsigned char *q = hak_malloc(3 * MiB);           /* a 4 MiB mapping */
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(LOAD(bc_fit_moves), moves + 1);
    ck_assert_uint_eq(LOAD(large_mremaps), mremaps + 1);
    ck_assert_uint_eq(LOAD(madvise_calls), madv);
    ck_assert_uint_eq(hak_bigcache_held(), 0);
    for (size_t i = 0; i < 1 * MiB; i += 4096)
        ck_assert_uint_eq(q[i], (unsigned char)(i / 4096 + 1));
    ck_assert(registered(q));
    if (q != p)
        ck_assert_uint_eq(hak_registry[(uintptr_t)p >> HAK_SS_SHIFT], 0);
    memset(q, 3, 3 * MiB);
    hak_free(q);
}
END_TEST

/* A block is not resized for a request it would hold more than twice the
 * memory of: a fresh mapping wastes less. */
START_TEST(test_miss_does_not_take_a_block_twice_too_big)
{
    bc_init();
    void *pusher = pusher_new();
    char *p = hak_malloc(1536 * KiB);
    memset(p, 1, 1536 * KiB);
    hak_free(p);
    push_out_of_slot(pusher);
    uint64_t fits = LOAD(bc_fits);
    char *q = hak_malloc(600 * KiB);                  /* 640 KiB; 896 KiB more resident */
    ck_assert_ptr_ne(q, p);
    ck_assert_uint_eq(LOAD(bc_fits), fits);
    hak_free(q);
}
END_TEST

START_TEST(test_calloc_of_resized_blocks_is_zero)
{
    bc_init();
    size_t sizes[3][2] = { { 1 * MiB, 1900 * KiB },   /* grown in place */
                           { 1 * MiB, 3 * MiB },      /* grown by mremap */
                           { 8 * MiB, 1900 * KiB } }; /* split */
    for (int k = 0; k < 3; k++) {
        unsigned char *p = hak_malloc(sizes[k][0]);
        memset(p, 0xab, hak_malloc_usable_size(p));
        hak_free(p);
        uint64_t fits = LOAD(bc_fits);
        unsigned char *q = hak_calloc(1, sizes[k][1]);
        ck_assert_uint_eq(LOAD(bc_fits), fits + 1);
        for (size_t i = 0; i < sizes[k][1]; i += 64)
            if (q[i] != 0)
                ck_abort_msg("case %d: byte %zu of a resized calloc block is %#x", k, i, q[i]);
        if (k == 2) {                                 /* and the rest split off */
            unsigned char *r = hak_calloc(1, 6 * MiB);
            ck_assert_ptr_eq(r, q + 2 * MiB);
            for (size_t i = 0; i < 6 * MiB; i += 64)
                if (r[i] != 0)
                    ck_abort_msg("byte %zu of a split-off calloc block is %#x", i, r[i]);
            hak_free(r);
        }
        hak_free(q);
        hak_bigcache_decay(UINT64_MAX, 0);            /* nothing left for the next case */
    }
}
END_TEST

START_TEST(test_aligned_miss_gets_an_aligned_block)
{
    bc_init();
    for (int i = 0; i < 4; i++) {
        char *p[2] = { hak_malloc(1 * MiB), hak_malloc(1 * MiB) };
        hak_free(p[0]);
        hak_free(p[1]);
        void *q = NULL;
        ck_assert_int_eq(hak_posix_memalign(&q, 4 * MiB, 1900 * KiB), 0);
        ck_assert_uint_eq((uintptr_t)q % (4 * MiB), 0);
        memset(q, 4, 1900 * KiB);
        hak_free(q);
    }
}
END_TEST

START_TEST(test_thread_last_freed_block_serves_any_request_that_fits_its_mapping)
{
    bc_init();
    char *p = hak_malloc(600 * KiB);
    hak_free(p);
    uint64_t grown = LOAD(bc_grown_hits);
    char *q = hak_malloc(1 * MiB + 1);                /* three classes up */
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(LOAD(bc_grown_hits), grown + 1);
    ck_assert_uint_eq(hak_malloc_usable_size(q), hak_large_capacity(1 * MiB + 1));
    memset(q, 0x5a, 1 * MiB + 1);
    hak_free(q);
    char *r = hak_malloc(300 * KiB);                  /* down, within a factor of 4 */
    ck_assert_ptr_eq(r, p);
    hak_free(r);
}
END_TEST

START_TEST(test_thread_last_freed_block_is_not_taken_four_times_too_big)
{
    bc_init();
    char *p = hak_malloc(1 * MiB);
    hak_free(p);
    char *q = hak_malloc(200 * KiB);
    ck_assert_ptr_ne(q, p);
    hak_free(q);
}
END_TEST

START_TEST(test_request_beyond_the_mapping_misses_its_slot)
{
    bc_init();
    char *p = hak_malloc(1 * MiB);
    hak_free(p);
    uint64_t misses = LOAD(bc_misses), hits = LOAD(bc_hits);
    char *q = hak_malloc(2 * MiB + 1);
    ck_assert_uint_eq(LOAD(bc_misses), misses + 1);
    ck_assert_uint_eq(LOAD(bc_hits), hits);
    hak_free(q);
}
END_TEST

START_TEST(test_calloc_of_grown_block_is_zero_after_a_queued_shrink)
{
    bc_init();
    unsigned char *p = hak_malloc(1536 * KiB);
    memset(p, 0xff, 1536 * KiB);
    p = hak_realloc(p, 300 * KiB);                    /* tail queued for decommit */
    hak_free(p);
    unsigned char *q = hak_calloc(1, 1200 * KiB);
    ck_assert_ptr_eq(q, p);
    for (size_t i = 0; i < 1200 * KiB; i += 512)
        ck_assert_uint_eq(q[i], 0);
    memset(q, 0x77, 1200 * KiB);
    hak_batch_flush();                                /* must not touch q's pages */
    for (size_t i = 0; i < 1200 * KiB; i += 512)
        ck_assert_uint_eq(q[i], 0x77);
    hak_free(q);
}
END_TEST

START_TEST(test_empty_class_takes_a_block_at_most_two_classes_up)
{
    bc_init();
    void *pusher = pusher_new();
    char *p = hak_malloc(1536 * KiB);               /* class 1.5 MiB */
    hak_free(p);
    push_out_of_slot(pusher);
    uint64_t hits = LOAD(bc_hits);
    char *q = hak_malloc(1100 * KiB);                /* 1.25 MiB: two down */
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_eq(LOAD(bc_hits), hits + 1);
    ck_assert_uint_eq(hak_malloc_usable_size(q), 1536 * KiB);
    hak_free(q);
    push_out_of_slot(pusher_new());                   /* a hit: the first pusher */
    uint64_t misses = LOAD(bc_misses);
    hits = LOAD(bc_hits);
    char *m = hak_malloc(800 * KiB);                 /* 896 KiB: three classes down */
    ck_assert_uint_eq(LOAD(bc_hits), hits);           /* a miss (then resized) */
    ck_assert_uint_eq(LOAD(bc_misses), misses + 1);
    hak_free(m);
}
END_TEST

START_TEST(test_hit_prefers_block_allocated_by_same_site)
{
    bc_init();
    const void *s1 = (void *)0x1000, *s2 = (void *)0x2000, *s3 = (void *)0x3000;
    char *a = hak_alloc_at(600 * KiB, s1);
    char *b = hak_alloc_at(600 * KiB, s2);
    hak_free_at(a, s1);
    hak_free_at(b, s2);                               /* b is the newest */
    uint64_t site_hits = LOAD(bc_site_hits);
    ck_assert_ptr_eq(hak_alloc_at(600 * KiB, s1), a);
    ck_assert_uint_eq(LOAD(bc_site_hits), site_hits + 1);
    ck_assert_ptr_eq(hak_alloc_at(600 * KiB, s3), b);   /* no match: newest */
    hak_free(a);
    hak_free(b);
}
END_TEST

START_TEST(test_held_bytes_are_bounded_oldest_evicted_first)
{
    setenv("HAKMEM_BIGCACHE_MAX", "4M", 1);
    setenv("HAKMEM_BIGCACHE_PEAK", "0", 1);          /* the bound is 4M, whatever was live */
    bc_init();
    char *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = hak_malloc(1536 * KiB);
    for (int i = 0; i < 4; i++)
        hak_free(p[i]);
    ck_assert_uint_le(hak_bigcache_held(), 4 * MiB);
    ck_assert_uint_eq(LOAD(bc_evicted), 2);
    ck_assert(!registered(p[0]) && !registered(p[1]));   /* released: forgotten */
    ck_assert_ptr_eq(hak_malloc(1536 * KiB), p[3]);
    ck_assert_ptr_eq(hak_malloc(1536 * KiB), p[2]);
}
END_TEST

/* The bound is HAKMEM_BIGCACHE_MAX, or what the live large blocks fell
 * below their peak when that is more: a program that frees what it held
 * keeps it cached, to allocate it again.  Two decay periods after the
 * peak the bound is back at HAKMEM_BIGCACHE_MAX, and the decay gives
 * back everything, whatever the bound. */
START_TEST(test_bound_follows_the_peak_of_live_blocks_and_comes_back_down)
{
    setenv("HAKMEM_BIGCACHE_MAX", "4M", 1);
    setenv("HAKMEM_BIGCACHE_LIVE", "0", 1);
    setenv("HAKMEM_DECAY_MS", "200", 1);
    bc_init();
    enum { N = 12 };
    char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = hak_malloc(1536 * KiB);
        memset(p[i], i, 1536 * KiB);
    }
    ck_assert_uint_eq(hak_bigcache_bound(), 4 * MiB);     /* all of it live */
    for (int i = 0; i < N; i++)
        hak_free(p[i]);
    ck_assert_uint_eq(LOAD(bc_evicted), 0);
    ck_assert_uint_eq(hak_bigcache_held(), N * 1536 * KiB);
    ck_assert_uint_eq(hak_bigcache_bound(), N * 1536 * KiB);
    uint64_t maps = LOAD(map_calls);
    for (int i = 0; i < N; i++)                           /* recycled: no mapping */
        p[i] = hak_malloc(1536 * KiB);
    ck_assert_uint_eq(LOAD(map_calls), maps);
    ck_assert_uint_eq(hak_bigcache_held(), 0);
    for (int i = 0; i < N; i++)
        hak_free(p[i]);
    usleep(450 * 1000);                                   /* two periods of 200 ms, quiet */
    ck_assert_uint_eq(hak_bigcache_bound(), 4 * MiB);
    hak_decay_run(hak_now_ms());
    ck_assert_uint_eq(hak_bigcache_held(), 0);
    ck_assert_uint_eq(LOAD(bc_decayed), N);
    for (int i = 0; i < N; i++)
        ck_assert(!registered(p[i]));
    /* Blocks freed now are bounded by HAKMEM_BIGCACHE_MAX again. */
    for (int i = 0; i < 4; i++)
        p[i] = hak_malloc(1536 * KiB);
    for (int i = 0; i < 4; i++)
        hak_free(p[i]);
    ck_assert_uint_le(hak_bigcache_held(), 6 * MiB);
    ck_assert_uint_ge(hak_bigcache_bound(), 4 * MiB);
}
END_TEST

/* A program that replaces its live blocks by others of new sizes never
 * falls below its peak for long: the bound is also a share of what is
 * live, so that what it frees is there for the next request. */
START_TEST(test_bound_includes_a_share_of_the_live_blocks)
{
    setenv("HAKMEM_BIGCACHE_MAX", "4M", 1);
    setenv("HAKMEM_BIGCACHE_LIVE", "50", 1);
    bc_init();
    enum { N = 16 };
    char *p[N];
    for (int i = 0; i < N; i++)
        p[i] = hak_malloc(2 * MiB);
    ck_assert_uint_eq(hak_bigcache_bound(), N * MiB);
    hak_free(p[0]);
    ck_assert_uint_eq(hak_bigcache_bound(), (N - 1) * MiB);  /* half of the rest: more than was freed */
    for (int i = 1; i < N; i++)
        hak_free(p[i]);
}
END_TEST

/* The first block freed in a period is kept: the peak its allocation
 * noted counts for that period, whenever the period's first look at the
 * bound comes. */
START_TEST(test_block_freed_after_a_new_peak_is_kept)
{
    setenv("HAKMEM_BIGCACHE_MAX", "4M", 1);
    setenv("HAKMEM_BIGCACHE_LIVE", "0", 1);
    setenv("HAKMEM_DECAY_MS", "100", 1);
    bc_init();
    usleep(150 * 1000);
    char *p = hak_malloc(32 * MiB);
    hak_free(p);
    ck_assert_uint_eq(LOAD(bc_rejects), 0);
    ck_assert_uint_ge(hak_bigcache_held(), 32 * MiB);
    ck_assert_ptr_eq(hak_malloc(32 * MiB), p);
    hak_free(p);
}
END_TEST

START_TEST(test_cached_blocks_decay_and_are_released)
{
    setenv("HAKMEM_DECAY_MS", "50", 1);
    bc_init();
    char *p = hak_malloc(1 * MiB);
    hak_free(p);
    ck_assert_uint_gt(hak_bigcache_held(), 0);
    hak_decay_run(hak_now_ms());                      /* too young */
    ck_assert_uint_gt(hak_bigcache_held(), 0);
    usleep(120 * 1000);
    hak_decay_run(hak_now_ms());
    ck_assert_uint_eq(hak_bigcache_held(), 0);
    ck_assert_uint_eq(LOAD(bc_decayed), 1);
    ck_assert_uint_eq(hak_registry[(uintptr_t)p >> HAK_SS_SHIFT], 0);
}
END_TEST

START_TEST(test_decay_thread_releases_while_program_is_idle)
{
    setenv("HAKMEM_DECAY_MS", "50", 1);
    setenv("HAKMEM_DECAY_THREAD", "1", 1);
    setenv("HAKMEM_BATCH_BYTES", "64K", 1);          /* enough at stake for a thread */
    bc_init();
    char *p = hak_malloc(1 * MiB);
    hak_free(p);
    /* cached: counted as a put, since the thread, which the free may have
     * started, can have released it already (50 ms pass quickly on a
     * loaded machine or under a sanitizer) */
    ck_assert_uint_eq(LOAD(bc_puts), 1);
    /* no allocator call from here on */
    for (int i = 0; i < 100 && hak_bigcache_held() > 0; i++)
        usleep(10 * 1000);
    ck_assert_uint_eq(hak_bigcache_held(), 0);
    ck_assert_uint_eq(LOAD(bc_decayed), 1);
}
END_TEST

START_TEST(test_calloc_of_recycled_block_is_zero)
{
    bc_init();
    size_t n = 700 * KiB;
    unsigned char *p = hak_malloc(n);
    memset(p, 0xab, hak_malloc_usable_size(p));
    hak_free(p);
    unsigned char *q = hak_calloc(1, n);
    ck_assert_ptr_eq(q, p);
    for (size_t i = 0; i < n; i++)
        if (q[i] != 0)
            ck_abort_msg("byte %zu of a recycled calloc block is %#x", i, q[i]);
    hak_free(q);
}
END_TEST

START_TEST(test_calloc_of_block_regrown_in_place_is_zero)
{
    bc_init();
    size_t n = 1900 * KiB;
    unsigned char *p = hak_malloc(n);
    p = hak_realloc(p, 300 * KiB);                  /* shrinks in place */
    p = hak_realloc(p, n);                          /* and grows back */
    memset(p, 0xcd, n);
    hak_free(p);
    unsigned char *q = hak_calloc(1, n);
    ck_assert_ptr_eq(q, p);
    for (size_t i = 0; i < n; i += 512)
        if (q[i] != 0)
            ck_abort_msg("byte %zu of a recycled calloc block is %#x", i, q[i]);
    hak_free(q);
}
END_TEST

START_TEST(test_fresh_calloc_block_is_zero)
{
    bc_init();
    unsigned char *q = hak_calloc(3, 1 * MiB);
    for (size_t i = 0; i < 3 * MiB; i += 512)
        ck_assert_uint_eq(q[i], 0);
    hak_free(q);
}
END_TEST

START_TEST(test_second_free_of_cached_block_aborts)
{
    bc_init();
    void *p = hak_malloc(1 * MiB);
    hak_free(p);
    hak_free(p);
}
END_TEST

START_TEST(test_blocks_at_release_threshold_are_not_kept)
{
    setenv("HAKMEM_LARGE_RELEASE", "1M", 1);
    bc_init();
    char *small = hak_malloc(700 * KiB), *big = hak_malloc(1 * MiB);
    hak_free(small);
    hak_free(big);
    ck_assert(!registered(big));
    ck_assert_uint_eq(LOAD(bc_rejects), 1);
    ck_assert_uint_eq(hak_bigcache_held(), hak_large_capacity(700 * KiB));
}
END_TEST

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += 4096)
        p[i] = (unsigned char)(seed + i / 4096);
}

static void check(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += 4096)
        ck_assert_uint_eq(p[i], (unsigned char)(seed + i / 4096));
}

START_TEST(test_realloc_grows_in_place_within_its_mapping)
{
    bc_init();
    unsigned char *p = hak_malloc(300 * KiB);
    fill(p, 300 * KiB, 7);
    unsigned char *q = hak_realloc(p, 1900 * KiB);
    ck_assert_ptr_eq(q, p);
    check(q, 300 * KiB, 7);
    ck_assert_uint_ge(hak_malloc_usable_size(q), 1900 * KiB);
    memset(q, 1, 1900 * KiB);
    hak_free(q);
}
END_TEST

START_TEST(test_realloc_shrinks_in_place_and_regrows)
{
    bc_init();
    unsigned char *p = hak_malloc(1900 * KiB);
    fill(p, 1900 * KiB, 3);
    unsigned char *q = hak_realloc(p, 300 * KiB);
    ck_assert_ptr_eq(q, p);
    ck_assert_uint_lt(hak_malloc_usable_size(q), 1900 * KiB);
    check(q, 300 * KiB, 3);
    hak_batch_flush();                      /* the tail is given back */
    q = hak_realloc(q, 1900 * KiB);
    ck_assert_ptr_eq(q, p);
    check(q, 300 * KiB, 3);
    memset(q + 300 * KiB, 2, 1600 * KiB);
    hak_free(q);
}
END_TEST

START_TEST(test_realloc_past_its_mapping_keeps_contents_without_copy)
{
    bc_init();
    size_t n = 4 * MiB;                 /* whole windows: one VMA, mremap can move it */
    unsigned char *p = hak_malloc(n);
    fill(p, n, 11);
    uint64_t moves = LOAD(large_mremaps);
    unsigned char *q = hak_realloc(p, 64 * MiB);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq((uintptr_t)q % HAK_SS_SIZE, 0);
    ck_assert_uint_eq(LOAD(large_mremaps), moves + 1);
    check(q, n, 11);
    ck_assert(registered(q));
    if (q != p)
        ck_assert(!registered(p));
    memset(q + n, 5, 64 * MiB - n);
    hak_free(q);
}
END_TEST

START_TEST(test_realloc_shrunk_then_moved_keeps_contents)
{
    bc_init();
    unsigned char *p = hak_malloc(1900 * KiB);
    p = hak_realloc(p, 400 * KiB);                  /* its tail is queued for decommit */
    ck_assert_uint_gt(hak_batch_pending(), 0);
    unsigned char *q = hak_realloc(p, 8 * MiB);     /* past the mapping: mremap */
    ck_assert_uint_eq(hak_batch_pending(), 0);      /* nothing queued for the old place */
    memset(q, 0x5a, 8 * MiB);
    hak_batch_flush();                              /* must not hit the moved block */
    for (size_t i = 0; i < 8 * MiB; i += 4096)
        if (q[i] != 0x5a)
            ck_abort_msg("byte %zu of a live block changed to %#x", i, q[i]);
    hak_free(q);
}
END_TEST

START_TEST(test_realloc_past_its_mapping_keeps_contents_of_any_block)
{
    bc_init();
    for (size_t n = 300 * 1024; n < 40 * MiB; n = n * 3 - 4096) {
        unsigned char *p = hak_malloc(n);
        fill(p, n, (unsigned)n);
        unsigned char *q = hak_realloc(p, n * 3);
        ck_assert_ptr_nonnull(q);
        check(q, n, (unsigned)n);
        ck_assert(registered(q));
        memset(q, 1, n * 3);
        hak_free(q);
    }
}
END_TEST

START_TEST(test_aligned_request_reuses_cached_block)
{
    bc_init();
    void *p = hak_malloc(1 * MiB);
    hak_free(p);
    void *q = NULL;
    ck_assert_int_eq(hak_posix_memalign(&q, 1 * MiB, 1 * MiB), 0);
    ck_assert_ptr_eq(q, p);
    hak_free(q);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("bigcache");
    TCase *tc = tcase_create("cache");
    UNIT_TEST(tc, test_freed_block_serves_next_allocation_of_its_class);
    UNIT_TEST(tc, test_thread_last_freed_block_serves_any_request_that_fits_its_mapping);
    UNIT_TEST(tc, test_thread_last_freed_block_is_not_taken_four_times_too_big);
    UNIT_TEST(tc, test_request_beyond_the_mapping_misses_its_slot);
    UNIT_TEST(tc, test_calloc_of_grown_block_is_zero_after_a_queued_shrink);
    UNIT_TEST(tc, test_empty_class_takes_a_block_at_most_two_classes_up);
    UNIT_TEST(tc, test_hit_prefers_block_allocated_by_same_site);
    UNIT_TEST(tc, test_hit_prefers_a_block_whose_pages_cover_the_request);
    UNIT_TEST(tc, test_held_bytes_are_bounded_oldest_evicted_first);
    UNIT_TEST(tc, test_bound_follows_the_peak_of_live_blocks_and_comes_back_down);
    UNIT_TEST(tc, test_bound_includes_a_share_of_the_live_blocks);
    UNIT_TEST(tc, test_block_freed_after_a_new_peak_is_kept);
    UNIT_TEST(tc, test_cached_blocks_decay_and_are_released);
    UNIT_TEST(tc, test_decay_thread_releases_while_program_is_idle);
    UNIT_TEST(tc, test_calloc_of_recycled_block_is_zero);
    UNIT_TEST(tc, test_calloc_of_block_regrown_in_place_is_zero);
    UNIT_TEST(tc, test_fresh_calloc_block_is_zero);
    UNIT_TEST(tc, test_blocks_at_release_threshold_are_not_kept);
    UNIT_TEST(tc, test_aligned_request_reuses_cached_block);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("miss");
    UNIT_TEST(tf, test_miss_grows_a_smaller_block_within_its_mapping);
    UNIT_TEST(tf, test_miss_with_nothing_usable_maps_anew);
    UNIT_TEST(tf, test_miss_finds_the_block_of_an_exited_thread);
    UNIT_TEST(tf, test_miss_splits_a_bigger_block);
    UNIT_TEST(tf, test_miss_beyond_the_mappings_grows_a_block_by_mremap);
    UNIT_TEST(tf, test_miss_does_not_take_a_block_twice_too_big);
    UNIT_TEST(tf, test_calloc_of_resized_blocks_is_zero);
    UNIT_TEST(tf, test_aligned_miss_gets_an_aligned_block);
    suite_add_tcase(s, tf);
    TCase *tr = tcase_create("realloc");
    UNIT_TEST(tr, test_realloc_grows_in_place_within_its_mapping);
    UNIT_TEST(tr, test_realloc_shrinks_in_place_and_regrows);
    UNIT_TEST(tr, test_realloc_past_its_mapping_keeps_contents_without_copy);
    UNIT_TEST(tr, test_realloc_past_its_mapping_keeps_contents_of_any_block);
    UNIT_TEST(tr, test_realloc_shrunk_then_moved_keeps_contents);
    suite_add_tcase(s, tr);
    TCase *tm = tcase_create("misuse");
    tcase_add_test_raise_signal(tm, test_second_free_of_cached_block_aborts, SIGABRT);
    suite_add_tcase(s, tm);
    return s;
}
UNIT_MAIN(suite)
