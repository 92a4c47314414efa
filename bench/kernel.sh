#!/bin/bash
# Kernel work: N addresses and 2N rules applied and removed by kiwi,
# against the naive way in the same run: one `ip addr add` and one
# `iptables-legacy -t mangle -A` process per item (and `ip addr del`,
# `iptables-legacy -D` to remove them), as a shell-script tool does,
# in a fresh namespace of its own.
#
#   bench/kernel.sh [N]              (as root, after tools/build.sh)
#
# kiwi's time is from its start to the sampler's round that saw all N
# addresses and 2N rules (the whole pipeline: list, etcd claims, netlink
# and libiptc); its netagent time is from the first kiwi address or rule
# the sampler saw to the last, which is nearer the kernel work alone.
. "$(dirname "$0")/lib.sh"
n=${1:-1000}

row=$(BENCH_HEADER=0 KIWI_SRC=$KIWI_SRC bash "$BENCH_SRC/bench/scale.sh" \
	"$n" 1) || fail "the kiwi run failed"
read -r _ k_apply k_na k_remove _ <<<"$row"

ns=$(netns_new naive)
peer=$(netns_new naive-peer)
ip -n "$ns" link add kiwi0 type veth peer name peer0 netns "$peer"
ip -n "$ns" link set kiwi0 up
ip -n "$peer" link set peer0 up
ipt() { ip netns exec "$ns" iptables-legacy -w -t mangle "$@"; }
ipt -N KUBE-PUBLIC
ipt -A PREROUTING -d "$BENCH_RANGE" -j KUBE-PUBLIC
rule() {
	echo "-d $1/32 -p tcp -m tcp --dport $2 -j MARK --set-xmark 0x1/0xffffffff"
}

t0=$(now_ms)
for ((i = 0; i < n; i++)); do
	a=$(bench_ip $i)
	ip -n "$ns" addr add "$a/32" dev kiwi0 label kiwi0:kube
	ipt -A KUBE-PUBLIC $(rule "$a" 80 $i)
	ipt -A KUBE-PUBLIC $(rule "$a" 443 $i)
done
t1=$(now_ms)
[ "$(ip -n "$ns" -o addr show label kiwi0:kube | wc -l)" = "$n" ] ||
	fail "naive: addresses missing"
[ "$(ip netns exec "$ns" iptables-legacy-save -t mangle |
	grep -c '^-A KUBE-PUBLIC')" = $((2 * n)) ] || fail "naive: rules missing"
t2=$(now_ms)
for ((i = 0; i < n; i++)); do
	a=$(bench_ip $i)
	ip -n "$ns" addr del "$a/32" dev kiwi0
	ipt -D KUBE-PUBLIC $(rule "$a" 80 $i)
	ipt -D KUBE-PUBLIC $(rule "$a" 443 $i)
done
t3=$(now_ms)

if [ "${BENCH_HEADER:-1}" = 1 ]; then
	printf "%6s %-12s %9s %9s %11s %14s %10s\n" N what kiwi_ms \
		naive_ms naive/kiwi netagent_ms naive/agent
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0fx", (b > 0 ? a / b : 0) }'; }
printf "%6s %-12s %9s %9s %11s %14s %10s\n" "$n" apply "$k_apply" \
	$((t1 - t0)) "$(ratio $((t1 - t0)) "$k_apply")" "$k_na" \
	"$(ratio $((t1 - t0)) "$k_na")"
printf "%6s %-12s %9s %9s %11s %14s %10s\n" "$n" remove "$k_remove" \
	$((t3 - t2)) "$(ratio $((t3 - t2)) "$k_remove")" - -
