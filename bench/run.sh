#!/bin/bash
# All of kiwi's benchmarks, each in namespaces of its own, and a table
# of the results against the targets.  Not a test: it takes minutes.
#
#   bench/run.sh                     (as root, after tools/build.sh)
#
# KIWI_BUILD (default build/) is where kiwi is; the sampler is built in
# $KIWI_BUILD/bench.  SIZES (default "100 1000 10000"), EVENTS (200),
# KERNEL_N (1000) and IDLE (20 s) make it shorter.  Each part runs alone
# too: bench/convergence.sh, bench/scale.sh, bench/kernel.sh.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
export KIWI_BUILD=${KIWI_BUILD:-$src/build}
sizes=${SIZES:-100 1000 10000}
events=${EVENTS:-200}
kernel_n=${KERNEL_N:-1000}
idle=${IDLE:-20}
out=$(mktemp /tmp/kiwi-bench.XXXXXX)
trap 'rm -f "$out"' EXIT

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo |
	cut -d: -f2- | sed 's/^ //'), $(free -h | awk '/^Mem/ { print $2 }')" \
	"RAM, Linux $(uname -r)"
echo "kiwi: $KIWI_BUILD/kiwi ($(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo

echo "== 1. convergence latency ($events creations then $events deletions," \
	"50 ms apart, 100 Services held)"
"$src/bench/convergence.sh" "$events" 50 100 | tee "$out.conv"
echo

echo "== 2, 4, 5. cold start, idle etcd load ($idle s), memory"
header=1
for n in $sizes; do
	BENCH_HEADER=$header "$src/bench/scale.sh" "$n" "$idle" 2>"$out.err" |
		tee -a "$out.scale" ||
		echo "  N=$n failed: $(cut -c1-200 "$out.err" | grep -v '^$' | head -3)"
	header=0
done
awk 'NR > 1 && $2 ~ /^[0-9]+$/ { printf "  N=%-6s apply %7.1f us/Service, remove %6.1f us/Service\n",
	$1, $2 * 1000 / $1, $4 * 1000 / $1 }' "$out.scale"
echo

echo "== 3. kernel work, kiwi against one process per item"
"$src/bench/kernel.sh" "$kernel_n" | tee "$out.kernel"
echo

echo "== targets"
verdict() { if [ "$1" = 1 ]; then echo met; else echo MISSED; fi; }
p99=$(awk '$1 == "all" { print $7 }' "$out.conv")
echo "p99 convergence < 20 ms:          $p99 ms   $(verdict "$(awk -v v="$p99" 'BEGIN { print (v < 20) }')")"
row=$(awk '$1 == 10000' "$out.scale")
if [ -n "$row" ]; then
	read -r _ ap _ rm _ _ _ _ _ _ _ _ rss pss <<<"$row"
	echo "apply 10,000 < 3000 ms:           $ap ms   $(verdict $((ap < 3000)))"
	echo "remove 10,000 < 2000 ms:          $rm ms   $(verdict $((rm < 2000)))"
	echo "RSS of all at 10,000 < 32 MiB:    $rss MiB   $(verdict "$(awk -v v="$rss" 'BEGIN { print (v < 32) }')")"
	echo "  (peak of the summed PSS:        $pss MiB)"
fi
x=$(awk '$2 == "apply" { print $5 }' "$out.kernel")
echo "naive/kiwi at N=$kernel_n >= 50x:      $x   $(verdict "$(awk -v v="${x%x}" 'BEGIN { print (v >= 50) }')")"
echo "idle etcd requests/s by N:        $(awk 'NR > 1 { printf "%s: %s  ", $1, $7 }' "$out.scale")"
rm -f "$out".*
