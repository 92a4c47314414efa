#!/bin/bash
# Dual stack end to end: a Service with an IPv4 and an IPv6 external IP
# inside configured ranges of both families.  The IPv6 address goes on
# as a /128, its rules through ip6tables' mangle table, its key into
# etcd; a client namespace reaches it; SIGTERM removes all of it.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
need_root
ip4=198.51.100.12
ip6=2001:db8:5::12
node_with_client v6node
ip -n "$client" -6 route add 2001:db8:5::/64 dev peer0
kube_fixture_start "$node" --seed "$(service_seed default dual \
	"$ip4 $ip6" "443/TCP 53/UDP" '"ipFamilyPolicy": "PreferDualStack"')"
has6() { in_node ip -6 -o addr show dev kiwi0 | grep -q "inet6 $ip6/128"; }
has4() { in_node ip -o addr show dev kiwi0 | grep -q "inet $ip4/32"; }
rule6() {
	echo "-A KUBE-PUBLIC -d $ip6/128 -p $1 -m $1 --dport $2 -j MARK --set-xmark 0x1/0xffffffff"
}

kiwi_start --cidr-range 198.51.100.0/24 --cidr-range 2001:db8:5::/64 \
	--ttl 4 --node-name node-6

expect_within 15 "$ip6/128 was not added" has6
expect_within 5 "$ip4 was not added beside it" has4
wait_for 5 sh -c "ip netns exec $node ip6tables-legacy-save -t mangle | grep -qxF -- '$(rule6 tcp 443)'" ||
	{
		kiwi_show
		in_node ip6tables-legacy-save -t mangle
		fail "no IPv6 tcp rule"
	}
in_node ip6tables-legacy-save -t mangle | grep -qxF -- "$(rule6 udp 53)" ||
	fail "no IPv6 udp rule"
in_node ip6tables-legacy-save -t mangle | grep -qx -- "-A PREROUTING -d 2001:db8:5::/64 -j KUBE-PUBLIC" ||
	fail "no IPv6 jump to KUBE-PUBLIC"
in_node iptables-legacy-save -t mangle | grep -q -- "$ip6" &&
	fail "an IPv6 rule in the IPv4 table"
etcd_get "/kiwi/publicips/$ip6" | grep -q '"node":"node-6"' ||
	fail "no etcd key for $ip6: $(etcd_get "/kiwi/publicips/$ip6")"
wait_for 10 ip netns exec "$client" ping -6 -c 1 -W 1 "$ip6" ||
	fail "$ip6 does not answer the client"
ip netns exec "$client" ping -c 1 -W 2 "$ip4" >/dev/null ||
	fail "$ip4 does not answer the client"

kiwi_stop
has6 && fail "$ip6 left behind"
in_node ip6tables-legacy-save -t mangle | grep -q KUBE-PUBLIC &&
	fail "the IPv6 chain was left behind"
[ -z "$(etcd_get "/kiwi/publicips/$ip6")" ] || fail "the IPv6 key was left"
echo "e2e_ipv6: ok"
