# Shell helpers for kiwi's namespace integration tests.  Source it; it
# sets -eu, and removes everything the test made when the test exits,
# whether it passed or not.
#
#   need_root                 skip (exit 77) unless root
#   netns_new NAME            make a namespace kiwi-t-NAME-$$, loopback up;
#                             prints the namespace's name
#   etcd_start [NETNS]        start a private etcd on loopback (in NETNS if
#                             given); sets ETCD_URL, ETCD_PEER_URL and
#                             ETCD_PID
#   etcd_cluster_start N [NETNS]
#                             start an N-member etcd cluster on loopback
#                             (or on $ETCD_HOST, an address in NETNS);
#                             sets ETCD_URLS (comma-separated client URLs,
#                             first member first), ETCD_PIDS (their pids,
#                             in the same order) and ETCD_URL (the first)
#   wait_for SECONDS CMD...   retry CMD every 0.1 s until it succeeds
#   fail MESSAGE              print and exit 1
#   on_exit CMD...            run CMD at exit (last registered runs first)
#   kube_fixture_start [NETNS] [ARGS...]
#                             start the Kubernetes API fixture on loopback;
#                             sets KUBE_URL, KUBE_PORT and KUBE_PID
#   tls_make_certs DIR        a throwaway CA, a server certificate for
#                             127.0.0.1 and a client certificate, in DIR
#
# One kiwi on one node, in namespaces (see each function's comment):
#
#   in_netns NETNS CMD...     CMD in NETNS, or here when NETNS is ""
#   in_node CMD...            CMD in $node
#   single_node NAME          $node with kiwi0 and its peer, etcd in it
#   node_with_client NAME     $node and $client joined by kiwi0, etcd
#   service_seed NS NAME IPS PORTS [SPEC]
#                             a --seed file with one Service; prints it
#   kube_service_put NS NAME IPS PORTS [SPEC]
#   kube_service_delete NS NAME
#                             change the running fixture's Services
#   kiwi_start [ARGS...]      start kiwi in $node; sets KIWI_PID
#   kiwi_wait_ready [SECS [FILE]]
#                             wait for kiwi's readiness line
#   kiwi_stop [WHAT]          SIGTERM kiwi; fails unless it exits 0
#   kiwi_show                 print kiwi's log
#   expect_within SECS WHAT CMD...
#                             wait_for, else show kiwi's log and fail

set -eu

