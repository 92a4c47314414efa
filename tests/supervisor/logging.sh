#!/bin/bash
# Where the lines go: --log-file gets every process's lines with a time
# stamp, and a new file after logrotate moves it and sends SIGHUP;
# --syslog sends them to /dev/log with a priority that follows the
# level.  The workers are sandboxed and open neither: the supervisor
# writes for them.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
need_root
ip_a=198.51.100.60
single_node log
kube_fixture_start "$node" --seed "$(service_seed default web "$ip_a" 80)"
args=(--ttl 3 --node-name node-l)

# 1. A log file, rotated under a running kiwi.
log=$T_TMP/kiwi.log
KIWI_LOG=$T_TMP/stderr
kiwi_start "${args[@]}" --log-file "$log"
kiwi_wait_ready 15 "$log"
for who in kiwi kiwi-netagent kiwi-claimer kiwi-watcher; do
	grep -qE "^20[0-9-]{8}T[0-9:.]{12}Z $who: " "$log" ||
		fail "no time-stamped line from $who in: $(cat "$log")"
done
[ ! -s "$T_TMP/stderr" ] || fail "lines went to stderr: $(cat "$T_TMP/stderr")"
mv "$log" "$log.1"
kill -HUP $KIWI_PID
wait_for 5 grep -q "reopened log file $log" "$log" || fail "not reopened"
kiwi_stop "with a log file"
grep -q "kiwi: stopped" "$log" || fail "the last lines did not reach the new file"
grep -q "kiwi: stopped" "$log.1" && fail "lines went to the rotated file"

# 2. syslog, with /dev/log played by the test in a mount namespace.
mkdir "$T_TMP/dev"
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(65536).decode(errors="replace"), flush=True)
' "$T_TMP/dev/log" >"$T_TMP/syslog" 2>&1 &
on_exit "kill $!"
wait_for 5 grep -q bound "$T_TMP/syslog" || fail "no syslog peer"
# ip netns exec makes a mount namespace of its own; unshare makes one
# more inside it, where /dev is the test's.
KIWI_LOG=$T_TMP/stderr2
KIWI_VIA=(env T="$T_TMP" unshare -m --propagation private bash -c '
	for d in null zero random urandom; do
		: >"$T/dev/$d" && mount --bind /dev/$d "$T/dev/$d"
	done
	mount --bind "$T/dev" /dev
	exec "$@"' kiwi)
kiwi_start "${args[@]}" --syslog
pid=$KIWI_PID
kiwi_wait_ready 15 "$T_TMP/syslog"
# LOG_DAEMON: <30> is info, <28> a warning, <31> debug.
grep -q "^<30>.*kiwi: kiwi-netagent: added $ip_a" "$T_TMP/syslog" ||
	fail "no info line from the netagent: $(cat "$T_TMP/syslog")"
pkill -9 -x kiwi-claimer -P $pid 2>/dev/null || kill -9 "$(pgrep -P $pid -x kiwi-claimer)"
wait_for 10 grep -q "^<28>.*kiwi-claimer was killed by signal 9" "$T_TMP/syslog" ||
	fail "a worker's death is not a warning in syslog: $(cat "$T_TMP/syslog")"
kiwi_stop "with syslog"
echo "logging: ok"
