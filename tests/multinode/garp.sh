#!/bin/bash
# Neighbours learn the move: a client that talked to the IP has the
# holder's MAC in its neighbour table; after a handover the entry shows
# the new holder's MAC without the client asking again.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/multinode/lib.sh"
ip_a=198.51.100.110
mn_setup 2
mn_service default web $ip_a
for i in 1 2; do mn_start $i; done
h=$(mn_wait_holder $ip_a 15) || fail "nobody holds $ip_a"
sleep 1
ip netns exec "$MN_CLIENT" ping -c 1 -W 2 $ip_a >/dev/null ||
	fail "$ip_a does not answer the client"
mac() { ip -n "${MN_NODES[$1]}" link show kiwi0 | awk '/link\/ether/ {print $2}'; }
lladdr() { ip -n "$MN_CLIENT" neigh show $ip_a dev cl0 | awk '{print $3}'; }
[ "$(lladdr)" = "$(mac $h)" ] || fail "client entry $(lladdr) is not node$h's $(mac $h)"
# The kernel ignores an update within locktime (1 s) of the last one.
sleep 1.5
other=$((3 - h))
t0=$(mn_now)
mn_stop "$h"
wait_for 5 mn_taken_after $ip_a $t0 || fail "$ip_a not taken over"
want=$(mac $other)
wait_for 5 sh -c "[ \"\$(ip -n $MN_CLIENT neigh show $ip_a dev cl0 | awk '{print \$3}')\" = $want ]" ||
	fail "client still has $(lladdr) for $ip_a, not node$other's $want"
echo "garp: the client learned node$other's MAC for $ip_a unasked"
mn_check_overlap
echo "garp: ok"
