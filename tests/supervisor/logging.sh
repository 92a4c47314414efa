#!/bin/bash
# Where the lines go: --log-file gets every process's lines with a time
# stamp, and a new file after logrotate moves it and sends SIGHUP;
# --syslog sends them to /dev/log with a priority that follows the
# level.  The workers are sandboxed and open neither: the supervisor
# writes for them.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
need_root
kiwi=$KIWI_BUILD/kiwi
node=$(netns_new log)
ip -n "$node" link add kiwi0 type veth peer name peer0
ip -n "$node" link set kiwi0 up
ip -n "$node" link set peer0 up
etcd_start "$node"
cat >"$T_TMP/seed.json" <<JSON
[{"apiVersion": "v1", "kind": "Service",
  "metadata": {"namespace": "default", "name": "web"},
  "spec": {"externalIPs": ["198.51.100.60"], "ports": [{"port": 80}]}}]
JSON
kube_fixture_start "$node" --seed "$T_TMP/seed.json"
args=(--config=/dev/null --interface kiwi0 --kube-endpoint "$KUBE_URL"
	--etcd-endpoint "$ETCD_URL" --ttl 3 --node-name node-l)

# 1. A log file, rotated under a running kiwi.
log=$T_TMP/kiwi.log
ip netns exec "$node" "$kiwi" "${args[@]}" --log-file "$log" \
	>"$T_TMP/stderr" 2>&1 &
pid=$!
on_exit "kill -9 $pid"
wait_for 15 grep -q "ready: the first full set" "$log" ||
	fail "no readiness in the log file: $(cat "$log" "$T_TMP/stderr")"
for who in kiwi kiwi-netagent kiwi-claimer kiwi-watcher; do
	grep -qE "^20[0-9-]{8}T[0-9:.]{12}Z $who: " "$log" ||
		fail "no time-stamped line from $who in: $(cat "$log")"
done
[ ! -s "$T_TMP/stderr" ] || fail "lines went to stderr: $(cat "$T_TMP/stderr")"
mv "$log" "$log.1"
kill -HUP $pid
wait_for 5 grep -q "reopened log file $log" "$log" || fail "not reopened"
kill -TERM $pid
wait $pid || fail "exit status $? with a log file"
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
T=$T_TMP unshare -m --propagation private bash -c '
	for d in null zero random urandom; do
		: >"$T/dev/$d" && mount --bind /dev/$d "$T/dev/$d"
	done
	mount --bind "$T/dev" /dev
	exec "$@"' kiwi ip netns exec "$node" "$kiwi" "${args[@]}" --syslog \
	>"$T_TMP/stderr2" 2>&1 &
pid=$!
on_exit "kill -9 $pid"
wait_for 15 grep -q "ready: the first full set" "$T_TMP/syslog" ||
	fail "nothing reached syslog: $(cat "$T_TMP/syslog" "$T_TMP/stderr2")"
# LOG_DAEMON: <30> is info, <28> a warning, <31> debug.
grep -q "^<30>.*kiwi: kiwi-netagent: added 198.51.100.60" "$T_TMP/syslog" ||
	fail "no info line from the netagent: $(cat "$T_TMP/syslog")"
pkill -9 -x kiwi-claimer -P $pid 2>/dev/null || kill -9 "$(pgrep -P $pid -x kiwi-claimer)"
wait_for 10 grep -q "^<28>.*kiwi-claimer was killed by signal 9" "$T_TMP/syslog" ||
	fail "a worker's death is not a warning in syslog: $(cat "$T_TMP/syslog")"
kill -TERM $pid
wait $pid || fail "exit status $? with syslog"
echo "logging: ok"
