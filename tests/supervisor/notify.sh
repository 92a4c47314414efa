#!/bin/bash
# systemd's notification protocol, with a socket that plays systemd:
# READY=1 only once the first list is reconciled (the address is on the
# interface by then), WATCHDOG=1 at half the interval while the workers
# live, STOPPING=1 on SIGTERM.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
need_root
ip_a=198.51.100.30
single_node notify
kube_fixture_start "$node" --seed "$(service_seed default web "$ip_a" 80)"

sock=$T_TMP/notify.sock
/usr/bin/python3 "$KIWI_SRC/tests/supervisor/notify_peer.py" "$sock" \
	sh -c "ip -n $node -o addr show dev kiwi0 | grep -q 'inet $ip_a/32'" \
	>"$T_TMP/notify.log" 2>&1 &
peer=$!
on_exit "kill $peer"
wait_for 10 grep -q listening "$T_TMP/notify.log" || fail "no notify peer"

NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 kiwi_start --ttl 3
show() { echo "--- notify"; cat "$T_TMP/notify.log"; kiwi_show; }

wait_for 15 grep -q "READY=1" "$T_TMP/notify.log" || { show; fail "no READY=1"; }
wait_for 5 grep -q "CHECK" "$T_TMP/notify.log" || { show; fail "no check"; }
grep -q "CHECK 0" "$T_TMP/notify.log" ||
	{ show; fail "READY=1 came before $ip_a was on the interface"; }
[ "$(grep -c 'READY=1' "$T_TMP/notify.log")" = 1 ] || { show; fail "READY twice"; }
sleep 2.2
pings=$(grep -c "WATCHDOG=1" "$T_TMP/notify.log")
[ "$pings" -ge 4 ] || { show; fail "$pings watchdog pings in over 2 s at 1 s"; }

kiwi_stop
grep -q "STOPPING=1" "$T_TMP/notify.log" || { show; fail "no STOPPING=1"; }
echo "notify: ok ($pings pings)"
