#!/bin/sh
# Install what is missing, build, and run every test (as root: the
# integration tests make their own network namespaces and etcd).
set -eu
cd "$(dirname "$0")/.."
tools/deps.sh
tools/build.sh
cd build
ctest --output-on-failure "$@"
