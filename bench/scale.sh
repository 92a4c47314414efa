#!/bin/bash
# Cold start at scale, idle etcd load and memory, in one run of kiwi:
# the fixture is seeded with N Services (one external IP, two ports
# each); kiwi starts; the time until the kernel holds N addresses and
# 2N rules; then IDLE seconds of etcd's own request counters while kiwi
# holds them all; the peak RSS (VmHWM) of each kiwi process; then
# SIGTERM and the time until the kernel holds none and kiwi has exited.
# Also the peak of the summed PSS of the processes (sampled every
# 100 ms from the start to the end of the idle time), and the CPU kiwi
# used while idle (its kernel work, such as renewing the addresses'
# lifetimes, included), as a percentage of one CPU.
#
#   bench/scale.sh N [IDLE_SECS]     (as root, after tools/build.sh)
#
# Prints one table row; BENCH_HEADER=0 leaves out the header.  The
# times are from kiwi's start (or SIGTERM) to the kernel sampler's
# round that saw the end state, which polls every KSTATE_US.
. "$(dirname "$0")/lib.sh"
n=${1:-1000}
idle=${2:-20}
us=${KSTATE_US:-$((n >= 5000 ? 20000 : 5000))}

bench_seed "$n" "$T_TMP/seed.json"
bench_node scale --seed "$T_TMP/seed.json"
kstate_start "$us"

t0=$(now_ms)
kiwi_start
python3 "$BENCH_SRC/bench/psspeak.py" "$KIWI_PID" 100 "$T_TMP/pss" &
pss_pid=$!
on_exit "kill $pss_pid 2>/dev/null || true"
t_up=$(kstate_wait 120 "$n" $((2 * n)) "$t0") ||
	fail "kiwi did not apply $n Services in 120 s: $(grep -m 20 \
		-e warning -e error -e cannot "$T_TMP/kiwi.log")"
first=$(awk '$2 != "total" && $2 != "sampling" { printf "%.0f\n", $1; exit }' \
	"$KSTATE_LOG")

# Idle: wait for the start's own requests to end, then count.
sleep 3
# Clock ticks of user and system time of kiwi and its workers.
ticks() {
	local pid
	for pid in "$KIWI_PID" $(pgrep -P "$KIWI_PID"); do
		awk '{ print $14 + $15 }' "/proc/$pid/stat"
	done | awk '{ s += $1 } END { print s }'
}
r0=$(etcd_requests)
c0=$(ticks)
s0=$(date +%s%N)
sleep "$idle"
r1=$(etcd_requests)
c1=$(ticks)
s1=$(date +%s%N)
rps=$(awk -v d=$((r1 - r0)) -v t=$(((s1 - s0) / 1000000)) \
	'BEGIN { printf "%.2f", d * 1000 / t }')
cpu=$(awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
	-v t=$(((s1 - s0) / 1000000)) 'BEGIN { printf "%.1f", d * 100000 / hz / t }')

hwm() {
	awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}
declare -A rss=()
rss[kiwi]=$(hwm "$KIWI_PID")
# The workers; the log stamper is a child too, and is left out.
workers=$(for pid in $(pgrep -P "$KIWI_PID"); do
	case $(cat "/proc/$pid/comm") in kiwi-*) echo "$pid" ;; esac
done)
for pid in $workers; do
	rss[$(cat "/proc/$pid/comm")]=$(hwm "$pid")
done
total=$(printf '%s\n' "${rss[@]}" | awk '{ s += $1 } END { printf "%.1f", s }')
# The peak of the summed PSS: the sum of RSS counts the shared
# libraries and the binary once per process.
kill "$pss_pid"
wait "$pss_pid" || true
pss=$(awk '$1 == "total" { print $2 }' "$T_TMP/pss")
keys=$(ip netns exec "$NODE" curl -sf "$ETCD_URL/v3/kv/range" -d "{\"key\":
	\"$(printf /kiwi/publicips/ | base64)\", \"range_end\":
	\"$(printf /kiwi/publicips0 | base64)\", \"count_only\": true}" |
	python3 -c 'import json,sys; print(json.load(sys.stdin).get("count", 0))' ||
	true)

t1=$(now_ms)
kill -TERM "$KIWI_PID"
rc=0
wait "$KIWI_PID" || rc=$?
t_exit=$(now_ms)
[ $rc = 0 ] || fail "kiwi exited with status $rc"
t_gone=$(kstate_wait 30 0 0 "$t1") || fail "kiwi left addresses or rules"

if [ "${BENCH_HEADER:-1}" = 1 ]; then
	printf "%6s %9s %11s %10s %8s %9s %12s %8s %5s %7s %7s %8s %7s %8s\n" \
		N apply_ms netagent_ms remove_ms exit_ms etcd_keys \
		etcd_idle_rps idle_cpu sup watcher claimer netagent rss_MiB \
		pss_peak
fi
printf "%6s %9s %11s %10s %8s %9s %12s %8s %5s %7s %7s %8s %7s %8s\n" "$n" \
	$((t_up - t0)) $((t_up - first)) $((t_gone - t1)) $((t_exit - t1)) \
	"${keys:--}" "$rps" "$cpu%" "${rss[kiwi]:--}" \
	"${rss[kiwi-watcher]:--}" "${rss[kiwi-claimer]:--}" \
	"${rss[kiwi-netagent]:--}" "$total" "$pss"
