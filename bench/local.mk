# bench/local.mk — the benchmark suite, included by the top-level
# Makefile.am.  The programs call plain malloc/free and never link hakmem:
# the allocator under test is injected at run time with LD_PRELOAD, so the
# same binaries measure glibc, tcmalloc, jemalloc, mimalloc and hakmem.

bench_programs = bench/larson bench/scenarios bench/random_mixed bench/prodcons \
	bench/memreturn bench/elo_workloads bench/instr \
	bench/handoff bench/thread_churn bench/mstress bench/exchange bench/larson_sized \
	bench/large_loop bench/live_blocks
noinst_PROGRAMS += $(bench_programs)
bench_cflags = $(AM_CFLAGS) $(PTHREAD_CFLAGS)

bench_larson_SOURCES = bench/larson.c bench/bench_util.h
bench_larson_CFLAGS = $(bench_cflags)
bench_larson_LDADD = $(PTHREAD_LIBS)

bench_scenarios_SOURCES = bench/scenarios.c bench/bench_util.h
bench_scenarios_CFLAGS = $(bench_cflags)
bench_scenarios_LDADD = -lm

bench_random_mixed_SOURCES = bench/random_mixed.c bench/bench_util.h
bench_random_mixed_CFLAGS = $(bench_cflags)

bench_prodcons_SOURCES = bench/prodcons.c bench/bench_util.h
bench_prodcons_CFLAGS = $(bench_cflags)
bench_prodcons_LDADD = $(PTHREAD_LIBS)

bench_memreturn_SOURCES = bench/memreturn.c bench/bench_util.h
bench_memreturn_CFLAGS = $(bench_cflags)

bench_elo_workloads_SOURCES = bench/elo_workloads.c bench/bench_util.h
bench_elo_workloads_CFLAGS = $(bench_cflags)

# Shapes of public multi-threaded benchmarks (mimalloc-bench's xmalloc-test,
# a thread-churn test, mstress, rptest), written from their descriptions.
bench_handoff_SOURCES = bench/handoff.c bench/bench_util.h
bench_handoff_CFLAGS = $(bench_cflags)
bench_handoff_LDADD = $(PTHREAD_LIBS)

bench_thread_churn_SOURCES = bench/thread_churn.c bench/bench_util.h
bench_thread_churn_CFLAGS = $(bench_cflags)
bench_thread_churn_LDADD = $(PTHREAD_LIBS)

bench_mstress_SOURCES = bench/mstress.c bench/bench_util.h
bench_mstress_CFLAGS = $(bench_cflags)
bench_mstress_LDADD = $(PTHREAD_LIBS)

bench_exchange_SOURCES = bench/exchange.c bench/bench_util.h
bench_exchange_CFLAGS = $(bench_cflags)
bench_exchange_LDADD = $(PTHREAD_LIBS)

# larson through ::operator new and the sized ::operator delete (C++14).
bench_larson_sized_SOURCES = bench/larson_sized.cc bench/bench_util.h
bench_larson_sized_CXXFLAGS = -std=gnu++17 -Wall -Wextra -Wno-unused-parameter \
	-fsized-deallocation $(PTHREAD_CFLAGS) $(SANITIZER_FLAGS)
bench_larson_sized_LDADD = $(PTHREAD_LIBS)

# Large blocks: one at a time in a loop, and a working set of big buffers
# (C++, value-initialised like std::make_unique<char[]>).
bench_large_loop_SOURCES = bench/large_loop.c bench/bench_util.h
bench_large_loop_CFLAGS = $(bench_cflags)

bench_live_blocks_SOURCES = bench/live_blocks.cc bench/bench_util.h
bench_live_blocks_CXXFLAGS = -std=gnu++17 -Wall -Wextra $(SANITIZER_FLAGS)

# bench/instr.sh counts instructions per malloc+free pair under callgrind.
bench_instr_SOURCES = bench/instr.c bench/bench_util.h
bench_instr_CFLAGS = $(bench_cflags)

# make check only proves each program runs and verifies its patterns, with
# and without the interposer; it never looks at a timing.
TESTS += bench/smoke.sh

EXTRA_DIST += bench/README.md bench/common.sh bench/compare.sh bench/elo.sh \
	bench/larson.sh bench/smoke.sh bench/instr.sh bench/programs.sh \
	bench/scaling.sh

# `make bench BENCH_FLAGS=--quick` for the one-minute version.
BENCH_FLAGS =
bench: all
	bash $(srcdir)/bench/compare.sh --bindir $(abs_builddir)/bench \
		--hakmem $(abs_builddir)/lib/.libs/libhakmem-malloc.so $(BENCH_FLAGS)
.PHONY: bench
