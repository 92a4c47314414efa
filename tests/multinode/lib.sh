# The multi-node harness: a hub namespace with a bridge, a three-member
# etcd cluster and the Kubernetes API fixture in it; node namespaces
# each with a veth on the bridge as kiwi's interface and a kiwi of its
# own; a client namespace on the bridge.  The sampler watches every
# node's addresses every few ms and fails the test on any overlap.
#
#   mn_setup NODES              hub, etcd cluster, fixture, NODES nodes;
#                               with MN_MGMT=1 each node reaches the hub
#                               over a second link, mgmt0
#   mn_service NS NAME IPS...   create or replace a Service
#   mn_start I [ARGS...]        start kiwi on node I (1-based)
#   mn_stop I                   SIGTERM it and wait; fails on a bad exit
#   mn_kill I                   SIGKILL its whole process tree
#   mn_holder IP                print the node holding IP now, or "-"
#   mn_wait_holder IP SECS      wait for some node to hold IP; prints it
#   mn_now                      ms since the epoch (the sampler's clock)
#   mn_held_after IP MS [NODE]  the first sampler line at or after MS in
#                               which some node (not NODE) holds IP
#   mn_taken_after IP MS [NODE] whether that line exists yet
#   mn_check_overlap            fail if the sampler saw an overlap
. "${KIWI_SRC:-$(dirname "${BASH_SOURCE[0]}")/../..}/tests/lib/common.sh"
need_root

MN_HUB=""
MN_NODES=()
MN_PIDS=()
MN_TTL=${MN_TTL:-2}
MN_RANGE=198.51.100.0/24
MN_HUB_IP=10.77.0.1
MN_ETCD=""

# Not for what runs in the background: $! of a function is its subshell,
# and killing that would leave the command running.
in_hub() { ip netns exec "$MN_HUB" "$@"; }

# A three-member cluster on the hub's bridge address, where the nodes
# reach it; MN_ETCD_PIDS[I] is member I's pid (1-based).
mn_etcd_cluster() {
	local i=1 pid
	ETCD_HOST=$MN_HUB_IP etcd_cluster_start 3 "$MN_HUB"
	MN_ETCD=$ETCD_URLS
	for pid in $ETCD_PIDS; do
		MN_ETCD_PIDS[$i]=$pid
		i=$((i + 1))
	done
}

mn_link() {
	local ns=$1 dev=$2 hubdev=$3 addr=$4
	ip -n "$MN_HUB" link add "$hubdev" type veth peer name "$dev" netns "$ns"
	ip -n "$MN_HUB" link set "$hubdev" master br0 up
	ip -n "$ns" link set "$dev" up
	ip -n "$ns" addr add "$addr/24" dev "$dev"
}

mn_setup() {
	local n=$1 i ns
	MN_HUB=$(netns_new hub)
	ip -n "$MN_HUB" link add br0 type bridge
	ip -n "$MN_HUB" link set br0 up
	ip -n "$MN_HUB" addr add "$MN_HUB_IP/24" dev br0
	for ((i = 1; i <= n; i++)); do
		ns=$(netns_new "n$i")
		MN_NODES[$i]=$ns
		mn_link "$ns" kiwi0 "h$i" "10.77.0.$((10 + i))"
		[ "${MN_MGMT:-0}" = 1 ] || continue
		# A second link for etcd and the API, so that kiwi0 can
		# go down without cutting the node off from them.
		mn_link "$ns" mgmt0 "m$i" "10.77.0.$((30 + i))"
		ip -n "$ns" route add "$MN_HUB_IP/32" dev mgmt0 \
			src "10.77.0.$((30 + i))"
	done
	MN_CLIENT=$(netns_new client)
	mn_link "$MN_CLIENT" cl0 hc 10.77.0.100
	ip -n "$MN_CLIENT" route add "$MN_RANGE" dev cl0
	mn_etcd_cluster
	mn_fixture
	mn_sampler
}

# The fixture on the hub's bridge address, where the nodes reach it.
mn_fixture() {
	KUBE_HOST=$MN_HUB_IP kube_fixture_start "$MN_HUB"
}

mn_sampler() {
	"$KIWI_BUILD/multinode_sampler" 5 "$MN_RANGE" "${MN_NODES[@]:1}" \
		>"$T_TMP/sampler.log" 2>&1 &
	MN_SAMPLER=$!
	on_exit "kill $MN_SAMPLER"
	wait_for 10 grep -q sampling "$T_TMP/sampler.log" || fail "no sampler"
}

mn_check_overlap() {
	if grep -q OVERLAP "$T_TMP/sampler.log" ||
		! kill -0 "$MN_SAMPLER" 2>/dev/null; then
		cat "$T_TMP/sampler.log"
		fail "an address was held by two nodes at once"
	fi
}

mn_service() {
	kube_service_put "$1" "$2" "${*:3}" 80
}

mn_start() {
	local i=$1
	shift
	ip netns exec "${MN_NODES[$i]}" "$KIWI_BUILD/kiwi" --config=/dev/null \
		--interface kiwi0 --cidr-range "$MN_RANGE" \
		--kube-endpoint "$KUBE_URL" --etcd-endpoint "$MN_ETCD" \
		--ttl "$MN_TTL" --node-name "node$i" "$@" \
		>>"$T_TMP/kiwi$i.log" 2>&1 &
	MN_PIDS[$i]=$!
	on_exit "kill -9 ${MN_PIDS[$i]}"
}

mn_stop() {
	local i=$1 rc=0
	kill -TERM "${MN_PIDS[$i]}"
	wait "${MN_PIDS[$i]}" || rc=$?
	[ $rc = 0 ] || { cat "$T_TMP/kiwi$i.log"; fail "node$i exited $rc"; }
}

mn_kill() {
	local i=$1
	pkill -9 -P "${MN_PIDS[$i]}" || true
	kill -9 "${MN_PIDS[$i]}" 2>/dev/null || true
	wait "${MN_PIDS[$i]}" 2>/dev/null || true
}

mn_holder() {
	local ip=$1 i who="-"
	for ((i = 1; i < ${#MN_NODES[@]} + 1; i++)); do
		[ -n "${MN_NODES[$i]:-}" ] || continue
		if ip -n "${MN_NODES[$i]}" -o addr show dev kiwi0 2>/dev/null |
			grep -q "inet $ip/32"; then
			who=$i
		fi
	done
	echo "$who"
}

mn_wait_holder() {
	local ip=$1 secs=$2 n
	for ((n = 0; n < secs * 20; n++)); do
		if [ "$(mn_holder "$ip")" != - ]; then
			mn_holder "$ip"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# Milliseconds since the epoch: the sampler's clock too.
mn_now() { date +%s%3N; }

# Whether the sampler saw some node hold IP at or after MS.
mn_taken_after() { [ -n "$(mn_held_after "$@")" ]; }

# The first sampler line at or after MS where some node (other than
# NODE, when given) holds IP.
mn_held_after() {
	awk -v ip="$1" -v after="$2" -v not="${3:--}" '$2 == ip &&
	    $1 >= after && $3 != "-" && $3 != not {print; exit}' \
		"$T_TMP/sampler.log"
}
