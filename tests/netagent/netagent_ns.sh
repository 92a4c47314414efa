#!/bin/bash
# The netagent in a namespace of its own: a veth pair, an unrelated
# address and an unrelated mangle rule that must survive, and the cmocka
# driver that plays supervisor and claimer.
. "$KIWI_SRC/tests/lib/common.sh"
need_root

driver="$KIWI_BUILD/tests/netagent/netagent_driver"
[ -x "$driver" ] || fail "$driver is not built"
command -v iptables-legacy-save >/dev/null || {
	echo "SKIP: iptables-legacy is not installed" >&2
	exit 77
}

ns=$(netns_new netagent)
# netns_new runs in a command substitution, so its own on_exit is lost.
on_exit "ip netns del $ns"
ip -n "$ns" link add kv0 type veth peer name kv1
ip -n "$ns" link set kv0 up
ip -n "$ns" link set kv1 up
ip -n "$ns" addr add 10.99.0.1/24 dev kv0
ip netns exec "$ns" iptables-legacy -w -t mangle -A PREROUTING \
	-p tcp -m tcp --dport 22 -j ACCEPT

ip netns exec "$ns" env KIWI_TEST_IF=kv0 KIWI_TEST_PEER=kv1 "$driver" ||
	fail "netagent driver failed"

# Nothing of kiwi's is left, and what was not kiwi's is untouched.
left=$(ip -n "$ns" -o addr show dev kv0)
echo "$left" | grep -q 'inet 10.99.0.1/24' || fail "unrelated address lost"
echo "$left" | grep -q 'kv0:kube' && fail "kiwi address left: $left"
rules=$(ip netns exec "$ns" iptables-legacy-save -t mangle)
echo "$rules" | grep -q -- '-A PREROUTING -p tcp -m tcp --dport 22 -j ACCEPT' ||
	fail "unrelated rule lost"
echo "$rules" | grep -q KUBE-PUBLIC && fail "kiwi chain left: $rules"
rules6=$(ip netns exec "$ns" ip6tables-legacy-save -t mangle)
echo "$rules6" | grep -q KUBE-PUBLIC && fail "kiwi IPv6 chain left: $rules6"
echo "$left" | grep -q 'inet6 2001:db8:50:' && fail "kiwi IPv6 address left: $left"
exit 0
