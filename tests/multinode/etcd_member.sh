#!/bin/bash
# An etcd member dies, the leader on purpose: the cluster keeps quorum,
# elects another leader, every node moves to a live member and keeps its
# lease, and no address moves or is withdrawn.  The TTL leaves room for
# the election: etcd cannot renew a lease without a leader, and a node
# withdraws what it cannot vouch for (at short TTLs it may, briefly).
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/multinode/lib.sh"
ip_a=198.51.100.80
ip_b=198.51.100.81
MN_TTL=10
mn_setup 2
mn_service default web $ip_a
mn_service default api $ip_b
for i in 1 2; do mn_start $i; done
ha=$(mn_wait_holder $ip_a 15) || fail "nobody holds $ip_a"
hb=$(mn_wait_holder $ip_b 15) || fail "nobody holds $ip_b"
sleep 1
leader=""
IFS=, read -ra urls <<<"$MN_ETCD"
for i in 1 2 3; do
	id=$(in_hub env ETCDCTL_API=3 etcdctl --endpoints \
		"${urls[$((i - 1))]}" endpoint status -w json |
		python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["Status"]; print(int(s["header"]["member_id"] == s["leader"]))')
	[ "$id" = 1 ] && leader=$i
done
[ -n "$leader" ] || fail "no etcd leader found"
kill -9 "${MN_ETCD_PIDS[$leader]}"
t0=$(mn_now)
sleep 12
[ "$(mn_holder $ip_a)" = "$ha" ] && [ "$(mn_holder $ip_b)" = "$hb" ] ||
	{ cat "$T_TMP/sampler.log"; fail "an address moved when the etcd leader died"; }
[ -z "$(awk -v t=$t0 '$1 ~ /^[0-9]+$/ && $1 >= t' "$T_TMP/sampler.log")" ] ||
	{ cat "$T_TMP/sampler.log"; fail "an address was withdrawn when the etcd leader died"; }
mn_check_overlap
echo "etcd_member: ok (leader m$leader killed; no address moved)"
