# tests/fuzz/local.mk — the libFuzzer harness, included by Makefile.am.
#
#   make fuzz                 builds tests/fuzz/fuzz_api with clang and runs
#                             it for $(FUZZ_SECONDS) seconds, starting from
#                             the seed corpus in tests/fuzz/seeds; new inputs
#                             go to tests/fuzz/corpus in the build tree, a
#                             crashing input to tests/fuzz/crash-*
#   make fuzz FUZZ_SECONDS=600 FUZZ_CC=clang-14   a longer run, another clang
#
# In `make check`, tests/fuzz/replay (the same harness, compiled with the
# build's compiler and linked with libhakmem, with a main() that reads
# files) runs the seed corpus.  An input that once found a bug joins the
# seeds when the bug is fixed (aligned-2mib-size-0).
#
# The harness is compiled together with the allocator's sources (not linked
# with the libtool library) so that libFuzzer's coverage instrumentation
# sees inside the allocator.  Not part of `make check`: it needs clang and
# libFuzzer (Debian: clang libclang-rt-14-dev); tests/check-all.sh runs it.

FUZZ_CC = clang
FUZZ_SECONDS = 60
FUZZ_SANITIZE = fuzzer
FUZZ_CFLAGS = -g -O2
FUZZ_ARGS = -max_len=1024 -timeout=20 -rss_limit_mb=2048 -print_final_stats=1

check_PROGRAMS += tests/fuzz/replay
tests_fuzz_replay_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz_api.c
tests_fuzz_replay_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_fuzz_replay_LDADD = lib/libhakmem.la
TESTS += tests/fuzz/replay

EXTRA_DIST += tests/fuzz/seeds
CLEANFILES += tests/fuzz/fuzz_api

# (a shell loop, not $$(filter): automake wants portable make syntax)
tests/fuzz/fuzz_api: tests/fuzz/fuzz_api.c $(hakmem_sources) include/hakmem.h config.h
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)srcs=; for f in $(hakmem_sources); do \
		case $$f in *.c) srcs="$$srcs $(srcdir)/$$f" ;; esac; \
	done; \
	$(FUZZ_CC) -std=gnu11 -pthread -fsanitize=$(FUZZ_SANITIZE) -ftls-model=initial-exec \
		$(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(FUZZ_CFLAGS) \
		-o $@ $(srcdir)/tests/fuzz/fuzz_api.c $$srcs

fuzz: tests/fuzz/fuzz_api
	@$(MKDIR_P) tests/fuzz/corpus
	tests/fuzz/fuzz_api $(FUZZ_ARGS) -max_total_time=$(FUZZ_SECONDS) \
		-artifact_prefix=tests/fuzz/ tests/fuzz/corpus $(srcdir)/tests/fuzz/seeds

clean-fuzz:
	rm -rf tests/fuzz/corpus tests/fuzz/crash-* tests/fuzz/leak-* tests/fuzz/timeout-* tests/fuzz/oom-*

.PHONY: fuzz clean-fuzz
