#!/bin/bash
# The systemd unit: its sandbox scores at most 2.0 in systemd's own
# offline analysis, and it keeps the settings kiwi depends on.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
unit=$KIWI_SRC/packaging/systemd/kiwi.service
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }

cp "$unit" "$T_TMP/kiwi.service"
out=$(systemd-analyze security --offline=true "$T_TMP/kiwi.service" 2>&1) ||
	fail "systemd-analyze failed: $out"
score=$(echo "$out" | sed -n 's/.*Overall exposure level for kiwi.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "no exposure level in: $out"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' ||
	fail "exposure $score is above 2.0: $(echo "$out" | grep '✗')"

want() { grep -qx -- "$1" "$unit" || fail "unit lacks '$1'"; }
want "Type=notify"
want "Restart=on-failure"
want "NoNewPrivileges=yes"
want "ProtectSystem=strict"
want "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW"
want "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6 AF_PACKET"
grep -q '^WatchdogSec=' "$unit" || fail "unit has no watchdog"
# What breaks kiwi must not creep in.
for bad in PrivateNetwork=yes PrivateUsers=yes DynamicUser=yes; do
	grep -qx "$bad" "$unit" && fail "unit sets $bad, which breaks kiwi"
done
echo "unit: ok (exposure $score)"
