#!/bin/bash
# An etcd member dies: the cluster keeps quorum, every node moves to
# another member and keeps its lease, and no address moves.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/multinode/lib.sh"
ip_a=198.51.100.80
ip_b=198.51.100.81
mn_setup 2
mn_service default web $ip_a
mn_service default api $ip_b
for i in 1 2; do mn_start $i; done
ha=$(mn_wait_holder $ip_a 15) || fail "nobody holds $ip_a"
hb=$(mn_wait_holder $ip_b 15) || fail "nobody holds $ip_b"
sleep 1
kill -9 "${MN_ETCD_PIDS[1]}"
t0=$(mn_now)
sleep $((MN_TTL * 3))
[ "$(mn_holder $ip_a)" = "$ha" ] && [ "$(mn_holder $ip_b)" = "$hb" ] ||
	{ cat "$T_TMP/sampler.log"; fail "an address moved when one etcd member died"; }
[ -z "$(awk -v t=$t0 '$1 ~ /^[0-9]+$/ && $1 >= t' "$T_TMP/sampler.log")" ] ||
	{ cat "$T_TMP/sampler.log"; fail "an address was withdrawn when one etcd member died"; }
mn_check_overlap
echo "etcd_member: ok (no address moved with one of three members dead)"
