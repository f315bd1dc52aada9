# tests/local.mk — black-box tests, included by the top-level Makefile.am.
#
#   tests/test_api          Check suite "api": standard semantics and misuse
#                           of the hak_* API (links libhakmem)
#   tests/test_threads      Check suite "threads": cross-thread free, Larson
#                           thread churn with bounded RSS, fork (libhakmem)
#   tests/interposer.sh     exported symbols of both libraries, then
#                           tests/test_interposer (Check suite "interposer",
#                           NOT linked with hakmem) under LD_PRELOAD
#   tests/programs.sh       python3, sqlite3, perl, gcc, git under LD_PRELOAD,
#                           output compared with glibc's run
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
endif

TESTS += tests/interposer.sh tests/programs.sh
EXTRA_DIST += tests/interposer.sh tests/programs.sh

# `man hakmem` shows the tuning text of hakmem(7) (tests/man.sh).
TESTS += tests/man.sh
EXTRA_DIST += tests/man.sh

# The release number agrees everywhere it is written (tests/version.sh).
TESTS += tests/version.sh
EXTRA_DIST += tests/version.sh
