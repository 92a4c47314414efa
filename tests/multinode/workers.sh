#!/bin/bash
# Each worker of the holder killed on its own: the holder's supervisor
# restarts its workers; the address stays reachable somewhere and is
# never on two nodes.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/multinode/lib.sh"
ip_a=198.51.100.90
mn_setup 2
mn_service default web $ip_a
for i in 1 2; do mn_start $i; done
mn_wait_holder $ip_a 15 >/dev/null || fail "nobody holds $ip_a"
sleep 1
for w in kiwi-netagent kiwi-claimer kiwi-watcher; do
	h=$(mn_holder $ip_a)
	t0=$(mn_now)
	pkill -9 -P "${MN_PIDS[$h]}" -x $w || fail "no $w on node$h"
	wait_for 15 sh -c "[ \"\$(pgrep -P ${MN_PIDS[$h]} | wc -l)\" = 3 ]" ||
		fail "node$h did not restart its workers"
	h2=$(mn_wait_holder $ip_a 15) || fail "nobody holds $ip_a after $w died"
	gap=$(awk -v ip=$ip_a -v t=$t0 '$2 == ip && $1 >= t && $3 == "-" {d=$1} $2 == ip && $1 >= t && $3 != "-" && d {print $1 - d; exit}' "$T_TMP/sampler.log")
	echo "workers: $w killed on node$h; $ip_a on node$h2, down for ${gap:-0} ms"
	mn_check_overlap
	sleep 2
done
mn_check_overlap
echo "workers: ok"
