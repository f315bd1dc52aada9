/* Size classes: every size maps to the smallest class that holds it,
 * classes are 16-byte multiples, waste stays within a quarter. */
#include "unit.h"

START_TEST(test_every_size_gets_smallest_fitting_class)
{
    unit_init();
    size_t wrong = 0;
    for (size_t s = 1; s <= HAK_MID_MAX && !wrong; s++) {
        unsigned c = hak_size_class(s);
        if (c >= HAK_NCLASS || hak_classes[c].bsize < s || (c > 0 && hak_classes[c - 1].bsize >= s))
            wrong = s;
    }
    ck_assert_uint_eq(wrong, 0);
}
END_TEST

START_TEST(test_class_sizes_are_16_byte_multiples_and_increasing)
{
    unit_init();
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        ck_assert_uint_eq(hak_classes[c].bsize % 16, 0);
        if (c > 0)
            ck_assert_uint_gt(hak_classes[c].bsize, hak_classes[c - 1].bsize);
    }
    ck_assert_uint_eq(hak_classes[HAK_NTINY - 1].bsize, HAK_TINY_MAX);
    ck_assert_uint_eq(hak_classes[HAK_NCLASS - 1].bsize, HAK_MID_MAX);
}
END_TEST

/* The free path's block check is one multiply and one compare
 * (hak_span_is_block); it must agree with offset % bsize == 0 and
 * offset / bsize < capacity at every byte of a 2 MiB span, for every
 * class, and with the widest span a class can have. */
START_TEST(test_block_check_agrees_with_division_at_every_offset)
{
    unit_init();
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        hak_span_t s;
        memset(&s, 0, sizeof s);
        for (unsigned nslabs = hak_classes[c].nslabs; nslabs <= HAK_SS_SLABS; nslabs += HAK_SS_SLABS - 1) {
            uintptr_t start = (uintptr_t)1 << 40;
            hak_span_init(&s, c, start, nslabs);
            size_t bytes = (size_t)nslabs << HAK_SLAB_SHIFT, bad = SIZE_MAX;
            uint32_t b = hak_classes[c].bsize;
            for (size_t off = 0; off < bytes && bad == SIZE_MAX; off++) {
                bool want = off % b == 0 && off / b < s.capacity;
                if (hak_span_is_block(&s, start + off) != want)
                    bad = off;
            }
            ck_assert_msg(bad == SIZE_MAX, "class %u (%u B), %u slabs: offset %zu misjudged", c, b, nslabs, bad);
        }
    }
    ck_assert(!hak_span_is_block(&hak_span_none, (uintptr_t)1 << 40));
}
END_TEST

START_TEST(test_waste_above_128_bytes_is_at_most_a_quarter)
{
    unit_init();
    for (unsigned c = 8; c < HAK_NCLASS; c++) {
        uint32_t prev = hak_classes[c - 1].bsize, cur = hak_classes[c].bsize;
        /* worst case: a request of prev+1 bytes gets cur */
        ck_assert_uint_le((uint64_t)(cur - prev - 1) * 100, (uint64_t)(prev + 1) * 25);
    }
}
END_TEST

START_TEST(test_span_holds_several_blocks_and_fits_a_superslab)
{
    unit_init();
    for (unsigned c = 0; c < HAK_NCLASS; c++) {
        const hak_class_t *k = &hak_classes[c];
        ck_assert_uint_ge(k->nslabs, 1);
        ck_assert_uint_le(k->nslabs, HAK_SS_SLABS - 1);
        ck_assert_uint_ge((k->nslabs * HAK_SLAB_SIZE) / k->bsize, 4);
        ck_assert_uint_ge(k->cap, 1);
        ck_assert_uint_ge(k->batch, 1);
        ck_assert_uint_le(k->batch, k->cap);
    }
}
END_TEST

START_TEST(test_aligned_class_has_only_aligned_blocks)
{
    unit_init();
    for (size_t align = 32; align <= HAK_SLAB_SIZE; align *= 2) {
        for (size_t s = 1; s < 5000; s += 97) {
            int c = hak_aligned_class(s, align);
            ck_assert_int_ge(c, 0);
            ck_assert_uint_ge(hak_classes[c].bsize, s);
            ck_assert_uint_eq(hak_classes[c].bsize % align, 0);
        }
    }
    ck_assert_int_eq(hak_aligned_class(64, 2 * HAK_SLAB_SIZE), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sizeclass");
    TCase *tc = tcase_create("classes");
    UNIT_TEST(tc, test_every_size_gets_smallest_fitting_class);
    UNIT_TEST(tc, test_class_sizes_are_16_byte_multiples_and_increasing);
    UNIT_TEST(tc, test_waste_above_128_bytes_is_at_most_a_quarter);
    UNIT_TEST(tc, test_block_check_agrees_with_division_at_every_offset);
    UNIT_TEST(tc, test_span_holds_several_blocks_and_fits_a_superslab);
    UNIT_TEST(tc, test_aligned_class_has_only_aligned_blocks);
    suite_add_tcase(s, tc);
    return s;
}
UNIT_MAIN(suite)
