#!/bin/bash
# Node death: the holder's whole process tree is SIGKILLed and its link
# taken down.  Nothing withdraws anything; its lease expires and a
# standby takes over within TTL + 0.5 s.  No address is ever on two
# nodes.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/multinode/lib.sh"
ip_a=198.51.100.60
mn_setup 3
mn_service default web $ip_a
for i in 1 2 3; do mn_start $i; done
h=$(mn_wait_holder $ip_a 15) || fail "nobody holds $ip_a"
sleep 1
t0=$(mn_now)
mn_kill "$h"
ip -n "${MN_NODES[$h]}" link set kiwi0 down
wait_for 10 mn_taken_after $ip_a $t0 ||
	{ cat "$T_TMP/sampler.log"; fail "$ip_a was not taken over"; }
line=$(mn_held_after $ip_a $t0)
ms=$((${line%% *} - t0))
echo "death: $ip_a taken over from dead node$h in $ms ms (ttl ${MN_TTL} s)"
[ $ms -le $((MN_TTL * 1000 + 500)) ] ||
	fail "takeover took $ms ms, over TTL + 0.5 s"
mn_check_overlap
echo "death: ok"
