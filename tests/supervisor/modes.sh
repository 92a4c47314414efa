#!/bin/bash
# The two ways kiwi runs without being full root: as an unprivileged
# user holding CAP_NET_ADMIN and CAP_NET_RAW as ambient capabilities
# (systemd's User= and AmbientCapabilities=), and as root with every
# other capability dropped (a Kubernetes pod).  Either way the workers
# end with the same split, and kiwi still does its job and cleans up.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
need_root
kiwi=$KIWI_BUILD/kiwi
ip_a=198.51.100.20
single_node modes
kube_fixture_start "$node" --seed "$(service_seed prod db "$ip_a" 5432)"
# A lock the unprivileged user may read, as the unit's ACL arranges.
chmod 755 "$T_TMP"
: >"$T_TMP/xtables.lock"
chmod 644 "$T_TMP/xtables.lock"
export XTABLES_LOCKFILE=$T_TMP/xtables.lock

has_addr() { in_node ip -o addr show dev kiwi0 | grep -q "inet $ip_a/32 .* kiwi0:kube"; }
no_addr() { ! in_node ip -o addr show dev kiwi0 | grep -q "inet $ip_a/"; }
status_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# run_mode NAME UID LAUNCHER...: start kiwi under LAUNCHER, check the
# split, stop it and check that nothing is left.
run_mode() {
	local name=$1 uid=$2 pid child comm want n=0
	shift 2
	local KIWI_VIA=("$@") KIWI_LOG=$T_TMP/$name.log
	kiwi_start --ttl 3 --node-name "$name"
	pid=$KIWI_PID
	expect_within 10 "$name: no address" has_addr
	in_node iptables-legacy-save -t mangle | grep -q -- "--dport 5432 " ||
		fail "$name: no rule"
	# No --cidr-range: every address is accepted, so one jump takes all.
	in_node iptables-legacy-save -t mangle |
		grep -qx -- "-A PREROUTING -j KUBE-PUBLIC" ||
		fail "$name: no jump for all traffic"
	for child in $(pgrep -P "$pid"); do
		comm=$(cat /proc/$child/comm)
		want=0000000000000000
		[ "$comm" = kiwi-netagent ] && want=0000000000003000
		[ "$(status_field $child CapEff)" = $want ] &&
			[ "$(status_field $child CapPrm)" = $want ] &&
			[ "$(status_field $child CapAmb)" = 0000000000000000 ] &&
			[ "$(status_field $child CapInh)" = 0000000000000000 ] ||
			fail "$name: $comm has $(grep Cap /proc/$child/status)"
		[ "$(status_field $child Uid)" = "$uid" ] ||
			fail "$name: $comm runs as uid $(status_field $child Uid)"
		[ "$(status_field $child NoNewPrivs)" = 1 ] ||
			fail "$name: $comm lacks no-new-privs"
		n=$((n + 1))
	done
	[ $n = 3 ] || fail "$name: $n workers, not 3"
	kiwi_stop "$name"
	no_addr || fail "$name: address left behind"
	in_node iptables-legacy-save -t mangle | grep -q KUBE-PUBLIC &&
		fail "$name: chain left behind"
	grep -q "cannot open the xtables lock" "$T_TMP/$name.log" &&
		fail "$name: ran without the xtables lock"
	echo "modes: $name ok"
}

nobody=$(id -u nobody)
run_mode ambient "$nobody" setpriv --reuid=nobody --regid=nogroup \
	--clear-groups --inh-caps=+net_admin,+net_raw \
	--ambient-caps=+net_admin,+net_raw
run_mode container 0 setpriv --bounding-set=-all,+net_admin,+net_raw \
	--inh-caps=-all
# Without the network capabilities kiwi refuses to start, and says why.
rc=0
setpriv --reuid=nobody --regid=nogroup --clear-groups "$kiwi" \
	--config=/dev/null --interface lo >"$T_TMP/nocaps.log" 2>&1 || rc=$?
[ $rc != 0 ] || fail "kiwi started without any privilege"
grep -q "needs root, or CAP_NET_ADMIN and CAP_NET_RAW" "$T_TMP/nocaps.log" ||
	fail "no clear refusal: $(cat "$T_TMP/nocaps.log")"
echo "modes: ok"
