#!/bin/bash
# Convergence latency: COUNT Services are created one at a time, GAP_MS
# apart, then deleted the same way, against a kiwi that already holds
# BASE Services; for each event, the time from the fixture writing it
# whole to kiwi's watch (--event-log) to the kernel sampler's first
# round that sees the address and both rules (or neither).  The
# sampler polls every KSTATE_US (default 250) microseconds.
#
#   bench/convergence.sh [COUNT [GAP_MS [BASE]]]   (as root, after
#                                                   tools/build.sh)
. "$(dirname "$0")/lib.sh"
count=${1:-200}
gap=${2:-50}
base=${3:-100}

bench_seed "$base" "$T_TMP/seed.json"
bench_node conv --seed "$T_TMP/seed.json" --event-log "$T_TMP/events.log"
kstate_start "${KSTATE_US:-250}"
t0=$(now_ms)
kiwi_start
kstate_wait 60 "$base" $((2 * base)) "$t0" >/dev/null ||
	fail "kiwi did not apply the $base seeded Services"
sleep 1
ip netns exec "$NODE" python3 "$BENCH_SRC/bench/events.py" "$KUBE_URL" \
	"$count" "$gap" "$T_TMP/map"
sleep 1
kill -TERM "$KIWI_PID"
wait "$KIWI_PID" || fail "kiwi exited with status $?"
kill "$KSTATE_PID"
wait "$KSTATE_PID" || true
python3 "$BENCH_SRC/bench/latency.py" "$T_TMP/events.log" "$KSTATE_LOG" \
	"$T_TMP/map"
