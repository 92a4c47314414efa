#!/bin/bash
# Crash recovery on one node: each worker killed on its own is noticed,
# logged and restarted with the others; the address comes back; a kiwi
# killed whole with SIGKILL leaves leftovers that the next start sweeps
# before it claims again.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
need_root
kiwi=$KIWI_BUILD/kiwi
ip_a=198.51.100.40
node=$(netns_new restart)
ip -n "$node" link add kiwi0 type veth peer name peer0
ip -n "$node" link set kiwi0 up
ip -n "$node" link set peer0 up
etcd_start "$node"
cat >"$T_TMP/seed.json" <<JSON
[{"apiVersion": "v1", "kind": "Service",
  "metadata": {"namespace": "default", "name": "web"},
  "spec": {"externalIPs": ["$ip_a"], "ports": [{"port": 80}]}}]
JSON
kube_fixture_start "$node" --seed "$T_TMP/seed.json"
in_node() { ip netns exec "$node" "$@"; }
count_addr() { in_node ip -o addr show dev kiwi0 | grep -c "inet $ip_a/32" || true; }
has_addr() { [ "$(count_addr)" = 1 ]; }
count_rules() { in_node iptables-legacy-save -t mangle | grep -c -- "-d $ip_a/32" || true; }
worker() { pgrep -P "$1" -x "$2"; }

start_kiwi() {
	ip netns exec "$node" "$kiwi" --config=/dev/null --interface kiwi0 \
		--kube-endpoint "$KUBE_URL" --etcd-endpoint "$ETCD_URL" \
		--ttl 3 --node-name node-r >>"$T_TMP/kiwi.log" 2>&1 &
	pid=$!
	on_exit "kill -9 $pid"
}
show() { echo "--- kiwi"; cat "$T_TMP/kiwi.log"; }

start_kiwi
wait_for 10 has_addr || { show; fail "no address at start"; }
for w in kiwi-netagent kiwi-claimer kiwi-watcher; do
	old=$(worker $pid $w) || fail "no $w"
	removed=$(grep -c "removed $ip_a from kiwi0" "$T_TMP/kiwi.log" || true)
	kill -9 "$old"
	wait_for 10 grep -q "$w was killed by signal 9" "$T_TMP/kiwi.log" ||
		{ show; fail "the supervisor did not log $w's death"; }
	wait_for 15 sh -c "pgrep -P $pid -x $w | grep -vx $old" ||
		{ show; fail "$w was not restarted"; }
	# Nobody vouches for the address while the claimer is gone.
	[ $w != kiwi-claimer ] || wait_for 5 sh -c "[ \$(grep -c 'removed $ip_a from kiwi0' $T_TMP/kiwi.log) -gt $removed ]" ||
		{ show; fail "the address was not withdrawn when the claimer died"; }
	wait_for 15 has_addr || { show; fail "address not back after $w died"; }
	[ "$(count_rules)" = 1 ] || fail "rules after $w died: $(count_rules)"
	for other in kiwi-netagent kiwi-claimer kiwi-watcher; do
		[ "$(pgrep -P $pid -x $other | wc -l)" = 1 ] ||
			fail "not exactly one $other after $w died"
	done
	echo "restart: $w killed, all restarted, address back"
done

# SIGKILL the whole tree: the address and rules stay behind.
pkill -9 -P $pid
kill -9 $pid
wait $pid 2>/dev/null || true
sleep 0.2
[ "$(count_addr)" = 1 ] || fail "expected a leftover address after SIGKILL"
: >"$T_TMP/kiwi.log"
start_kiwi
wait_for 15 grep -q "ready: the first full set" "$T_TMP/kiwi.log" ||
	{ show; fail "not ready after a restart"; }
grep -q "removed leftover $ip_a from kiwi0" "$T_TMP/kiwi.log" ||
	{ show; fail "the leftover address was not swept"; }
grep -q "removed leftover chain KUBE-PUBLIC" "$T_TMP/kiwi.log" ||
	{ show; fail "the leftover chain was not swept"; }
wait_for 15 has_addr || { show; fail "address not back after a restart"; }
[ "$(count_rules)" = 1 ] || fail "duplicate rules after restart: $(count_rules)"
kill -TERM $pid
wait $pid || { show; fail "exit status $? after restarts"; }
[ "$(count_addr)" = 0 ] || fail "address left at exit"
echo "restart: ok"
