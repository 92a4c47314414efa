#!/bin/sh
# Build the libFuzzer harnesses (clang, ASan, UBSan) into build-fuzz/ and
# run each for SECONDS (default 10) from its committed seed corpus.
#   tools/fuzz.sh 3600       a long run
#   tools/fuzz.sh 10 msg     one harness
# New inputs go to build-fuzz/corpus/NAME; a crash leaves its input in
# build-fuzz/ as crash-*, to be added to tests/fuzz/corpus/NAME.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-10}
shift || true
names=${*:-msg addr config watch etcd}
CC=clang cmake -S . -B build-fuzz -DKIWI_FUZZ=ON -DKIWI_WERROR=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
for n in $names; do
	cmake --build build-fuzz -j"$(nproc)" --target "fuzz_$n" >/dev/null
done
for n in $names; do
	mkdir -p "build-fuzz/corpus/$n"
	echo "fuzz_$n: $secs s"
	# The config parser prints every refusal to stderr; the others log
	# nothing, and their sanitizer reports must stay visible.
	quiet=0
	[ "$n" = config ] && quiet=2
	(cd build-fuzz && "./fuzz/fuzz_$n" -max_total_time="$secs" \
		-timeout=10 -rss_limit_mb=2048 -close_fd_mask=$quiet \
		-print_final_stats=0 "corpus/$n" "../tests/fuzz/corpus/$n" \
		2>&1 | grep -E '^(#[0-9]+ *DONE|Done|==|SUMMARY|ERROR)' || true)
	[ -z "$(ls build-fuzz/crash-* 2>/dev/null)" ] ||
		{ echo "fuzz_$n found a crash: $(ls build-fuzz/crash-*)"; exit 1; }
done
