# Shell helpers for kiwi's benchmarks.  Source it; it sources
# tests/lib/common.sh, so everything made here (namespaces, etcd, the
# fixture, kiwi, the kernel sampler) is removed when the script exits,
# whether it finished or not.
#
#   bench_node NAME [FIXTURE ARGS...]
#                           a namespace with veth kiwi0 (carrier up, the
#                           peer in a second namespace), a private etcd
#                           and the fixture inside it; sets NODE and the
#                           variables of etcd_start and kube_fixture_start
#   bench_seed N FILE       N Services bench/s<i>, one external IP and
#                           two TCP ports each, as a --seed file
#   bench_ip I              the external IP of Service number I
#   kstate_start US         sample the node's kernel every US
#                           microseconds into $KSTATE_LOG
#   kstate_wait SECS A R T0 the time (ms) of the first sample at or after
#                           T0 with A addresses and R rules in all
#   kiwi_start [ARGS...]    start kiwi in the node, its log lines
#                           stamped with the time into $T_TMP/kiwi.log;
#                           sets KIWI_PID
#   now_ms                  ms since the epoch
set -eu
BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export KIWI_SRC=$BENCH_SRC
export KIWI_BUILD=${KIWI_BUILD:-$BENCH_SRC/build}
. "$BENCH_SRC/tests/lib/common.sh"
need_root

BENCH_RANGE=198.18.0.0/15
KSTATE=${KSTATE:-$KIWI_BUILD/bench/kstate}

[ -x "$KIWI_BUILD/kiwi" ] || fail "no $KIWI_BUILD/kiwi: run tools/build.sh"
if [ ! -x "$KSTATE" ]; then
	cmake -S "$BENCH_SRC/bench" -B "$KIWI_BUILD/bench" >/dev/null
	cmake --build "$KIWI_BUILD/bench" >/dev/null
fi

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

bench_ip() {
	local i=$(($1 + 256))
	echo "198.$((18 + (i >> 16))).$(((i >> 8) & 255)).$((i & 255))"
}

bench_seed() {
	python3 - "$1" >"$2" <<'PY'
import json, sys
n = int(sys.argv[1])
out = []
for i in range(n):
    j = i + 256
    ip = "198.%d.%d.%d" % (18 + (j >> 16), (j >> 8) & 255, j & 255)
    out.append({"apiVersion": "v1", "kind": "Service",
                "metadata": {"namespace": "bench", "name": "s%d" % i},
                "spec": {"externalIPs": [ip],
                         "ports": [{"port": 80, "protocol": "TCP"},
                                   {"port": 443, "protocol": "TCP"}]}})
json.dump(out, sys.stdout)
PY
}

bench_node() {
	node_with_client "$1"
	shift
	NODE=$node
	kube_fixture_start "$NODE" "$@"
}

kstate_start() {
	KSTATE_LOG=$T_TMP/kstate.log
	ip netns exec "$NODE" "$KSTATE" "$1" "$BENCH_RANGE" \
		>"$KSTATE_LOG" 2>&1 &
	KSTATE_PID=$!
	on_exit "kill $KSTATE_PID; wait $KSTATE_PID"
	# BENCH_KEEP_LOG=PATH keeps kiwi's log and the samples, also after
	# a failure (registered last, so it runs before the cleanup).
	if [ -n "${BENCH_KEEP_LOG:-}" ]; then
		on_exit "cp $T_TMP/kiwi.log $BENCH_KEEP_LOG;" \
			"cp $KSTATE_LOG $BENCH_KEEP_LOG.kstate;" \
			"cp $T_TMP/events.log $BENCH_KEEP_LOG.events"
	fi
	wait_for 10 grep -q sampling "$KSTATE_LOG" ||
		fail "kstate did not start: $(cat "$KSTATE_LOG")"
}

kstate_at() {
	awk -v a="$1" -v r="$2" -v t0="$3" '$2 == "total" && $3 == a &&
	    $4 == r && $1 >= t0 { printf "%.0f\n", $1; found = 1; exit }
	    END { exit !found }' "$KSTATE_LOG"
}

kstate_wait() {
	local secs=$1 a=$2 r=$3 t0=$4
	wait_for "$secs" kstate_at "$a" "$r" "$t0" || return 1
	kstate_at "$a" "$r" "$t0"
}

kiwi_start() {
	ip netns exec "$NODE" "$KIWI_BUILD/kiwi" --config /dev/null \
		--interface kiwi0 --cidr-range "$BENCH_RANGE" \
		--kube-endpoint "$KUBE_URL" --etcd-endpoint "$ETCD_URL" \
		--node-name bench-node "$@" \
		> >(python3 "$BENCH_SRC/bench/stamp.py" >"$T_TMP/kiwi.log") 2>&1 &
	KIWI_PID=$!
	on_exit "kill -9 $KIWI_PID"
}

# The sum of etcd's gRPC messages received, all methods: every request
# of the JSON gateway is at least one.
etcd_requests() {
	ip netns exec "$NODE" curl -sf "$ETCD_URL/metrics" | awk '
	    /^grpc_server_msg_received_total/ { s += $NF } END { printf "%d\n", s }'
}
