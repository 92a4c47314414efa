#!/bin/bash
# Failover time over repeated runs, for a graceful handover (SIGTERM)
# and a crash (SIGKILL of the whole tree and the link down), at the
# default TTL and at --ttl 2.  Not a test: it prints a table.
#
#   bench/failover.sh [RUNS]        (as root, after tools/build.sh)
set -eu
runs=${1:-5}
src=$(cd "$(dirname "$0")/.." && pwd)
export KIWI_SRC=$src KIWI_BUILD=${KIWI_BUILD:-$src/build}

# One case in its own harness: prints one failover time in ms per run.
measure() {
	local kind=$1 ttl=$2
	MN_TTL=$ttl RUNS=$runs KIND=$kind bash -c '
	. "$KIWI_SRC/tests/multinode/lib.sh"
	ip_a=198.51.100.200
	mn_setup 2
	mn_service default bench $ip_a
	mn_start 1; mn_start 2
	for ((r = 0; r < RUNS; r++)); do
		h=$(mn_wait_holder $ip_a 30) || fail "nobody holds $ip_a"
		sleep 1
		t0=$(mn_now)
		if [ $KIND = graceful ]; then
			mn_stop $h
		else
			mn_kill $h
			ip -n "${MN_NODES[$h]}" link set kiwi0 down
		fi
		wait_for $((MN_TTL * 3 + 10)) mn_taken_after $ip_a $t0 ||
			fail "no takeover"
		line=$(mn_held_after $ip_a $t0)
		echo $((${line%% *} - t0))
		ip -n "${MN_NODES[$h]}" link set kiwi0 up
		mn_start $h
		sleep $((MN_TTL + 1))
	done' 2>/dev/null
}

stats() {
	sort -n | awk '{v[NR] = $1} END {
		if (NR == 0) { print "-", "-", "-"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%d %d %d\n", v[1], m, v[NR] }'
}

printf "%-10s %5s %5s %8s %8s %8s\n" case ttl runs min_ms median_ms max_ms
for ttl in 10 2; do
	for kind in graceful crash; do
		read -r min med max < <(measure $kind $ttl | stats)
		printf "%-10s %5s %5s %8s %8s %8s\n" $kind $ttl $runs \
			"$min" "$med" "$max"
	done
done
