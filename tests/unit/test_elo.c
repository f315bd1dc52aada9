/* ELO strategy selection: the rating formula, the arms' thresholds, epochs
 * of real large operations, and convergence of the tournament to the best
 * arm of a synthetic cost function. */
#include "unit.h"
#include <math.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

START_TEST(test_expected_score_follows_the_elo_formula)
{
    ck_assert_double_eq_tol(hak_elo_expected(1500, 1500), 0.5, 1e-12);
    ck_assert_double_eq_tol(hak_elo_expected(1900, 1500), 1 / (1 + pow(10, -1)), 1e-12);
    ck_assert_double_eq_tol(hak_elo_expected(1500, 1900) + hak_elo_expected(1900, 1500), 1.0, 1e-12);
}
END_TEST

START_TEST(test_win_between_equals_moves_each_rating_by_half_k)
{
    double a = 1500, b = 1500;
    hak_elo_update(&a, &b, 1.0, 32);
    ck_assert_double_eq_tol(a, 1516, 1e-9);
    ck_assert_double_eq_tol(b, 1484, 1e-9);
}
END_TEST

START_TEST(test_upset_moves_ratings_more_than_expected_result)
{
    double fav = 1700, dog = 1500, fav2 = 1700, dog2 = 1500;
    hak_elo_update(&dog, &fav, 1.0, 32);            /* the underdog wins */
    hak_elo_update(&fav2, &dog2, 1.0, 32);          /* the favourite wins */
    ck_assert_double_gt(dog - 1500, fav2 - 1700);    /* 24.3 against 7.7 */
    ck_assert_double_eq_tol(dog + fav, 3200, 1e-9);  /* rating is conserved */
}
END_TEST

START_TEST(test_draw_between_equals_changes_nothing)
{
    double a = 1500, b = 1500;
    hak_elo_update(&a, &b, 0.5, 32);
    ck_assert_double_eq_tol(a, 1500, 1e-12);
    ck_assert_double_eq_tol(b, 1500, 1e-12);
}
END_TEST

START_TEST(test_twelve_thresholds_on_a_geometric_scale_512k_to_32m)
{
    ck_assert_uint_eq(hak_elo_arm_threshold(0), 512 * 1024);
    ck_assert_uint_eq(hak_elo_arm_threshold(HAK_ELO_ARMS - 1), 32 * MiB);
    for (unsigned i = 1; i < HAK_ELO_ARMS; i++) {
        double r = (double)hak_elo_arm_threshold(i) / hak_elo_arm_threshold(i - 1);
        ck_assert_double_eq_tol(r, pow(64, 1.0 / 11), 0.01);
    }
}
END_TEST

START_TEST(test_elo_is_off_by_default_keeping_every_block)
{
    unit_init();
    ck_assert(!hak_opt.elo);
    ck_assert_uint_eq(atomic_load(&hak_elo_threshold), 64 * GiB);
}
END_TEST

START_TEST(test_elo_off_fixes_the_threshold)
{
    setenv("HAKMEM_ELO", "0", 1);
    setenv("HAKMEM_LARGE_RELEASE", "8M", 1);
    unit_init();
    ck_assert_uint_eq(atomic_load(&hak_elo_threshold), 8 * MiB);
}
END_TEST

START_TEST(test_epoch_ends_after_configured_large_operations)
{
    setenv("HAKMEM_ELO", "1", 1);
    setenv("HAKMEM_ELO_EPOCH", "16", 1);
    setenv("HAKMEM_DECAY_THREAD", "0", 1);
    unit_init();
    hak_elo_arm_t arms[HAK_ELO_ARMS];
    uint64_t epochs;
    hak_elo_snapshot(arms, &epochs);
    ck_assert_uint_eq(epochs, 0);
    /* 300 KiB blocks are kept by every arm: no arm differs from the
     * leader, so nothing is explored and every epoch is the leader's. */
    for (int i = 0; i < 2; i++)                     /* 4 operations */
        hak_free(hak_malloc(300 * KiB));
    hak_elo_snapshot(arms, &epochs);
    ck_assert_uint_eq(epochs, 1);                   /* the first epoch: a quarter */
    ck_assert_uint_eq(arms[HAK_ELO_ARMS - 1].epochs, 1);   /* the initial leader */
    for (int i = 0; i < 2; i++)
        hak_free(hak_malloc(300 * KiB));
    hak_elo_snapshot(arms, &epochs);
    ck_assert_uint_eq(epochs, 2);                   /* the second: a quarter */
    for (int i = 0; i < 7; i++)                     /* 14 operations */
        hak_free(hak_malloc(300 * KiB));
    hak_elo_snapshot(arms, &epochs);
    ck_assert_uint_eq(epochs, 2);
    hak_free(hak_malloc(300 * KiB));                /* the 16th */
    hak_elo_snapshot(arms, &epochs);
    ck_assert_uint_eq(epochs, 3);
}
END_TEST

