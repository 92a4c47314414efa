#!/bin/bash
# `kiwi status` against a running kiwi in a namespace: one address held
# here, one held by another node (a key put in etcd on another lease),
# one out of range, one never announceable, and a second Service on the
# address held here; the table, the JSON, the cluster view, the socket's
# mode and owner, and the message when kiwi is not running.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$KIWI_SRC/tests/supervisor/operator_lib.sh"
need_root
kiwi=$KIWI_BUILD/kiwi
ip_here=198.51.100.20
ip_there=198.51.100.21
ip_out=203.0.113.7
ip_edge=198.51.100.255
node_start status
sock=$RUN/kiwi.sock
ctl() { ETCDCTL_API=3 in_node etcdctl --endpoints "$ETCD_URL" "$@"; }

# Another node already holds ip_there, on its own lease.
lease=$(ctl lease grant 120 | awk '{print $2}')
ctl put --lease="$lease" /kiwi/publicips/$ip_there \
	"{\"node\":\"node-b\",\"service\":\"default/web\",\"ip\":\"$ip_there\"}" \
	>/dev/null

cat >"$T_TMP/seed.json" <<JSON
[{"apiVersion": "v1", "kind": "Service",
  "metadata": {"namespace": "default", "name": "web"},
  "spec": {"externalIPs": ["$ip_here", "$ip_there", "$ip_out", "$ip_edge"],
           "ports": [{"port": 8080, "protocol": "TCP"},
                     {"port": 53, "protocol": "UDP"}]}},
 {"apiVersion": "v1", "kind": "Service",
  "metadata": {"namespace": "default", "name": "web-alt"},
  "spec": {"externalIPs": ["$ip_here"],
           "ports": [{"port": 8080, "protocol": "TCP"}]}}]
JSON
kube_fixture_start "$node" --seed "$T_TMP/seed.json"

# Not running yet: a clear message and status 3.
rc=0
out=$("$kiwi" status --control-socket "$sock" 2>&1) || rc=$?
[ $rc = 3 ] || fail "status without kiwi exited $rc, want 3: $out"
[ "$out" = "kiwi is not running (no socket at $sock)" ] ||
	fail "unexpected message without kiwi: $out"

ip netns exec "$node" "$kiwi" --interface kiwi0 --cidr-range 198.51.100.0/24 \
	--kube-endpoint "$KUBE_URL" --etcd-endpoint "$ETCD_URL" \
	--ttl 4 --node-name node-a --mark 0x20 --control-socket "$sock" \
	--verbose >"$T_TMP/kiwi.log" 2>&1 &
kiwi_pid=$!
on_exit "kill -9 $kiwi_pid"
show_log() { echo "--- kiwi log"; cat "$T_TMP/kiwi.log"; }
status() { "$kiwi" status --control-socket "$sock" "$@"; }
row() { status | awk -v ip="$1" '$1 == ip'; }
is_ready() { status | grep -q '^node node-a: ready$'; }
wait_for 15 is_ready || { show_log; status; fail "kiwi never said ready"; }

# The socket: 0660, in a 0750 directory, both the workers' user's.
nobody=$(id -u nobody)
[ "$(stat -c %a "$sock")" = 660 ] || fail "socket mode $(stat -c %a "$sock")"
[ "$(stat -c %a "$RUN")" = 750 ] || fail "directory mode $(stat -c %a "$RUN")"
[ "$(stat -c %u "$sock")" = "$nobody" ] || fail "socket owner $(stat -c %u "$sock")"
[ "$(stat -c %u "$RUN")" = "$nobody" ] || fail "directory owner $(stat -c %u "$RUN")"

# The table.
status >"$T_TMP/table"
head -2 "$T_TMP/table" | tail -1 |
	grep -Eq '^ADDRESS +STATE +HOLDER +SERVICES +PORTS +MARK +SINCE$' ||
	fail "bad header: $(cat "$T_TMP/table")"
row $ip_here | grep -Eq \
	"^$ip_here +held +node-a +default/web,default/web-alt +8080/tcp,53/udp +0x20 +[0-9]+s$" ||
	fail "bad row for $ip_here: $(cat "$T_TMP/table")"
row $ip_there | grep -Eq \
	"^$ip_there +standby +node-b +default/web +8080/tcp,53/udp +0x20 +[0-9]+s$" ||
	fail "bad row for $ip_there: $(cat "$T_TMP/table")"
# Named, but not claimed: listed all the same, with why.
row $ip_out | grep -Eq \
	"^$ip_out +out of range +- +default/web +- +0x20 +[0-9]+s$" ||
	fail "bad row for $ip_out: $(cat "$T_TMP/table")"
row $ip_edge | grep -Eq \
	"^$ip_edge +refused \(the network or broadcast address of a configured range\) +- +default/web +- +0x20 +[0-9]+s$" ||
	fail "bad row for $ip_edge: $(cat "$T_TMP/table")"
# And never claimed in etcd.
for ip in $ip_out $ip_edge; do
	[ -z "$(ctl get /kiwi/publicips/$ip)" ] || fail "$ip was claimed in etcd"
