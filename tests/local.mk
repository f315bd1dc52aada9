# tests/local.mk — black-box tests, included by the top-level Makefile.am.
#
#   tests/test_api          Check suite "api": standard semantics and misuse
#                           of the hak_* API (links libhakmem)
#   tests/test_threads      Check suite "threads": cross-thread free, Larson
#                           thread churn with bounded RSS, fork (libhakmem)
#   tests/test_fork         Check suite "fork": a hundred fork()s while other
#                           threads allocate and free hard; children work,
#                           nothing deadlocks, the parent does not grow
#   tests/test_commit       Check suite "commit": commit charge (as strict
#                           overcommit counts it) of a first use of hakmem
#   tests/test_exhaustion   Check suite "exhaustion": RLIMIT_AS and
#                           vm.max_map_count exhausted: NULL/ENOMEM, no
#                           crash, allocation works again afterwards
#   tests/interposer.sh     exported symbols of both libraries, then
#                           tests/test_interposer (Check suite "interposer",
#                           NOT linked with hakmem) under LD_PRELOAD
#   tests/programs.sh       python3, sqlite3, perl, gcc, git under LD_PRELOAD,
#                           output compared with glibc's run
#   tests/memreturn.sh      freed memory goes back to the kernel while the
#                           program is idle (bench/memreturn, /proc/self/statm)
#   tests/options.sh        HAKMEM_* through the launcher: boolean words,
#                           HAKMEM_VERBOSE lists every option, a bad value
#                           warns once, HAKMEM_STATS_FILE with %p
#
# The shell tests find the interposer through $HAK_PRELOAD, else
# $(top_builddir)/lib/.libs/libhakmem-malloc.so.

if HAVE_CHECK
check_PROGRAMS += tests/test_api tests/test_threads tests/test_interposer

tests_test_api_SOURCES = tests/test_api.c tests/rules.h tests/expect.h
tests_test_api_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -fno-builtin
tests_test_api_LDADD = lib/libhakmem.la $(CHECK_LIBS)

tests_test_threads_SOURCES = tests/test_threads.c tests/expect.h
tests_test_threads_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(PTHREAD_CFLAGS)
tests_test_threads_LDADD = lib/libhakmem.la $(CHECK_LIBS) $(PTHREAD_LIBS)

# Deliberately not linked with hakmem: the allocator comes from LD_PRELOAD.
tests_test_interposer_SOURCES = tests/test_interposer.c tests/rules.h tests/expect.h
tests_test_interposer_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(PTHREAD_CFLAGS) -fno-builtin
tests_test_interposer_LDADD = $(CHECK_LIBS) $(PTHREAD_LIBS) -ldl

TESTS += tests/test_api tests/test_threads

# The C++ operators of the interposer, also run by tests/interposer.sh
# under LD_PRELOAD (not linked with hakmem).
check_PROGRAMS += tests/test_cxx
tests_test_cxx_SOURCES = tests/test_cxx.cc tests/expect.h
tests_test_cxx_CXXFLAGS = -std=gnu++17 -fsized-deallocation -Wall -Wextra -Wno-unused-parameter \
	$(CHECK_CFLAGS) $(PTHREAD_CFLAGS) -fno-builtin
tests_test_cxx_LDADD = $(CHECK_LIBS) $(PTHREAD_LIBS) -ldl

check_PROGRAMS += tests/test_fork
tests_test_fork_SOURCES = tests/test_fork.c tests/pattern.h tests/expect.h
tests_test_fork_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(PTHREAD_CFLAGS)
tests_test_fork_LDADD = lib/libhakmem.la $(CHECK_LIBS) $(PTHREAD_LIBS)
TESTS += tests/test_fork

check_PROGRAMS += tests/test_commit tests/test_exhaustion
tests_test_commit_SOURCES = tests/test_commit.c tests/expect.h
tests_test_commit_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_commit_LDADD = lib/libhakmem.la $(CHECK_LIBS)
tests_test_exhaustion_SOURCES = tests/test_exhaustion.c tests/expect.h
tests_test_exhaustion_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -fno-builtin
tests_test_exhaustion_LDADD = lib/libhakmem.la $(CHECK_LIBS)
TESTS += tests/test_commit tests/test_exhaustion
endif

TESTS += tests/interposer.sh tests/programs.sh tests/memreturn.sh tests/options.sh
EXTRA_DIST += tests/interposer.sh tests/programs.sh tests/memreturn.sh tests/options.sh

# A program with a known leak, run under the interposer (never linked
# with hakmem): the statistics must count exactly what it leaked.
check_PROGRAMS += tests/leak
tests_leak_SOURCES = tests/leak.c
tests_leak_LDADD = $(PTHREAD_LIBS)
TESTS += tests/leak.sh
EXTRA_DIST += tests/leak.sh

# The stress test, through the hak_* API (tests/stress.sh) and through
# malloc under the interposer (stress-libc, not linked with hakmem;
# tests/stress-interposer.sh), both in a short setting.
check_PROGRAMS += tests/stress tests/stress-libc
tests_stress_SOURCES = tests/stress.c tests/pattern.h tests/sanitizer.h
tests_stress_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS)
tests_stress_LDADD = lib/libhakmem.la $(PTHREAD_LIBS)
tests_stress_libc_SOURCES = tests/stress.c tests/pattern.h tests/sanitizer.h
tests_stress_libc_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS) -DSTRESS_LIBC -fno-builtin
tests_stress_libc_LDADD = $(PTHREAD_LIBS) -ldl
TESTS += tests/stress.sh tests/stress-interposer.sh
EXTRA_DIST += tests/stress.sh tests/stress-interposer.sh

# `man hakmem` shows the tuning text of hakmem(7) (tests/man.sh).
TESTS += tests/man.sh
EXTRA_DIST += tests/man.sh tests/sanitizer.h tests/preload.sh

# The release number agrees everywhere it is written (tests/version.sh).
TESTS += tests/version.sh
EXTRA_DIST += tests/version.sh
