#!/bin/sh
# The module suites again, with slabs as standalone mappings instead of
# SuperSlabs (the run-time switch HAKMEM_TINY_USE_SUPERSLAB=0).
status=0
for t in test_sizeclass test_superslab test_tiny test_mid test_large test_bigcache test_batch test_stats; do
    UNIT_STANDALONE=1 "./tests/unit/$t" || status=1
done
exit $status
