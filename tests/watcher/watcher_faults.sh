#!/bin/bash
# The watcher against watch faults and each source of external IPs, with
# --namespace edge, --loadbalancer-ips, an IPv6 range and 1 s watches.
. "$(dirname "$0")/../lib/common.sh"

cat >"$T_TMP/seed.json" <<'JSON'
[{"metadata": {"namespace": "edge", "name": "s1"},
  "spec": {"externalIPs": ["192.0.2.1"], "ports": [{"port": 80}]}},
 {"metadata": {"namespace": "edge", "name": "s2"},
  "spec": {"externalIPs": ["192.0.2.2"], "ports": [{"port": 80}]}},
 {"metadata": {"namespace": "edge", "name": "s3"},
  "spec": {"externalIPs": ["192.0.2.3"], "ports": [{"port": 80}]}},
 {"metadata": {"namespace": "other", "name": "s4"},
  "spec": {"externalIPs": ["192.0.2.4"], "ports": [{"port": 80}]}}]
JSON
kube_fixture_start "" --seed "$T_TMP/seed.json" --bookmark-interval 0.3
KUBE_URL=$KUBE_URL W_NAMESPACE=edge W_LB=1 W_WATCH_TIMEOUT=1:1 \
	W_CIDRS=192.0.2.0/24,2001:db8::/32 \
	"$KIWI_BUILD/tests/watcher/watcher_faults"
