#!/bin/sh
# The test suite again under AddressSanitizer and UBSan (build-asan/),
# and the unit tests under valgrind (build/).  Leak checking is on for
# the unit tests; the daemon's workers drop privileges, after which
# LeakSanitizer cannot inspect them, so the integration tests run with
# leak checking off.
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DKIWI_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
	>/dev/null
cmake --build build-asan -j"$(nproc)"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest -L unit --output-on-failure)
(cd build-asan && ASAN_OPTIONS=detect_leaks=0 \
	ctest -L integration -E packaging_deb --output-on-failure "$@")

[ -d build ] || tools/build.sh
# Each unit program under valgrind, as ctest would run it.
(cd build && ctest -L unit --show-only=json-v1) | python3 -c '
import json, sys
for t in json.load(sys.stdin)["tests"]:
    print(" ".join(t["command"]))' | while read -r cmd; do
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=99 $cmd >"build/valgrind.log" 2>&1 ||
		{ cat build/valgrind.log; echo "valgrind: $cmd"; exit 1; }
done
echo "sanitize: ASan/UBSan suite and valgrind unit tests clean"