done

# The JSON, as a script reads it.
status --json >"$T_TMP/status.json"
python3 - "$T_TMP/status.json" $ip_here $ip_there $ip_out $ip_edge <<'PY' || fail "bad JSON: $(cat "$T_TMP/status.json")"
import json, sys, time
doc = json.load(open(sys.argv[1]))
here, there, out, edge = sys.argv[2:6]
assert doc["node"] == "node-a" and doc["ready"] is True, doc
assert doc["dry_run"] is False and doc["lease"] > 0, doc
by = {a["address"]: a for a in doc["addresses"]}
assert set(by) == {here, there, out, edge}, by
o, e = by[out], by[edge]
assert o["state"] == "out of range" and o.get("reason") is None, o
assert o["service"] == "default/web" and o["ports"] == [], o
assert e["state"] == "refused" and "broadcast" in e["reason"], e
assert abs(o["since"] - time.time()) < 60, o
h, t = by[here], by[there]
assert h["state"] == "held" and h["service"] == "default/web", h
assert h["services"] == ["default/web", "default/web-alt"], h
assert h["ports"] == ["8080/tcp", "53/udp"] and h["mark"] == "0x20", h
assert t["state"] == "standby" and t["holder"] == "node-b", t
assert abs(h["since"] - time.time()) < 60, h
PY

# The socket the configuration file names, without --control-socket:
# the file --config names, and /etc/kiwi.conf by default (put there in
# a mount namespace of its own, over an overlay of the host's /etc).
printf 'interface = kiwi0\ncontrol-socket = %s\n' "$sock" >"$T_TMP/kiwi.conf"
"$kiwi" status --config "$T_TMP/kiwi.conf" >"$T_TMP/byconf" 2>&1 ||
	fail "status --config failed: $(cat "$T_TMP/byconf")"
grep -q '^node node-a: ready$' "$T_TMP/byconf" ||
	fail "status --config did not reach kiwi: $(cat "$T_TMP/byconf")"
mkdir "$T_TMP/etc-up" "$T_TMP/etc-work"
unshare -m sh -c 'mount -t overlay overlay \
	-o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc &&
	cp "$3" /etc/kiwi.conf && exec "$4" status' sh "$T_TMP/etc-up" \
	"$T_TMP/etc-work" "$T_TMP/kiwi.conf" "$kiwi" >"$T_TMP/byetc" 2>&1 ||
	fail "status with /etc/kiwi.conf failed: $(cat "$T_TMP/byetc")"
grep -q '^node node-a: ready$' "$T_TMP/byetc" ||
	fail "status did not read /etc/kiwi.conf: $(cat "$T_TMP/byetc")"
# Without the key, the default socket, which is not this kiwi's.
: >"$T_TMP/empty.conf"
"$kiwi" status --config "$T_TMP/empty.conf" 2>&1 | grep -q 'node-a' &&
	fail "status with no control-socket key reached $sock"
# A bad file is an error that says where.
printf 'control-socket = kiwi.sock\n' >"$T_TMP/bad.conf"
rc=0
out=$("$kiwi" status --config "$T_TMP/bad.conf" 2>&1) || rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "bad.conf:1:" ||
	fail "a bad configuration file: status $rc, said: $out"

# The cluster view: both claims, their owners and the time left.
status --cluster >"$T_TMP/cluster"
grep -Eq '^ADDRESS +NODE +SERVICE +LEASE +TTL_LEFT$' "$T_TMP/cluster" ||
	fail "bad cluster header: $(cat "$T_TMP/cluster")"
grep -Eq "^$ip_here +node-a +default/web +[0-9]+ +[0-9]+s$" "$T_TMP/cluster" ||
	fail "cluster view lacks $ip_here: $(cat "$T_TMP/cluster")"
left=$(awk -v ip=$ip_there '$1 == ip && $2 == "node-b" {print $5}' "$T_TMP/cluster")
[ -n "$left" ] && [ "${left%s}" -le 120 ] && [ "${left%s}" -gt 60 ] ||
	fail "cluster view: node-b's lease left '$left': $(cat "$T_TMP/cluster")"

# Bad requests get an error, not a hang, and the daemon serves on.
echo nonsense | in_node timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"nonsense\n"); print(s.makefile().read())' "$sock" >"$T_TMP/bad"
grep -q '"error"' "$T_TMP/bad" || fail "an unknown request got no error"
is_ready || fail "status stopped answering after a bad request"

# Stopped: the socket goes, and the message says so.
kill -TERM $kiwi_pid
rc=0
wait $kiwi_pid || rc=$?
[ $rc = 0 ] || { show_log; fail "kiwi exited with status $rc"; }
[ ! -e "$sock" ] || fail "socket left behind"
grep -q "warning: watcher closed its socket" "$T_TMP/kiwi.log" &&
	fail "the watcher's orderly exit was logged as a warning"
rc=0
status >/dev/null 2>&1 || rc=$?
[ $rc = 3 ] || fail "status after kiwi stopped exited $rc, want 3"
echo "status: ok"
