#!/bin/sh
# Install what is missing, build, and run every test (as root: the
# integration tests make their own network namespaces and etcd), then
# static analysis, the suite under the sanitizers, and the fuzzers for a
# few seconds each.  Arguments go to the first ctest run.
set -eu
cd "$(dirname "$0")/.."
tools/deps.sh
tools/build.sh
(cd build && ctest --output-on-failure "$@") | tee build/ctest.log
# tee hides ctest's status: its summary says whether all passed.
grep -q "^100% tests passed" build/ctest.log
tools/lint.sh
tools/sanitize.sh
tools/fuzz.sh 10
echo "lint, sanitizers and fuzzers clean; the suite:"
grep -E "tests passed|tests failed" build/ctest.log | tail -n 1
