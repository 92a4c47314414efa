# What the operator's-view tests (status.sh, metrics.sh, dryrun.sh)
# share.  Source it after tests/lib/common.sh.
#
#   node_start NAME           a namespace with the veth kiwi0 (its peer
#                             peer0 up, for a carrier), etcd in it; sets
#                             node, RUN (a directory for the control
#                             socket, removed at exit) and in_node
#   web_seed IP...            a seed file with default/web on IP...,
#                             port 8080/TCP; prints its path

node_start() {
	node=$(netns_new "$1")
	ip -n "$node" link add kiwi0 type veth peer name peer0
	ip -n "$node" link set kiwi0 up
	ip -n "$node" link set peer0 up
	# Not below T_TMP: the claimer runs as nobody and must reach it.
	RUN=/run/kiwi-t-$1-$$
	on_exit "rm -rf $RUN"
	etcd_start "$node"
}

in_node() { ip netns exec "$node" "$@"; }

web_seed() {
	local ips
	ips=$(printf '"%s", ' "$@")
	cat >"$T_TMP/seed.json" <<JSON
[{"apiVersion": "v1", "kind": "Service",
  "metadata": {"namespace": "default", "name": "web"},
  "spec": {"externalIPs": [${ips%, }],
           "ports": [{"port": 8080, "protocol": "TCP"}]}}]
JSON
	echo "$T_TMP/seed.json"
}
