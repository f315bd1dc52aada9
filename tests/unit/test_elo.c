/* ELO strategy selection: the rating formula, the arms' thresholds, epochs
 * of real large operations, and the tournament's choice on traces whose
 * best arm is known, every arm scored on what it would have done. */
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

START_TEST(test_thirteen_arms_double_from_512k_to_1g_then_keep_all)
{
    ck_assert_uint_eq(hak_elo_arm_threshold(0), 512 * KiB);
    ck_assert_uint_eq(hak_elo_arm_threshold(HAK_ELO_ARMS - 2), 1 * GiB);
    for (unsigned i = 1; i + 1 < HAK_ELO_ARMS; i++)
        ck_assert_uint_eq(hak_elo_arm_threshold(i), 2 * hak_elo_arm_threshold(i - 1));
    ck_assert_uint_eq(hak_elo_arm_threshold(HAK_ELO_ARMS - 1), 64 * GiB);
}
END_TEST

START_TEST(test_elo_is_on_by_default_and_starts_keeping_every_block)
{
    unit_init();
    ck_assert(hak_opt.elo);
    ck_assert_uint_eq(atomic_load(&hak_elo_threshold), 64 * GiB);
}
END_TEST

START_TEST(test_elo_off_keeps_every_block_by_default)
{
    setenv("HAKMEM_ELO", "0", 1);
    unit_init();
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

/* Prices fixed by option, so that the model's costs are known. */
static void priced_init(const char *hold_ns)
{
    setenv("HAKMEM_DECAY_THREAD", "0", 1);
    setenv("HAKMEM_ELO_FAULT_NS", "1000", 1);
    setenv("HAKMEM_ELO_CALL_NS", "1000", 1);
    setenv("HAKMEM_ELO_HOLD_NS", hold_ns, 1);
    setenv("HAKMEM_ELO_EPOCH", "16", 1);
    unit_init();
}

static uint64_t epochs_now(hak_elo_arm_t arms[HAK_ELO_ARMS])
{
    uint64_t epochs;
    hak_elo_snapshot(arms, &epochs, NULL);
    return epochs;
}

START_TEST(test_epoch_ends_after_configured_large_operations)
{
    priced_init("1000000");
    hak_elo_arm_t arms[HAK_ELO_ARMS];
    ck_assert_uint_eq(epochs_now(arms), 0);
    for (int i = 0; i < 7; i++)                     /* 14 operations */
        hak_free(hak_malloc(300 * KiB));
    ck_assert_uint_eq(epochs_now(arms), 0);
    hak_free(hak_malloc(300 * KiB));                /* the 16th */
    ck_assert_uint_eq(epochs_now(arms), 1);
}
END_TEST

/* No arm has to run to be judged: after each epoch every arm has a cost
 * and has played every other. */
START_TEST(test_every_arm_is_scored_every_epoch)
{
    priced_init("1000000");
    uint64_t t = 1000000000;
    hak_elo_lock();
    for (int i = 0; i < 32; i++) {                  /* two epochs */
        hak_elo_event_alloc(8 * MiB, t += 1000);
        hak_elo_event_free(8 * MiB, 64 * MiB, t += 1000);
    }
    hak_elo_unlock();
    hak_elo_arm_t arms[HAK_ELO_ARMS];
    ck_assert_uint_eq(epochs_now(arms), 4);
    for (unsigned i = 0; i < HAK_ELO_ARMS; i++) {
        ck_assert_uint_eq(arms[i].samples, 4);
        ck_assert_uint_gt(arms[i].wins + arms[i].losses, 0);
    }
}
END_TEST

/* A program that frees a 16 MiB block and allocates another right after:
 * the arms that release it pay a refault for every block, the others hold
 * it for a few microseconds.  The leader keeps it. */
START_TEST(test_reuse_makes_an_arm_that_keeps_the_block_lead)
{
    priced_init("1000000");
    uint64_t t = 1000000000;
    hak_elo_lock();
    for (int i = 0; i < 200; i++) {
        hak_elo_event_alloc(16 * MiB, t += 20000);
        hak_elo_event_free(16 * MiB, 64 * MiB, t += 2000);
    }
    hak_elo_unlock();
    hak_elo_arm_t arms[HAK_ELO_ARMS];
    epochs_now(arms);
    ck_assert_uint_gt(atomic_load(&hak_elo_threshold), 16 * MiB);
    ck_assert_double_lt(arms[HAK_ELO_ARMS - 1].cost * 100, arms[0].cost);
}
END_TEST

/* Bursts of 24 blocks of 2 MiB, then 100 ms without a large operation:
 * at a high price for memory held, giving the blocks back wins. */
START_TEST(test_idle_gaps_at_a_high_hold_price_make_a_releasing_arm_lead)
{
    priced_init("100000000");                       /* 100 ms per MiB.s */
    uint64_t t = 1000000000;
    hak_elo_lock();
    for (int cycle = 0; cycle < 10; cycle++) {
        for (int i = 0; i < 24; i++)
            hak_elo_event_alloc(2 * MiB, t += 10000);
        for (int i = 0; i < 24; i++)
            hak_elo_event_free(2 * MiB, 64 * MiB, t += 10000);
        t += 100000000;
    }
    hak_elo_unlock();
    ck_assert_uint_le(atomic_load(&hak_elo_threshold), 2 * MiB);
}
END_TEST

/* Blocks freed and allocated again after gaps longer than the decay time:
 * the decay gives every arm's blocks back, so keeping costs what
 * releasing costs (once the first epoch, whose last block no decay has
 * yet given back, has faded from the smoothed costs). */
START_TEST(test_gaps_past_the_decay_time_make_keeping_cost_what_releasing_does)
{
    setenv("HAKMEM_DECAY_MS", "50", 1);
    priced_init("0");
    uint64_t t = 1000000000;
    hak_elo_lock();
    for (int cycle = 0; cycle < 400; cycle++) {
        hak_elo_event_alloc(2 * MiB, t += 10000);
        hak_elo_event_free(2 * MiB, 64 * MiB, t += 10000);
        t += 60000000;                              /* 60 ms: past the decay */
    }
    hak_elo_unlock();
    hak_elo_arm_t arms[HAK_ELO_ARMS];
    epochs_now(arms);
    for (unsigned i = 1; i < HAK_ELO_ARMS; i++)
        ck_assert_double_eq_tol(arms[i].cost, arms[0].cost, arms[0].cost * 0.01);
}
END_TEST

/* BigCache's bound caps what any arm can keep: with a bound below the
 * block, keeping it is no better than releasing it. */
START_TEST(test_the_bound_caps_what_every_arm_keeps)
{
    priced_init("0");
    uint64_t t = 1000000000;
    hak_elo_lock();
    for (int i = 0; i < 64; i++) {
        hak_elo_event_alloc(32 * MiB, t += 1000);
        hak_elo_event_free(32 * MiB, 16 * MiB, t += 1000);
    }
    hak_elo_unlock();
    hak_elo_arm_t arms[HAK_ELO_ARMS];
    epochs_now(arms);
    /* Keeping arms hold 16 MiB of each block: half the refault, and a
     * page given back only for the rest. */
    ck_assert_double_lt(arms[HAK_ELO_ARMS - 1].cost, arms[0].cost);
    ck_assert_double_gt(arms[HAK_ELO_ARMS - 1].cost, arms[0].cost / 3);
}
END_TEST

/* Real large operations are scored too, and the model's prediction of
 * the running arm is measured against what it really did. */
START_TEST(test_real_operations_are_predicted_and_measured)
{
    priced_init("1000000");
    for (int i = 0; i < 64; i++) {
        char *p = hak_malloc(4 * MiB);
        memset(p, 1, 4 * MiB);
        hak_free(p);
    }
    hak_elo_arm_t arms[HAK_ELO_ARMS];
    uint64_t epochs;
    hak_elo_check_t chk;
    hak_elo_snapshot(arms, &epochs, &chk);
    ck_assert_uint_eq(epochs, 8);
    ck_assert_double_gt(chk.predicted_sum, 0);
    ck_assert_double_gt(chk.measured_sum, 0);
    /* One fresh block, then hits: the model and the real cache agree
     * within a factor of two. */
    ck_assert_double_lt(chk.predicted_sum, 2 * chk.measured_sum);
    ck_assert_double_lt(chk.measured_sum, 2 * chk.predicted_sum);
    ck_assert_uint_gt(atomic_load(&hak_elo_threshold), 4 * MiB);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("elo");
    TCase *tc = tcase_create("rating");
    UNIT_TEST(tc, test_expected_score_follows_the_elo_formula);
    UNIT_TEST(tc, test_win_between_equals_moves_each_rating_by_half_k);
    UNIT_TEST(tc, test_upset_moves_ratings_more_than_expected_result);
    UNIT_TEST(tc, test_draw_between_equals_changes_nothing);
    UNIT_TEST(tc, test_thirteen_arms_double_from_512k_to_1g_then_keep_all);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("tournament");
    UNIT_TEST(tt, test_elo_is_on_by_default_and_starts_keeping_every_block);
    UNIT_TEST(tt, test_elo_off_keeps_every_block_by_default);
    UNIT_TEST(tt, test_elo_off_fixes_the_threshold);
    UNIT_TEST(tt, test_epoch_ends_after_configured_large_operations);
    UNIT_TEST(tt, test_every_arm_is_scored_every_epoch);
    UNIT_TEST(tt, test_reuse_makes_an_arm_that_keeps_the_block_lead);
    UNIT_TEST(tt, test_idle_gaps_at_a_high_hold_price_make_a_releasing_arm_lead);
    UNIT_TEST(tt, test_gaps_past_the_decay_time_make_keeping_cost_what_releasing_does);
    UNIT_TEST(tt, test_the_bound_caps_what_every_arm_keeps);
    UNIT_TEST(tt, test_real_operations_are_predicted_and_measured);
    suite_add_tcase(s, tt);
    return s;
}
UNIT_MAIN(suite)
