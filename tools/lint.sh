#!/bin/sh
# Static analysis: cppcheck and clang-tidy (configuration in .clang-tidy)
# over every C file; exits non-zero on any finding.
set -eu
cd "$(dirname "$0")/.."
dirs="common watcher claimer netagent supervisor tests"
cppcheck --enable=warning,portability,performance --inline-suppr \
	--error-exitcode=1 --quiet -I. --std=c11 -D_GNU_SOURCE $dirs
cmake -S . -B build-lint -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
out=$(run-clang-tidy -p build-lint -quiet \
	"$(pwd)/(common|watcher|claimer|netagent|supervisor|tests)/" 2>&1 |
	sed 's/\x1b\[[0-9;]*m//g' | grep -E '(warning|error):' | sort -u) || true
if [ -n "$out" ]; then
	echo "$out"
	echo "clang-tidy: $(echo "$out" | wc -l) findings"
	exit 1
fi
echo "lint: cppcheck and clang-tidy clean"
