#!/bin/bash
# --metrics-address: scrape /metrics and check it is the Prometheus text
# format with sensible values; /healthz says 503 until kiwi is ready,
# 200 then, and 503 again once etcd has been stopped long enough that
# the lease can no longer be trusted.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$KIWI_SRC/tests/supervisor/operator_lib.sh"
need_root
kiwi=$KIWI_BUILD/kiwi
ip_a=198.51.100.40
node_start metrics
kube_fixture_start "$node" --seed "$(web_seed $ip_a)"
port=$(free_port)
url=http://127.0.0.1:$port
code() { in_node curl -s -o /dev/null -w '%{http_code}' "$url$1"; }

# etcd paused: kiwi serves, but cannot be ready.
kill -STOP $ETCD_PID
on_exit "kill -CONT $ETCD_PID"
ip netns exec "$node" "$kiwi" --interface kiwi0 --cidr-range 198.51.100.0/24 \
	--kube-endpoint "$KUBE_URL" --etcd-endpoint "$ETCD_URL" --ttl 3 \
	--node-name node-m --metrics-address 127.0.0.1:$port \
	--control-socket $RUN/kiwi.sock >"$T_TMP/kiwi.log" 2>&1 &
kiwi_pid=$!
on_exit "kill -9 $kiwi_pid"
show_log() { echo "--- kiwi log"; cat "$T_TMP/kiwi.log"; }
serving() { [ "$(code /healthz)" != 000 ]; }
wait_for 10 serving || { show_log; fail "nothing serves $url"; }
[ "$(code /healthz)" = 503 ] || fail "/healthz is $(code /healthz) before ready"
kill -CONT $ETCD_PID
is() { [ "$(code "$1")" = "$2" ]; }
wait_for 15 is /healthz 200 || { show_log; fail "/healthz never became 200"; }
[ "$(in_node curl -s "$url/healthz")" = ok ] || fail "/healthz body is not ok"
[ "$(code /nothing)" = 404 ] || fail "an unknown path is not 404"
raw() {
	in_node timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode()); print(s.makefile().readline().strip())' "$port" "$1"
}
[ "$(raw $'BREW /coffee\r\n\r\n')" = "HTTP/1.0 400 Bad Request" ] ||
	fail "a request that is not GET is not 400"
[ "$(raw "GET /$(head -c 4000 /dev/zero | tr '\0' x)")" = "HTTP/1.0 400 Bad Request" ] ||
	fail "an oversized request is not 400"

# The exposition format, checked line by line.
in_node curl -sf "$url/metrics" >"$T_TMP/metrics" || fail "cannot scrape"
python3 - "$T_TMP/metrics" <<'PY' || { cat "$T_TMP/metrics"; fail "bad metrics"; }
import re, sys
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*")'
                    r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (\S+)$')
types, values, buckets = {}, {}, {}
for line in open(sys.argv[1]).read().splitlines():
    if line.startswith("# HELP "):
        assert len(line.split(" ", 3)) == 4, line
        continue
    if line.startswith("# TYPE "):
        _, _, name, t = line.split(" ")
        assert t in ("counter", "gauge", "histogram"), line
        types[name] = t
        continue
    m = sample.match(line)
    assert m, "not a sample: %r" % line
    name, labels, v = m.group(1), m.group(2) or "", float(m.group(5))
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    assert name in types or base in types, "no TYPE for " + name
    if name.endswith("_bucket"):
        buckets.setdefault(base, []).append((labels, v))
    values[name + labels] = v
for c in [n for n, t in types.items() if t == "counter"]:
    assert values[c] >= 0 and values[c] == int(values[c]), c
    assert c.endswith("_total"), c
assert values["kiwi_ready"] == 1, values
assert values["kiwi_addresses_wanted"] == 1, values
assert values["kiwi_addresses_held"] == 1, values
assert values["kiwi_claims_won_total"] == 1, values
assert values["kiwi_worker_restarts_total"] == 0, values
assert 0 <= values["kiwi_lease_renewal_age_seconds"] < 3, values
assert set(buckets) == {n for n, t in types.items() if t == "histogram"}
for h, bs in buckets.items():
    counts = [v for _, v in bs]
    bounds = [float(l[5:-2]) for l, _ in bs]
    assert counts == sorted(counts), "buckets not monotone: %r" % bs
    assert bounds == sorted(bounds) and bounds[-1] == float("inf"), bs
    assert counts[-1] == values[h + "_count"], (h, values)
    assert values[h + "_sum"] >= 0, (h, values)
