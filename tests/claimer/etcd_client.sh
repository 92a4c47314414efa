#!/bin/bash
# The claimer's etcd client against a real etcd on loopback.
. "$KIWI_SRC/tests/lib/common.sh"
need_root
command -v etcd >/dev/null || { echo "SKIP: no etcd" >&2; exit 77; }

etcd_start
KIWI_ETCD_URL=$ETCD_URL \
KIWI_ETCD_DEAD="http://127.0.0.1:$(free_port)" \
KIWI_ETCD_PEER=$ETCD_PEER_URL \
	"$KIWI_BUILD/tests/claimer/claimer_etcd_client"
