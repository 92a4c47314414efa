#!/bin/bash
# claimer_main against a three-member etcd cluster on loopback: the
# member the claimer talks to (the first) is stopped, then killed, under
# it.
. "$KIWI_SRC/tests/lib/common.sh"
need_root
command -v etcd >/dev/null || { echo "SKIP: no etcd" >&2; exit 77; }

etcd_cluster_start 3
# The test stops a member with SIGSTOP; never leave it stopped.
on_exit "kill -CONT ${ETCD_PIDS%% *}"
KIWI_ETCD_URLS=$ETCD_URLS \
KIWI_ETCD_MEMBER_PID=${ETCD_PIDS%% *} \
	"$KIWI_BUILD/tests/claimer/claimer_loop" cluster
