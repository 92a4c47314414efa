#!/bin/bash
# claimer_main against a three-member etcd cluster on loopback: the
# member the claimer talks to (the first it is given) is stopped, then
# killed, under it.  That member is a follower: losing the leader is
# another case (no renewal succeeds until a new one is elected, which
# with a short TTL can outlast the trust in the last renewal).
. "$KIWI_SRC/tests/lib/common.sh"
need_root
command -v etcd >/dev/null || { echo "SKIP: no etcd" >&2; exit 77; }

etcd_cluster_start 3
read -ra pids <<<"$ETCD_PIDS"
IFS=, read -ra urls <<<"$ETCD_URLS"
# The index of a follower, from each member's own status.
follower=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URLS" \
	endpoint status -w json | python3 -c '
import json, sys
for i, m in enumerate(json.load(sys.stdin)):
    if m["Status"]["leader"] != m["Status"]["header"]["member_id"]:
        print(i)
        break')
[ -n "$follower" ] || fail "no follower in the cluster"
list=${urls[$follower]}
for i in "${!urls[@]}"; do
	[ "$i" = "$follower" ] || list+=",${urls[$i]}"
done
# The test stops the member with SIGSTOP; never leave it stopped.
on_exit "kill -CONT ${pids[$follower]}"
KIWI_ETCD_URLS=$list \
KIWI_ETCD_MEMBER_PID=${pids[$follower]} \
	"$KIWI_BUILD/tests/claimer/claimer_loop" cluster
