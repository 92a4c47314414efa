#!/bin/bash
# A partition: the holder keeps running but loses etcd.  It must
# withdraw its address before its lease can expire, so that the node
# that takes over never overlaps with it.  When the partition heals it
# rejoins as a standby and does not take the address back.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/multinode/lib.sh"
ip_a=198.51.100.70
mn_setup 3
mn_service default web $ip_a
for i in 1 2 3; do mn_start $i; done
h=$(mn_wait_holder $ip_a 15) || fail "nobody holds $ip_a"
sleep 1
# The members' client ports, all the node reaches etcd on; the API
# fixture's stays open.
etcd_ports=$(echo "$MN_ETCD" | sed 's|http://[^:]*:||g')
cut_etcd() {
	ip netns exec "${MN_NODES[$h]}" iptables-legacy -$1 OUTPUT \
		-d "$MN_HUB_IP" -p tcp -m multiport --dports "$etcd_ports" \
		-j DROP
}
t0=$(mn_now)
cut_etcd A
wait_for 10 mn_taken_after $ip_a $t0 ||
	{ cat "$T_TMP/sampler.log"; fail "$ip_a was not taken over"; }
line=$(mn_held_after $ip_a $t0)
ms=$((${line%% *} - t0))
echo "partition: $ip_a moved from cut-off node$h in $ms ms"
mn_check_overlap
[ "$(mn_holder $ip_a)" != "$h" ] || fail "the cut-off node still holds $ip_a"
new=$(mn_holder $ip_a)
cut_etcd D
sleep $((MN_TTL * 2 + 1))
[ "$(mn_holder $ip_a)" = "$new" ] ||
	fail "$ip_a moved from node$new after the partition healed (flapping)"
mn_check_overlap
echo "partition: ok"
