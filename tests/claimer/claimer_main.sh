#!/bin/bash
# claimer_main in a child process against a real etcd on loopback; the
# test program plays the other processes.
. "$KIWI_SRC/tests/lib/common.sh"
need_root
command -v etcd >/dev/null || { echo "SKIP: no etcd" >&2; exit 77; }

etcd_start
# The test stops etcd with SIGSTOP; never leave it stopped.
on_exit "kill -CONT $ETCD_PID"
# etcd without watches, for the fallback to renewals.
nw_port=$(free_port)
python3 "$KIWI_SRC/tests/claimer/no_watch_proxy.py" \
	--listen "127.0.0.1:$nw_port" --upstream "$ETCD_URL" \
	>"$T_TMP/no-watch.log" 2>&1 &
nw_pid=$!
on_exit "kill $nw_pid; wait $nw_pid"
wait_for 20 grep -qx ready "$T_TMP/no-watch.log" ||
	fail "the no-watch proxy did not start"
KIWI_ETCD_URL=$ETCD_URL \
KIWI_ETCD_PID=$ETCD_PID \
KIWI_ETCD_DEAD="http://127.0.0.1:$(free_port)" \
KIWI_ETCD_NO_WATCH="http://127.0.0.1:$nw_port" \
	"$KIWI_BUILD/tests/claimer/claimer_loop"
