#!/bin/bash
# The whole daemon on one node, for real: a private etcd, the Kubernetes
# API fixture, the real kernel and libiptc, all inside namespaces this
# test makes.  A client namespace sends traffic to the claimed IP.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
need_root
ip_a=198.51.100.10
ip_b=198.51.100.11
ip_out=203.0.113.5

node_with_client node

# Someone else's address and rule on the node: kiwi must not touch them.
ip -n "$node" addr add 198.51.100.99/32 dev kiwi0
ip netns exec "$node" iptables-legacy -t mangle -A PREROUTING \
	-s 10.99.0.77/32 -j ACCEPT

kube_fixture_start "$node" --seed "$(service_seed default web \
	"$ip_a $ip_out" "8080/TCP 53/UDP")"

mangle() { in_node iptables-legacy-save -t mangle; }
has_addr() { in_node ip -o addr show dev kiwi0 | grep -q "inet $1/32 .* kiwi0:kube"; }
no_addr() { ! in_node ip -o addr show dev kiwi0 | grep -q "inet $1/"; }
has_rule() { mangle | grep -qxF -- "$1"; }
no_rule() { ! mangle | grep -qF -- "$1"; }
# rule IP PROTO PORT: the rule as iptables-save shows it.
rule() {
	echo "-A KUBE-PUBLIC -d $1/32 -p $2 -m $2 --dport $3 -j MARK --set-xmark 0x1/0xffffffff"
}

kiwi_start --cidr-range 198.51.100.0/24 --ttl 4 --node-name node-a --verbose
kiwi_pid=$KIWI_PID
check() { expect_within 10 "$@"; }

# 1. The seeded Service: address, rules, key.
check "address $ip_a was not added" has_addr $ip_a
check "tcp rule missing" has_rule "$(rule $ip_a tcp 8080)"
check "udp rule missing" has_rule "$(rule $ip_a udp 53)"
mangle | grep -qx -- "-A PREROUTING -d 198.51.100.0/24 -j KUBE-PUBLIC" ||
	fail "no jump for the range"
[ "$(mangle | grep -c -- "-j KUBE-PUBLIC$")" = 1 ] || fail "more than one jump"
etcd_get /kiwi/publicips/$ip_a | grep -q '"node": *"node-a"' ||
	fail "etcd key for $ip_a does not name node-a"
etcd_get /kiwi/publicips/$ip_a | grep -q 'default/web' ||
	fail "etcd key for $ip_a does not name the Service"
no_addr $ip_out || fail "out-of-range $ip_out was added"
[ -z "$(etcd_get /kiwi/publicips/$ip_out)" ] || fail "$ip_out was claimed"

# 2. The privilege split of the running daemon.
declare -A seen
for pid in $(pgrep -P "$kiwi_pid"); do
	name=$(cat /proc/$pid/comm)
	eff=$(awk '/^CapEff/ {print $2}' /proc/$pid/status)
	prm=$(awk '/^CapPrm/ {print $2}' /proc/$pid/status)
	bnd=$(awk '/^CapBnd/ {print $2}' /proc/$pid/status)
	nnp=$(awk '/^NoNewPrivs/ {print $2}' /proc/$pid/status)
	uid=$(awk '/^Uid/ {print $2 $3 $4 $5}' /proc/$pid/status)
	case $name in
	kiwi-netagent) want=0000000000003000 ;;
	kiwi-watcher | kiwi-claimer) want=0000000000000000 ;;
	*) fail "unexpected child process $name" ;;
	esac
	[ "$eff" = "$want" ] && [ "$prm" = "$want" ] ||
		fail "$name has capabilities eff=$eff prm=$prm, want $want"
	[ $((0x$bnd & ~0x3000)) = 0 ] || fail "$name bounding set $bnd"
	[ "$nnp" = 1 ] || fail "$name lacks no-new-privs"
	nobody=$(id -u nobody)
	[ "$uid" = "$nobody$nobody$nobody$nobody" ] || fail "$name runs as uid $uid"
	seen[$name]=1
done
[ ${#seen[@]} = 3 ] || fail "expected three workers, saw ${!seen[*]}"

# 3. Traffic from the client reaches the IP and is marked.
in_node iptables-legacy -t mangle -Z KUBE-PUBLIC
ip netns exec "$client" ping -c 1 -W 2 $ip_a >/dev/null ||
	fail "$ip_a does not answer ping from the client namespace"
ip netns exec "$client" bash -c "exec 3<>/dev/tcp/$ip_a/8080" 2>/dev/null || true
pkts=$(in_node iptables-legacy -t mangle -L KUBE-PUBLIC -n -v -x |
	awk '/dpt:8080/ {print $1}')
[ "${pkts:-0}" -ge 1 ] || fail "no packet to $ip_a:8080 was marked"

# 4. An update changes the rules; a second Service shares the IP.
kube_service_put default web "$ip_a" 9090/TCP
check "rule for 9090 missing" has_rule "$(rule $ip_a tcp 9090)"
check "rule for 8080 left behind" no_rule "--dport 8080 "
check "rule for 53 left behind" no_rule "--dport 53 "
kube_service_put default api "$ip_a $ip_b" 443/TCP
check "shared IP rule missing" has_rule "$(rule $ip_a tcp 443)"
check "address $ip_b was not added" has_addr $ip_b
has_rule "$(rule $ip_a tcp 9090)" || fail "web lost its rule"

# 5. Deleting a Service removes only what no other Service wants.
kube_service_delete default api
check "$ip_b was not removed" no_addr $ip_b
check "api rule left behind" no_rule "--dport 443 "
no_key() { [ -z "$(etcd_get "/kiwi/publicips/$1")" ]; }
check "etcd key for $ip_b left behind" no_key "$ip_b"
has_addr $ip_a || fail "$ip_a was removed with the other Service"

# 6. SIGTERM: everything kiwi made is gone, status 0, within seconds.
t0=$(date +%s%N)
kiwi_stop
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
[ $ms -lt 5000 ] || fail "shutdown took $ms ms"
no_addr $ip_a || fail "$ip_a left on the interface"
mangle | grep -q KUBE-PUBLIC && fail "KUBE-PUBLIC left behind: $(mangle)"
[ -z "$(etcd_get /kiwi/publicips/$ip_a)" ] || fail "etcd key left behind"
in_node ip -o addr show dev kiwi0 | grep -q "inet 198.51.100.99/32" ||
	fail "someone else's address was removed"
mangle | grep -qx -- "-A PREROUTING -s 10.99.0.77/32 -j ACCEPT" ||
	fail "someone else's rule was removed"
echo "e2e: ok (shutdown in $ms ms)"
