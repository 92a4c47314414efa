#!/bin/bash
# The watcher against the Kubernetes API fixture, on loopback.
. "$(dirname "$0")/../lib/common.sh"

cat >"$T_TMP/seed.json" <<'JSON'
[{"metadata": {"namespace": "default", "name": "seeded"},
  "spec": {"externalIPs": ["192.0.2.10"], "ports": [{"port": 80}]}}]
JSON
kube_fixture_start "" --seed "$T_TMP/seed.json" --bookmark-interval 0.5
KUBE_URL=$KUBE_URL "$KIWI_BUILD/tests/watcher/watcher_live"
