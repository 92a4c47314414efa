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
#                             start an N-member etcd cluster on loopback;
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
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
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
	[ -n "$ns" ] && exec=(ip netns exec "$ns")
	for ((i = 1; i <= n; i++)); do
		cports[$i]=$(free_port)
		pports[$i]=$(free_port)
		peers+="${peers:+,}kiwi-c$i=http://127.0.0.1:${pports[$i]}"
	done
	ETCD_URLS=""
	ETCD_PIDS=""
	for ((i = 1; i <= n; i++)); do
		"${exec[@]}" etcd --name "kiwi-c$i" \
			--data-dir "$T_TMP/etcd-c$i-${cports[$i]}" \
			--listen-client-urls "http://127.0.0.1:${cports[$i]}" \
			--advertise-client-urls "http://127.0.0.1:${cports[$i]}" \
			--listen-peer-urls "http://127.0.0.1:${pports[$i]}" \
			--initial-advertise-peer-urls \
			"http://127.0.0.1:${pports[$i]}" \
			--initial-cluster "$peers" \
			--initial-cluster-token "kiwi-test-$$" \
			--log-level error \
			>"$T_TMP/etcd-c$i.log" 2>&1 &
		pid=$!
		on_exit "kill $pid; wait $pid"
		ETCD_PIDS+="${ETCD_PIDS:+ }$pid"
		ETCD_URLS+="${ETCD_URLS:+,}http://127.0.0.1:${cports[$i]}"
	done
	ETCD_URL=${ETCD_URLS%%,*}
	ETCD_NS=$ns
	for ((i = 1; i <= n; i++)); do
		if ! wait_for 30 "${exec[@]}" curl -sf \
			"http://127.0.0.1:${cports[$i]}/health"; then
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
# fixture (tests/fixture/kube_api.py) on a free loopback port, in NETNS
# if given (pass "" for none), stopped at exit.  Sets KUBE_URL, KUBE_PORT
# and KUBE_PID.  Extra arguments go to the fixture, e.g. --seed FILE,
# --bookmark-interval 1, --token T, --tls-cert PEM --tls-key PEM (then
# KUBE_URL is https://), --client-ca PEM.
kube_fixture_start() {
	local ns=${1:-} exec=() log scheme=http a
	[ $# -gt 0 ] && shift
	for a in "$@"; do
		[ "$a" = --tls-cert ] && scheme=https
	done
	[ -n "$ns" ] && exec=(ip netns exec "$ns")
	KUBE_PORT=$(free_port)
	log="$T_TMP/kube-api-$KUBE_PORT.log"
	"${exec[@]}" python3 "$KIWI_SRC/tests/fixture/kube_api.py" \
		--listen "127.0.0.1:$KUBE_PORT" "$@" >"$log" 2>&1 &
	KUBE_PID=$!
	on_exit "kill $KUBE_PID; wait $KUBE_PID"
	KUBE_URL="$scheme://127.0.0.1:$KUBE_PORT"
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