assert values["kiwi_netagent_claim_seconds_count"] == 1, values
for c in ("addresses_added", "addresses_removed", "commits", "commit_retries",
          "commit_failures", "refused"):
    assert types["kiwi_netagent_%s_total" % c] == "counter", c
PY

# The netagent's counters, from its NA_STATS (sent at most every
# second): one address added and committed so far, nothing failed.
value() { in_node curl -sf "$url/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
at_least() { [ "$(value "$1")" -ge "$2" ] 2>/dev/null; }
wait_for 5 at_least kiwi_netagent_addresses_added_total 1 ||
	fail "kiwi_netagent_addresses_added_total is '$(value kiwi_netagent_addresses_added_total)'"
[ "$(value kiwi_netagent_commit_seconds_count)" -ge 1 ] ||
	fail "no commit in kiwi_netagent_commit_seconds_count"
[ "$(value kiwi_netagent_commit_failures_total)" = 0 ] ||
	fail "kiwi_netagent_commit_failures_total is not 0"
commits=$(value kiwi_netagent_commits_total)

# N more Services, one address each: at least N more addresses added,
# and more commits, both in the histogram and in the counter.
n=3
for i in $(seq $n); do
	in_node curl -sf -X PUT -H 'Content-Type: application/json' \
		"$KUBE_URL/fixture/services/default/more$i" -d '{"apiVersion":
		"v1", "kind": "Service", "metadata": {"namespace": "default",
		"name": "more'$i'"}, "spec": {"externalIPs": ["198.51.100.5'$i'"],
		"ports": [{"port": 80}]}}' >/dev/null
done
wait_for 10 at_least kiwi_netagent_addresses_added_total $((1 + n)) ||
	fail "after $n Services kiwi_netagent_addresses_added_total is '$(value kiwi_netagent_addresses_added_total)'"
wait_for 5 at_least kiwi_netagent_commits_total $((commits + 1)) ||
	fail "kiwi_netagent_commits_total stayed at $commits"
[ "$(value kiwi_netagent_commit_seconds_count)" = \
	$(($(value kiwi_netagent_commits_total) + $(value kiwi_netagent_commit_failures_total))) ] ||
	fail "the commit histogram does not count every commit"
"$kiwi" status --control-socket $RUN/kiwi.sock --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["netagent"]
assert d["added"] >= 1 + int(sys.argv[1]) and d["commits"] >= 1, d' $n ||
	fail "kiwi status --json lacks the netagent counts"
# One Service goes: its address is removed.
in_node curl -sf -X DELETE "$KUBE_URL/fixture/services/default/more1" >/dev/null
wait_for 10 at_least kiwi_netagent_addresses_removed_total 1 ||
	fail "kiwi_netagent_addresses_removed_total is '$(value kiwi_netagent_addresses_removed_total)'"

# A watch event reaches the watcher's counter, sent every 5 s.
in_node curl -sf -X PUT -H 'Content-Type: application/json' \
	"$KUBE_URL/fixture/services/default/api" -d '{"apiVersion": "v1",
	"kind": "Service", "metadata": {"namespace": "default", "name":
	"api"}, "spec": {"ports": [{"port": 80}]}}' >/dev/null
events() { [ "$(value kiwi_watch_events_total)" -ge 1 ]; }
wait_for 10 events || fail "kiwi_watch_events_total is '$(value kiwi_watch_events_total)'"

# More clients than it serves at once: it drops some, but never hangs.
idle=()
for i in $(seq 20); do
	in_node timeout 8 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; sleep 6" \
		2>/dev/null &
	idle+=($!)
done
sleep 1
in_node timeout 10 curl -s -o /dev/null "$url/healthz" || true
wait "${idle[@]}" || true
is /healthz 200 || fail "/healthz not 200 after the idle clients went"

# etcd stopped for longer than the lease is trusted: not ready.
kill -STOP $ETCD_PID
wait_for 10 is /healthz 503 || { show_log; fail "/healthz still 200 with etcd stopped"; }
sleep 4 # for the renewal on the way to time out, and count as an error
kill -CONT $ETCD_PID
wait_for 15 is /healthz 200 || { show_log; fail "/healthz not 200 after etcd came back"; }
errors=$(value kiwi_etcd_errors_total)
[ "${errors:-0}" -ge 1 ] || fail "etcd stopped, yet kiwi_etcd_errors_total is '$errors'"

kill -TERM $kiwi_pid
rc=0
wait $kiwi_pid || rc=$?
[ $rc = 0 ] || { show_log; fail "kiwi exited with status $rc"; }
echo "metrics: ok"
