#!/bin/sh
# Install what is missing, build, and run every test (as root: the
# integration tests make their own network namespaces and etcd), then
# static analysis, the suite under the sanitizers, and the fuzzers for a
# few seconds each.  Arguments go to the first ctest run.
set -eu
cd "$(dirname "$0")/.."
tools/deps.sh
tools/build.sh
(cd build && ctest --output-on-failure "$@")
tools/lint.sh
tools/sanitize.sh
tools/fuzz.sh 10
echo "test: all passed"
