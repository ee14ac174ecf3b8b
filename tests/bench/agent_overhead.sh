#!/bin/bash
# The agent's cost to the services it watches. The demo users service runs on
# CPU 0, wrk drives it from CPU 1 at saturation, alternately without and with
# prp-agent attached (all samplers on), ROUNDS times each; the figures are
# medians of the rounds' paired ratios (these machines are noisy).
#
#   BENCH agent_overhead_throughput_ratio  median over rounds of rps with / without (>= 0.97)
#   BENCH agent_overhead_p99_ratio         the same for p99 at 50% of saturation (<= 1.05)
#   BENCH agent_cpu_per_1k_rps             agent CPU % per 1000 requests/s (<= 0.5)
#   BENCH agent_rss_mb                     agent resident memory (<= 30)
#
# Needs root (eBPF) and wrk. Environment: BUILD_DIR, ROUNDS (5), SECONDS_PER_RUN (5),
# AGENT_FLAGS (extra agent flags, e.g. --no-samplers-syscalls to price one sampler).
set -eu
BUILD_DIR=${BUILD_DIR:-build}
ROUNDS=${ROUNDS:-5}
DUR=${SECONDS_PER_RUN:-5}
PORT=${PORT:-18402}
work=$(mktemp -d)
trap 'kill $svc_pid 2>/dev/null; kill $agent_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
agent_pid=

taskset -c 0 "$BUILD_DIR/prp-demo-service" --name users --port "$PORT" --log-level warn \
	2>"$work/svc.log" &
svc_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

start_agent() {
	"$BUILD_DIR/prp-agent" --service "users=port:$PORT" --lock-file "$work/agent.lock" \
		--log-level warn ${AGENT_FLAGS:-} 2>>"$work/agent.log" &
	agent_pid=$!
	sleep 2 # attach, discover, first window
}
stop_agent() {
	kill -TERM "$agent_pid"
	wait "$agent_pid" || true
	agent_pid=
}
# cpu ticks (utime+stime) of a process
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# wrk_run LABEL: one saturated run; appends "rps p99_us" to $work/LABEL
wrk_run() {
	taskset -c 1 wrk -t1 -c32 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/users/1" >"$work/wrk.out" 2>&1
	awk -v label="$1" '/Requests\/sec/ {rps = $2}
		$1 == "99%" { v = $2; u = 1
			if (v ~ /us$/) { sub(/us$/, "", v); u = 1 }
			else if (v ~ /ms$/) { sub(/ms$/, "", v); u = 1000 }
			else if (v ~ /s$/) { sub(/s$/, "", v); u = 1000000 }
			p99 = v * u }
		END { print rps, p99 }' "$work/wrk.out" >>"$work/$1"
}

median() { sort -g | awk '{a[NR] = $1} END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

taskset -c 1 wrk -t1 -c32 -d2s "http://127.0.0.1:$PORT/users/1" >/dev/null 2>&1 # warm-up
hz=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then order="base agent"; else order="agent base"; fi
	for arm in $order; do
		if [ "$arm" = agent ]; then
			start_agent
			t0=$(ticks "$agent_pid")
			wrk_run agent
			t1=$(ticks "$agent_pid")
			rps=$(tail -n 1 "$work/agent" | awk '{print $1}')
			awk -v t="$((t1 - t0))" -v hz="$hz" -v d="$DUR" -v rps="$rps" \
				'BEGIN { printf "%.4f\n", (t / hz / d * 100) / (rps / 1000) }' >>"$work/cpu"
			awk '/VmRSS/ {printf "%.1f\n", $2 / 1024}' "/proc/$agent_pid/status" >>"$work/rss"
			stop_agent
		else
			wrk_run base
		fi
	done
	echo "round $r: base $(tail -n 1 "$work/base") agent $(tail -n 1 "$work/agent") (rps p99_us)" >&2
done

# Paired ratios: the two arms of a round ran back to back, under the same
# weather; their ratio is what the agent costs, and the median of the rounds'
# ratios is robust to a round that a neighbour disturbed.
base_rps=$(awk '{print $1}' "$work/base" | median)
paste "$work/agent" "$work/base" | awk '{print $1 / $3}' >"$work/tp_ratio"
echo "BENCH agent_overhead_throughput_ratio $(median <"$work/tp_ratio") ratio"
echo "BENCH agent_cpu_per_1k_rps $(median <"$work/cpu") percent"
echo "BENCH agent_rss_mb $(median <"$work/rss") MB"

# p99 at half the saturated rate, open loop (prp-loadgen), alternating too
rate=$(awk -v b="$base_rps" 'BEGIN {printf "%d", b / 2}')
for r in $(seq "$ROUNDS"); do
	for arm in base agent; do
		[ "$arm" = agent ] && start_agent
		taskset -c 1 "$BUILD_DIR/prp-loadgen" --target "http://127.0.0.1:$PORT" --mix health \
			--rps "$rate" --duration "$DUR" --connections 64 --progress-s 0 >"$work/lg.out" 2>/dev/null
		awk '/^latency_ms/ {print $7}' "$work/lg.out" >>"$work/p99_$arm"
		[ "$arm" = agent ] && stop_agent
	done
done
paste "$work/p99_agent" "$work/p99_base" | awk '{print $1 / $2}' >"$work/p99_ratio"
echo "BENCH agent_overhead_p99_ratio $(median <"$work/p99_ratio") ratio (at $rate rps)"