KIWI_BUILD=${KIWI_BUILD:-$(pwd)}
KIWI_SRC=${KIWI_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T_TMP=$(mktemp -d /tmp/kiwi-test.XXXXXX)
T_CLEANUP=()

t_run_cleanup() {
	local rc=$? i
	set +e
	for ((i = ${#T_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${T_CLEANUP[$i]}" >/dev/null 2>&1
	done
	# netns_new runs in $(...), where on_exit cannot reach us: find
	# the namespaces by name ($$ is this shell's pid in subshells too).
	for i in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $i in kiwi-t-*-$$) ip netns del "$i" ;; esac
	done
	if [ -n "${KIWI_TEST_KEEP:-}" ]; then
		echo "keeping $T_TMP" >&2
	else
		rm -rf "$T_TMP"
	fi
	exit $rc
}
trap t_run_cleanup EXIT
trap 'exit 130' INT TERM

on_exit() {
	T_CLEANUP+=("$*")
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root" >&2
		exit 77
	fi
}

netns_new() {
	local ns="kiwi-t-$1-$$"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	echo "$ns"
}

# A free TCP port on loopback (racy in principle, fine for tests).
free_port() {
	python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

etcd_start() {
	local ns=${1:-} cport pport dir exec=()
	cport=$(free_port)
	pport=$(free_port)
	dir="$T_TMP/etcd-$cport"
	[ -n "$ns" ] && exec=(ip netns exec "$ns")
	"${exec[@]}" etcd --name kiwi-test --data-dir "$dir" \
		--listen-client-urls "http://127.0.0.1:$cport" \
		--advertise-client-urls "http://127.0.0.1:$cport" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "kiwi-test=http://127.0.0.1:$pport" \
		--log-level error >"$T_TMP/etcd-$cport.log" 2>&1 &
	ETCD_PID=$!
	on_exit "kill $ETCD_PID; wait $ETCD_PID"
	ETCD_URL="http://127.0.0.1:$cport"
	ETCD_PEER_URL="http://127.0.0.1:$pport"
	ETCD_NS=$ns
	if ! wait_for 20 "${exec[@]}" curl -sf "$ETCD_URL/health"; then
		cat "$T_TMP/etcd-$cport.log" >&2
		fail "etcd did not start"
	fi
}

etcd_cluster_start() {
	local n=$1 ns=${2:-} i exec=() peers="" cports=() pports=() pid
	local h=${ETCD_HOST:-127.0.0.1}
	[ -n "$ns" ] && exec=(ip netns exec "$ns")
	for ((i = 1; i <= n; i++)); do
		cports[$i]=$(free_port)
		pports[$i]=$(free_port)
		peers+="${peers:+,}kiwi-c$i=http://$h:${pports[$i]}"
	done
	ETCD_URLS=""
	ETCD_PIDS=""
	for ((i = 1; i <= n; i++)); do
		"${exec[@]}" etcd --name "kiwi-c$i" \
			--data-dir "$T_TMP/etcd-c$i-${cports[$i]}" \
			--listen-client-urls "http://$h:${cports[$i]}" \
			--advertise-client-urls "http://$h:${cports[$i]}" \
			--listen-peer-urls "http://$h:${pports[$i]}" \
			--initial-advertise-peer-urls \
			"http://$h:${pports[$i]}" \
			--initial-cluster "$peers" \
			--initial-cluster-token "kiwi-test-$$" \
			--log-level error \
			>"$T_TMP/etcd-c$i.log" 2>&1 &
		pid=$!
		on_exit "kill $pid; wait $pid"
		ETCD_PIDS+="${ETCD_PIDS:+ }$pid"
		ETCD_URLS+="${ETCD_URLS:+,}http://$h:${cports[$i]}"
	done
	ETCD_URL=${ETCD_URLS%%,*}
	ETCD_NS=$ns
	for ((i = 1; i <= n; i++)); do
		if ! wait_for 30 "${exec[@]}" curl -sf \
			"http://$h:${cports[$i]}/health"; then
			cat "$T_TMP"/etcd-c*.log >&2
			fail "etcd member $i of $n did not start"
		fi
	done
}

# etcd_get KEY: the value stored at KEY, or nothing.
etcd_get() {
	local exec=()
	[ -n "${ETCD_NS:-}" ] && exec=(ip netns exec "$ETCD_NS")
	ETCDCTL_API=3 "${exec[@]}" etcdctl --endpoints "$ETCD_URL" \
		get --print-value-only "$1"
}

# kube_fixture_start [NETNS] [FIXTURE ARGS...]: start the Kubernetes API
# fixture (tests/fixture/kube_api.py) on a free port of $KUBE_HOST
# (default 127.0.0.1), in NETNS if given (pass "" for none), stopped at
# exit.  Sets KUBE_URL, KUBE_PORT, KUBE_PID and KUBE_NS (NETNS, where
# kube_service_put reaches it).  Extra arguments go to the fixture, e.g.
# --seed FILE, --bookmark-interval 1, --token T, --tls-cert PEM
# --tls-key PEM (then KUBE_URL is https://), --client-ca PEM.
kube_fixture_start() {
	local ns=${1:-} exec=() log scheme=http a host=${KUBE_HOST:-127.0.0.1}
	[ $# -gt 0 ] && shift
	for a in "$@"; do
		[ "$a" = --tls-cert ] && scheme=https
	done
	[ -n "$ns" ] && exec=(ip netns exec "$ns")
	KUBE_PORT=$(free_port)
	log="$T_TMP/kube-api-$KUBE_PORT.log"
	"${exec[@]}" python3 "$KIWI_SRC/tests/fixture/kube_api.py" \
		--listen "$host:$KUBE_PORT" "$@" >"$log" 2>&1 &
	KUBE_PID=$!
	on_exit "kill $KUBE_PID; wait $KUBE_PID"
	KUBE_URL="$scheme://$host:$KUBE_PORT"
	KUBE_NS=$ns
	if ! wait_for 20 grep -qx ready "$log"; then
		cat "$log" >&2
		fail "the Kubernetes API fixture did not start"
	fi
}

# tls_make_certs DIR: ca.pem, server.pem/server.key (for 127.0.0.1 and
# localhost) and client.pem/client.key (CN kiwi-test), made fresh for
# this test and removed with it.
tls_make_certs() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=kiwi-test-ca \
		-keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/server.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" \
		-CAkey "$d/ca.key" -CAcreateserial -days 1 \
		-extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=kiwi-test \
		-keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
	openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" \
		-CAkey "$d/ca.key" -CAcreateserial -days 1 \
		-out "$d/client.pem" 2>/dev/null
}

# in_netns NETNS CMD...: CMD in NETNS, or here when NETNS is "".  Not for
# what runs in the background: $! would be this function's subshell.
in_netns() {
	local ns=$1
	shift
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "$@"
	else
		"$@"
	fi
}

# in_node CMD...: CMD in the namespace $node (see single_node).
in_node() { ip netns exec "$node" "$@"; }

# single_node NAME: the namespace kiwi-t-NAME-$$ in $node, with the veth
# kiwi0 and its peer peer0 beside it, both up so that kiwi0 has a
# carrier, and etcd in it (ETCD_URL and the rest, as etcd_start).
single_node() {
	node=$(netns_new "$1")
	ip -n "$node" link add kiwi0 type veth peer name peer0
	ip -n "$node" link set kiwi0 up
	ip -n "$node" link set peer0 up
	etcd_start "$node"
}

# node_with_client NAME: the namespaces $node (kiwi-t-NAME-$$) and
# $client (kiwi-t-NAME-client-$$) joined by the veth kiwi0 (in $node,
# 10.99.0.1/24) and peer0 (in $client, 10.99.0.2/24); the client routes
# 198.51.100.0/24 over peer0, so traffic to kiwi's addresses reaches the
# node.  etcd runs in $node, as etcd_start.
node_with_client() {
	node=$(netns_new "$1")
	client=$(netns_new "$1-client")
	ip -n "$node" link add kiwi0 type veth peer name peer0 netns "$client"
	ip -n "$node" link set kiwi0 up
	ip -n "$client" link set peer0 up
	ip -n "$node" addr add 10.99.0.1/24 dev kiwi0
	ip -n "$client" addr add 10.99.0.2/24 dev peer0
	ip -n "$client" route add 198.51.100.0/24 dev peer0
	etcd_start "$node"
}

# service_json NS NAME IPS PORTS [SPEC]: the Service NS/NAME as JSON.
# IPS is a space-separated list of external IPs, PORTS one of PORT or
# PORT/PROTOCOL (e.g. "8080/TCP 53/UDP"); SPEC, if given, is more
# members of spec, e.g. '"ipFamilyPolicy": "PreferDualStack"'.
service_json() {
	local ips="" ports="" ip p more=""
	for ip in $3; do
		ips+="${ips:+, }\"$ip\""
	done
	for p in $4; do
		case $p in
		*/*) p="\"port\": ${p%/*}, \"protocol\": \"${p#*/}\"" ;;
		*) p="\"port\": $p" ;;
		esac
		ports+="${ports:+, }{$p}"
	done
	[ -n "${5:-}" ] && more=", $5"
	printf '{"apiVersion": "v1", "kind": "Service",\n'
	printf ' "metadata": {"namespace": "%s", "name": "%s"},\n' "$1" "$2"
	printf ' "spec": {"externalIPs": [%s], "ports": [%s]%s}}\n' \
		"$ips" "$ports" "$more"
}

# service_seed NS NAME IPS PORTS [SPEC]: write a --seed file for the
# fixture holding that one Service (as service_json); prints its path.
service_seed() {
	local f=$T_TMP/seed.json
	{
		echo "["
		service_json "$@"
		echo "]"
	} >"$f"
	echo "$f"
}

# kube_service_put NS NAME IPS PORTS [SPEC]: create or replace that
# Service in the running fixture (see kube_fixture_start).
kube_service_put() {
	in_netns "$KUBE_NS" curl -sf -X PUT \
		-H 'Content-Type: application/json' \
		"$KUBE_URL/fixture/services/$1/$2" -d "$(service_json "$@")" \
		>/dev/null || fail "cannot put Service $1/$2 in the fixture"
}

# kube_service_delete NS NAME: delete that Service from the fixture.
kube_service_delete() {
	in_netns "$KUBE_NS" curl -sf -X DELETE \
		"$KUBE_URL/fixture/services/$1/$2" >/dev/null ||
		fail "cannot delete Service $1/$2 from the fixture"
}

# What kiwi_start runs kiwi under, inside the namespace: a launcher such
# as setpriv, or nothing.  Its output goes to KIWI_LOG (appended).
KIWI_VIA=()
KIWI_LOG=$T_TMP/kiwi.log

# kiwi_start [ARGS...]: start $KIWI_BUILD/kiwi in $node on kiwi0,
# against $KUBE_URL and $ETCD_URL, ignoring /etc/kiwi.conf, with ARGS
# after those; through "${KIWI_VIA[@]}", output appended to $KIWI_LOG.
# Sets KIWI_PID; whatever of it still runs at exit is killed.
kiwi_start() {
	ip netns exec "$node" "${KIWI_VIA[@]}" "$KIWI_BUILD/kiwi" \
		--config=/dev/null --interface kiwi0 \
		--kube-endpoint "$KUBE_URL" --etcd-endpoint "$ETCD_URL" \
		"$@" >>"$KIWI_LOG" 2>&1 &
	KIWI_PID=$!
	on_exit "pkill -9 -P $KIWI_PID; kill -9 $KIWI_PID"
}

# kiwi_show: print kiwi's log, when it is a file (not a terminal).
kiwi_show() {
	[ -f "$KIWI_LOG" ] || return 0
	echo "--- kiwi log ($KIWI_LOG)"
	cat "$KIWI_LOG"
}

# expect_within SECS WHAT CMD...: wait up to SECS for CMD to succeed;
# else print kiwi's log and fail with WHAT.
expect_within() {
	local secs=$1 what=$2
	shift 2
	wait_for "$secs" "$@" || { kiwi_show; fail "$what"; }
}

# kiwi_wait_ready [SECS [FILE]]: wait up to SECS (default 15) for kiwi's
# readiness line (the first full set of Services reconciled) in FILE
# (default $KIWI_LOG); else print FILE and kiwi's log and fail.
kiwi_wait_ready() {
	local secs=${1:-15} file=${2:-$KIWI_LOG}
	wait_for "$secs" grep -q "ready: the first full set" "$file" && return
	[ "$file" = "$KIWI_LOG" ] || { echo "--- $file"; cat "$file"; }
	kiwi_show
	fail "kiwi was not ready within $secs s"
}

# Whether kiwi has exited: a zombie still answers kill -0.
kiwi_exited() {
	case $(ps -o stat= -p "$KIWI_PID") in
	Z* | "") return 0 ;;
	esac
	return 1
}

# kiwi_stop [WHAT]: SIGTERM kiwi and wait up to 15 s for it; unless it
# exits 0 in time, print its log and fail, naming WHAT.
kiwi_stop() {
	local rc=0
	# It may have died already: then wait says how.
	kill -TERM "$KIWI_PID" 2>/dev/null || true
	if ! wait_for 15 kiwi_exited; then
		kiwi_show
		fail "${1:+$1: }kiwi did not stop within 15 s of SIGTERM"
	fi
	wait "$KIWI_PID" || rc=$?
	[ $rc = 0 ] && return
	kiwi_show
	fail "${1:+$1: }kiwi exited with status $rc"
}
