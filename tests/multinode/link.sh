#!/bin/bash
# Link awareness: the holder's interface loses its carrier while kiwi
# keeps running.  It releases its claims at once and another node takes
# the address well before any lease could expire; when the link is
# back the address stays where it went.  The nodes reach etcd over a
# second link, as a node with a separate management network does (with
# one link for everything, a node that loses it cannot reach etcd to
# release anything, and its claims expire with its lease).
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/multinode/lib.sh"
ip_a=198.51.100.120
MN_TTL=10
MN_MGMT=1
mn_setup 2
mn_service default web $ip_a
for i in 1 2; do mn_start $i; done
h=$(mn_wait_holder $ip_a 15) || fail "nobody holds $ip_a"
sleep 1
t0=$(mn_now)
# The hub side of the holder's veth goes down: no carrier on kiwi0.
ip -n "$MN_HUB" link set "h$h" down
wait_for 5 mn_taken_after $ip_a $t0 ||
	{ cat "$T_TMP/sampler.log"; fail "$ip_a was not taken over"; }
line=$(mn_held_after $ip_a $t0)
ms=$((${line%% *} - t0))
echo "link: $ip_a moved off node$h's dead link in $ms ms (ttl $MN_TTL s)"
[ $ms -lt 2000 ] || fail "took $ms ms: the claims were not released at once"
mn_check_overlap
new=$(mn_holder $ip_a)
[ "$new" != "$h" ] || fail "the node without carrier still holds $ip_a"
ip -n "$MN_HUB" link set "h$h" up
sleep 3
[ "$(mn_holder $ip_a)" = "$new" ] || fail "$ip_a moved back when the link came up"
mn_check_overlap
echo "link: ok"
