#!/bin/bash
# --dry-run: kiwi claims in etcd as usual, logs the addresses and rules
# it would make, and leaves the kernel as it was: no address, no chain,
# no jump, not even a sweep of an address that looks like kiwi's.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$KIWI_SRC/tests/supervisor/operator_lib.sh"
need_root
kiwi=$KIWI_BUILD/kiwi
ip_a=198.51.100.30
ip_old=198.51.100.31
node_start dryrun
# A leftover with kiwi's label: a real run would sweep it.
in_node ip addr add $ip_old/32 dev kiwi0 label kiwi0:kube
kube_fixture_start "$node" --seed "$(web_seed $ip_a)"
# The addresses (but the link-local one the kernel adds by itself) and
# the mangle tables (but their packet counters).
addrs() { in_node ip -o addr show dev kiwi0 | grep -v 'scope link'; }
mangle() { in_node "$1" -t mangle | grep -v '^#' | sed 's/ \[[0-9:]*\]$//'; }
before_addr=$(addrs)
before_v4=$(mangle iptables-legacy-save)
before_v6=$(mangle ip6tables-legacy-save)

ip netns exec "$node" "$kiwi" --interface kiwi0 --cidr-range 198.51.100.0/24 \
	--kube-endpoint "$KUBE_URL" --etcd-endpoint "$ETCD_URL" --ttl 4 \
	--node-name node-dry --dry-run --control-socket $RUN/kiwi.sock \
	>"$T_TMP/kiwi.log" 2>&1 &
kiwi_pid=$!
on_exit "kill -9 $kiwi_pid"
show_log() { echo "--- kiwi log"; cat "$T_TMP/kiwi.log"; }
logged() { grep -qF -- "$1" "$T_TMP/kiwi.log"; }
check() {
	local what=$1
	shift
	wait_for 10 "$@" || { show_log; fail "$what"; }
}
unchanged() {
	[ "$(addrs)" = "$before_addr" ] &&
		[ "$(mangle iptables-legacy-save)" = "$before_v4" ] &&
		[ "$(mangle ip6tables-legacy-save)" = "$before_v6" ]
}

check "no word that this is a dry run" logged "dry run: addresses and rules are only logged"
check "the address it would add is not logged" \
	logged "dry-run: would add $ip_a/32 to kiwi0"
check "the rule it would add is not logged" logged \
	"dry-run: would add rule to mangle KUBE-PUBLIC: -d $ip_a -p tcp --dport 8080 -j MARK --set-mark 0x1 (default/web)"
logged "dry-run: would remove $ip_old/32 from kiwi0" ||
	{ show_log; fail "the sweep of $ip_old is not logged"; }
check "etcd has no claim for $ip_a" sh -c \
	"ETCDCTL_API=3 ip netns exec $node etcdctl --endpoints $ETCD_URL get --print-value-only /kiwi/publicips/$ip_a | grep -q node-dry"
"$kiwi" status --control-socket $RUN/kiwi.sock --json |
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["dry_run"] is True' ||
	fail "the status does not say dry run"
sleep 2 # a few renewals and refreshes
unchanged || { show_log; fail "the kernel changed: $(addrs; mangle iptables-legacy-save)"; }
mangle iptables-legacy-save | grep -q KUBE-PUBLIC && fail "a KUBE-PUBLIC chain was made"
# Only what it would do: no line says it was done.
logged "added $ip_a to kiwi0" &&
	{ show_log; fail "a dry run logged that it added $ip_a"; }
logged "removed leftover $ip_old" &&
	{ show_log; fail "a dry run logged that it swept $ip_old"; }

# A Service that goes: the removal is only logged too.
in_node curl -sf -X DELETE "$KUBE_URL/fixture/services/default/web" >/dev/null
check "the removal of $ip_a is not logged" \
	logged "dry-run: would remove $ip_a/32 from kiwi0"
check "the rule's removal is not logged" logged \
	"dry-run: would remove rule from mangle KUBE-PUBLIC: -d $ip_a -p tcp"
logged "removed $ip_a from kiwi0" &&
	{ show_log; fail "a dry run logged that it removed $ip_a"; }

kill -TERM $kiwi_pid
rc=0
wait $kiwi_pid || rc=$?
[ $rc = 0 ] || { show_log; fail "kiwi exited with status $rc"; }
unchanged || { show_log; fail "the kernel changed at shutdown"; }
logged "removed chain KUBE-PUBLIC" &&
	{ show_log; fail "a dry run logged that it removed the chain"; }
echo "dryrun: ok"
