# White-box suites, one per module, linked statically against the
# allocator's internals.  Each runs with SuperSlabs; tests/unit/standalone.sh
# runs most of them (its list) again with standalone slabs
# (UNIT_STANDALONE=1, which unit.h turns into HAKMEM_TINY_USE_SUPERSLAB=0).
if HAVE_CHECK
unit_suites = tests/unit/test_sizeclass tests/unit/test_superslab \
	tests/unit/test_tiny tests/unit/test_mid tests/unit/test_large \
	tests/unit/test_bigcache tests/unit/test_batch tests/unit/test_elo \
	tests/unit/test_options tests/unit/test_stats
check_PROGRAMS += $(unit_suites)
unit_cflags = $(AM_CFLAGS) -pthread $(CHECK_CFLAGS)
unit_ldadd = lib/libhakmem-internal.la $(CHECK_LIBS) $(PTHREAD_LIBS)
tests_unit_test_sizeclass_SOURCES = tests/unit/test_sizeclass.c tests/unit/unit.h
tests_unit_test_sizeclass_CFLAGS = $(unit_cflags)
tests_unit_test_sizeclass_LDADD = $(unit_ldadd)
tests_unit_test_superslab_SOURCES = tests/unit/test_superslab.c tests/unit/unit.h
tests_unit_test_superslab_CFLAGS = $(unit_cflags)
tests_unit_test_superslab_LDADD = $(unit_ldadd)
tests_unit_test_tiny_SOURCES = tests/unit/test_tiny.c tests/unit/unit.h
tests_unit_test_tiny_CFLAGS = $(unit_cflags)
tests_unit_test_tiny_LDADD = $(unit_ldadd)
tests_unit_test_mid_SOURCES = tests/unit/test_mid.c tests/unit/unit.h
tests_unit_test_mid_CFLAGS = $(unit_cflags)
tests_unit_test_mid_LDADD = $(unit_ldadd)
tests_unit_test_large_SOURCES = tests/unit/test_large.c tests/unit/unit.h
tests_unit_test_large_CFLAGS = $(unit_cflags)
tests_unit_test_large_LDADD = $(unit_ldadd)
tests_unit_test_bigcache_SOURCES = tests/unit/test_bigcache.c tests/unit/unit.h
tests_unit_test_bigcache_CFLAGS = $(unit_cflags)
tests_unit_test_bigcache_LDADD = $(unit_ldadd)
tests_unit_test_batch_SOURCES = tests/unit/test_batch.c tests/unit/unit.h
tests_unit_test_batch_CFLAGS = $(unit_cflags)
tests_unit_test_batch_LDADD = $(unit_ldadd)
tests_unit_test_elo_SOURCES = tests/unit/test_elo.c tests/unit/unit.h
tests_unit_test_elo_CFLAGS = $(unit_cflags)
tests_unit_test_elo_LDADD = $(unit_ldadd) -lm
tests_unit_test_options_SOURCES = tests/unit/test_options.c tests/unit/unit.h
tests_unit_test_options_CFLAGS = $(unit_cflags)
tests_unit_test_options_LDADD = $(unit_ldadd)
tests_unit_test_stats_SOURCES = tests/unit/test_stats.c tests/unit/unit.h
tests_unit_test_stats_CFLAGS = $(unit_cflags)
tests_unit_test_stats_LDADD = $(unit_ldadd)
# Only a build with the counters has them to check.
if DEBUG_COUNTERS
unit_suites += tests/unit/test_counters
endif
tests_unit_test_counters_SOURCES = tests/unit/test_counters.c tests/unit/unit.h
tests_unit_test_counters_CFLAGS = $(unit_cflags)
tests_unit_test_counters_LDADD = $(unit_ldadd)
TESTS += $(unit_suites) tests/unit/standalone.sh
EXTRA_DIST += tests/unit/standalone.sh
endif