START_TEST(test_arms_that_decide_alike_share_an_epoch_result)
{
    setenv("HAKMEM_ELO", "1", 1);
    setenv("HAKMEM_DECAY_THREAD", "0", 1);
    unit_init();
    unsigned a = hak_elo_current();                 /* the initial leader, arm 11 */
    ck_assert_uint_eq(a, HAK_ELO_ARMS - 1);
    hak_elo_score_epoch(5000, (uint32_t)1 << 6);    /* the first epoch is not scored */
    /* the epoch's blocks were all kept by arms 6.. and released below */
    hak_elo_score_epoch(1000, (uint32_t)1 << 6);
    hak_elo_arm_t arms[HAK_ELO_ARMS];
    uint64_t epochs;
    hak_elo_snapshot(arms, &epochs);
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++)
        ck_assert_uint_eq(arms[i].samples, i >= 6);
    ck_assert_uint_eq(arms[a].epochs, 2);
    ck_assert_uint_eq(arms[6].epochs, 0);
    ck_assert_double_eq_tol(arms[6].cost, 1000, 1e-9);
}
END_TEST

/* A cost surface with one best arm and costs up to 100 times higher. */
static double synthetic_cost(unsigned arm, unsigned best, uint64_t *rng)
{
    *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
    double noise = 1 + 0.1 * ((double)(*rng >> 11) / 9007199254740992.0 - 0.5);
    unsigned d = arm > best ? arm - best : best - arm;
    return 1000.0 * (1 + d * d * 3) * noise;
}

static void converges_to(unsigned best)
{
    setenv("HAKMEM_ELO", "1", 1);
    setenv("HAKMEM_DECAY_THREAD", "0", 1);
    unit_init();
    uint64_t rng = 12345;
    unsigned at_best = 0, n = 3000, tail = 1000;
    for (unsigned e = 0; e < n; e++) {
        unsigned a = hak_elo_current();
        if (e >= n - tail && a == best)
            at_best++;
        hak_elo_score_epoch(synthetic_cost(a, best, &rng), ~(uint32_t)0);   /* all arms differ */
    }
    hak_elo_arm_t arms[HAK_ELO_ARMS];
    uint64_t epochs;
    ck_assert_uint_eq(hak_elo_snapshot(arms, &epochs), best);
    ck_assert_uint_eq(epochs, n);
    /* exploitation 90 %, and exploration mostly near the best arm */
    ck_assert_uint_ge(at_best, tail * 85 / 100);
}

START_TEST(test_tournament_converges_to_best_arm_in_the_middle) { converges_to(5); }
END_TEST
START_TEST(test_tournament_converges_to_best_arm_far_from_the_start) { converges_to(0); }
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("elo");
    TCase *tc = tcase_create("rating");
    UNIT_TEST(tc, test_expected_score_follows_the_elo_formula);
    UNIT_TEST(tc, test_win_between_equals_moves_each_rating_by_half_k);
    UNIT_TEST(tc, test_upset_moves_ratings_more_than_expected_result);
    UNIT_TEST(tc, test_draw_between_equals_changes_nothing);
    UNIT_TEST(tc, test_twelve_thresholds_on_a_geometric_scale_512k_to_32m);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("tournament");
    UNIT_TEST(tt, test_elo_is_off_by_default_keeping_every_block);
    UNIT_TEST(tt, test_elo_off_fixes_the_threshold);
    UNIT_TEST(tt, test_epoch_ends_after_configured_large_operations);
    UNIT_TEST(tt, test_arms_that_decide_alike_share_an_epoch_result);
    UNIT_TEST(tt, test_tournament_converges_to_best_arm_in_the_middle);
    UNIT_TEST(tt, test_tournament_converges_to_best_arm_far_from_the_start);
    suite_add_tcase(s, tt);
    return s;
}
UNIT_MAIN(suite)
