#!/bin/bash
# The whole daemon SIGKILLed on the holder and started again: the
# kernel drops the address by its lifetime, a standby takes over after
# the lease expires, never overlapping; the restarted node sweeps its
# leftovers and rejoins as a standby without taking the address back.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/multinode/lib.sh"
ip_a=198.51.100.100
mn_setup 2
mn_service default web $ip_a
for i in 1 2; do mn_start $i; done
h=$(mn_wait_holder $ip_a 15) || fail "nobody holds $ip_a"
sleep 1
t0=$(mn_now)
mn_kill "$h"
wait_for 10 mn_taken_after $ip_a $t0 "${MN_NODES[$h]}" ||
	{ cat "$T_TMP/sampler.log"; fail "$ip_a was not taken over"; }
mn_check_overlap
new=$(mn_holder $ip_a)
line=$(mn_held_after $ip_a $t0 "${MN_NODES[$h]}")
ms=$((${line%% *} - t0))
echo "restart: $ip_a taken from SIGKILLed node$h in $ms ms"
mn_start "$h"
wait_for 10 grep -q "ready: the first full set" "$T_TMP/kiwi$h.log" ||
	fail "node$h not ready after its restart"
sleep $((MN_TTL * 2))
[ "$(mn_holder $ip_a)" = "$new" ] || fail "the restarted node took $ip_a back"
mn_check_overlap
echo "restart: ok"
