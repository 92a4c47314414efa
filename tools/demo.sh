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
node=$(netns_new demo)
ip -n "$node" link add kiwi0 type veth peer name peer0
ip -n "$node" link set kiwi0 up
ip -n "$node" link set peer0 up
etcd_start "$node"
cat >"$T_TMP/seed.json" <<JSON
[{"apiVersion": "v1", "kind": "Service",
  "metadata": {"namespace": "default", "name": "web"},
  "spec": {"externalIPs": ["$ip_a"],
           "ports": [{"port": 80, "protocol": "TCP"},
                     {"port": 443, "protocol": "TCP"}]}}]
JSON
kube_fixture_start "$node" --seed "$T_TMP/seed.json"
in_node() { ip netns exec "$node" "$@"; }

say "Service default/web wants external IP $ip_a (ports 80, 443)"
say "starting kiwi in namespace $node"
echo "kiwi --interface kiwi0 --cidr-range 198.51.100.0/24" \
	"--kube-endpoint $KUBE_URL --etcd-endpoint $ETCD_URL"
in_node build/kiwi --interface kiwi0 --cidr-range 198.51.100.0/24 \
	--kube-endpoint "$KUBE_URL" --etcd-endpoint "$ETCD_URL" \
	--node-name demo-node 2>&1 | sed -u "s/^/    | /" &
on_exit "pkill -9 -x kiwi"
wait_for 15 sh -c "ip -n $node -o addr show dev kiwi0 | grep -q $ip_a" ||
	fail "kiwi did not add $ip_a"
sleep 0.5

say "ip addr show dev kiwi0"
in_node ip addr show dev kiwi0
say "iptables-legacy-save -t mangle"
in_node iptables-legacy-save -t mangle | grep -v '^#'
say "etcd: /kiwi/publicips/$ip_a"
etcd_get "/kiwi/publicips/$ip_a"

say "deleting Service default/web"
in_node curl -sf -X DELETE "$KUBE_URL/fixture/services/default/web" >/dev/null
wait_for 10 sh -c "! ip -n $node -o addr show dev kiwi0 | grep -q $ip_a" ||
	fail "kiwi did not remove $ip_a"
in_node ip addr show dev kiwi0
in_node iptables-legacy-save -t mangle | grep KUBE-PUBLIC || true
echo "etcd key: '$(etcd_get "/kiwi/publicips/$ip_a")'"

say "stopping kiwi (SIGTERM)"
pkill -TERM -x kiwi
wait_for 10 sh -c '! pgrep -x kiwi' || fail "kiwi did not stop"
in_node iptables-legacy-save -t mangle | grep -q KUBE-PUBLIC &&
	fail "KUBE-PUBLIC left behind"
say "kiwi stopped and left nothing behind; removing the demo namespace"
