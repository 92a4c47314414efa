#!/bin/bash
# Crash recovery on one node: each worker killed on its own is noticed,
# logged and restarted with the others; the address comes back; a kiwi
# killed whole with SIGKILL leaves leftovers that the next start sweeps
# before it claims again.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
need_root
ip_a=198.51.100.40
single_node restart
kube_fixture_start "$node" --seed "$(service_seed default web "$ip_a" 80)"
count_addr() { in_node ip -o addr show dev kiwi0 | grep -c "inet $ip_a/32" || true; }
has_addr() { [ "$(count_addr)" = 1 ]; }
count_rules() { in_node iptables-legacy-save -t mangle | grep -c -- "-d $ip_a/32" || true; }
worker() { pgrep -P "$1" -x "$2"; }
removals() { grep -c "removed $ip_a from kiwi0" "$KIWI_LOG" || true; }
removed_since() { [ "$(removals)" -gt "$1" ]; }

start_kiwi() {
	kiwi_start --ttl 3 --node-name node-r
	pid=$KIWI_PID
}

start_kiwi
expect_within 10 "no address at start" has_addr
for w in kiwi-netagent kiwi-claimer kiwi-watcher; do
	old=$(worker $pid $w) || fail "no $w"
	removed=$(removals)
	kill -9 "$old"
	expect_within 10 "the supervisor did not log $w's death" \
		grep -q "$w was killed by signal 9" "$KIWI_LOG"
	expect_within 15 "$w was not restarted" \
		sh -c "pgrep -P $pid -x $w | grep -vx $old"
	# Nobody vouches for the address while the claimer is gone.
	[ $w != kiwi-claimer ] || expect_within 5 \
		"the address was not withdrawn when the claimer died" \
		removed_since "$removed"
	expect_within 15 "address not back after $w died" has_addr
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
: >"$KIWI_LOG"
start_kiwi
kiwi_wait_ready 15
grep -q "removed leftover $ip_a from kiwi0" "$KIWI_LOG" ||
	{ kiwi_show; fail "the leftover address was not swept"; }
grep -q "removed leftover chain KUBE-PUBLIC" "$KIWI_LOG" ||
	{ kiwi_show; fail "the leftover chain was not swept"; }
expect_within 15 "address not back after a restart" has_addr
[ "$(count_rules)" = 1 ] || fail "duplicate rules after restart: $(count_rules)"
kiwi_stop "after restarts"
[ "$(count_addr)" = 0 ] || fail "address left at exit"
echo "restart: ok"
