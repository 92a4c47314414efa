#!/bin/bash
# Graceful handover: the holder gets SIGTERM, withdraws its addresses
# and revokes its lease; a standby takes each address in under 300 ms,
# and no address is ever on two nodes.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/multinode/lib.sh"
ip_a=198.51.100.50
ip_b=198.51.100.51
mn_setup 3
mn_service default web $ip_a $ip_b
for i in 1 2 3; do mn_start $i; done
h=$(mn_wait_holder $ip_a 15) || fail "nobody holds $ip_a"
mn_wait_holder $ip_b 15 >/dev/null || fail "nobody holds $ip_b"
sleep 1
for round in 1 2; do
	h=$(mn_holder $ip_a)
	moving=$ip_a
	[ "$(mn_holder $ip_b)" = "$h" ] && moving="$moving $ip_b"
	t0=$(mn_now)
	mn_stop "$h"
	for ip in $moving; do
		wait_for 5 mn_taken_after $ip $t0 ||
			{ cat "$T_TMP/sampler.log"; fail "$ip not taken over"; }
	done
	ms=$(($(mn_held_after $ip_a $t0 | cut -d' ' -f1) - t0))
	echo "handover: round $round: $ip_a moved from node$h in $ms ms"
	[ $ms -lt 300 ] || fail "graceful handover took $ms ms (target 300)"
	mn_check_overlap
	mn_start "$h"
	sleep 1
done
mn_check_overlap
echo "handover: ok"
