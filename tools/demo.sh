#!/bin/bash
# A demo of kiwi's main job on an embedded default: a throwaway network
# namespace with a veth interface, a private etcd and the Kubernetes API
# fixture serving one Service with an external IP.  It shows what kiwi
# did, deletes the Service, stops kiwi, and removes everything.
set -eu
cd "$(dirname "$0")/.."
tools/deps.sh
tools/build.sh
KIWI_BUILD=$(pwd)/build KIWI_SRC=$(pwd)
. tests/lib/common.sh
need_root
ip_a=198.51.100.10

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
single_node demo
kube_fixture_start "$node" --seed "$(service_seed default web "$ip_a" \
	"80/TCP 443/TCP")"

say "Service default/web wants external IP $ip_a (ports 80, 443)"
say "starting kiwi in namespace $node"
# Its own control socket, so that a kiwi of the host's is not asked.
sock=$T_TMP/kiwi.sock
echo "kiwi --config=/dev/null --interface kiwi0 --cidr-range 198.51.100.0/24" \
	"--kube-endpoint $KUBE_URL --etcd-endpoint $ETCD_URL" \
	"--control-socket $sock"
# kiwi's own lines go to the terminal, indented under the demo's.
KIWI_LOG=/dev/stdout
kiwi_start --cidr-range 198.51.100.0/24 --node-name demo-node \
	--control-socket "$sock" > >(sed -u "s/^/    | /")
wait_for 15 sh -c "ip -n $node -o addr show dev kiwi0 | grep -q $ip_a" ||
	fail "kiwi did not add $ip_a"
sleep 0.5

say "ip addr show dev kiwi0"
in_node ip addr show dev kiwi0
say "iptables-legacy-save -t mangle"
in_node iptables-legacy-save -t mangle | grep -v '^#'
say "etcd: /kiwi/publicips/$ip_a"
etcd_get "/kiwi/publicips/$ip_a"
say "kiwi status (what the daemon says it holds)"
"$KIWI_BUILD/kiwi" status --control-socket "$sock"

say "deleting Service default/web"
kube_service_delete default web
wait_for 10 sh -c "! ip -n $node -o addr show dev kiwi0 | grep -q $ip_a" ||
	fail "kiwi did not remove $ip_a"
in_node ip addr show dev kiwi0
in_node iptables-legacy-save -t mangle | grep KUBE-PUBLIC || true
echo "etcd key: '$(etcd_get "/kiwi/publicips/$ip_a")'"

say "stopping kiwi (SIGTERM)"
kiwi_stop
in_node iptables-legacy-save -t mangle | grep -q KUBE-PUBLIC &&
	fail "KUBE-PUBLIC left behind"
say "kiwi stopped and left nothing behind; removing the demo namespace"
