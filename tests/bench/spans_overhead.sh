#!/bin/bash
# What HTTP spans cost the services the agent watches. The demo users service
# runs on CPU 0, wrk drives it from CPU 1 at saturation (GET /users/1), in
# three arms per round, in a rotating order: no agent, the agent with spans
# off, the agent with spans on (traces.enabled, the default sample rate).
# Only the HTTP sampler runs in both agent arms (syscalls and TCP off), so
# the difference is the span records and their building. The figures are
# medians over the rounds of ratios paired within a round (these machines
# are noisy; docs/agent.md, Spans, has a run).
#
#   BENCH spans_off_throughput_ratio   rps, agent with spans off / no agent
#   BENCH spans_on_throughput_ratio    rps, agent with spans on / no agent
#   BENCH spans_on_off_throughput_ratio rps, spans on / spans off (the price of spans)
#   BENCH spans_on_off_p99_ratio       wrk's p99 at saturation, spans on / spans off
#   BENCH spans_{off,on}_cpu_per_1k_rps agent CPU % per 1000 requests/s
#   BENCH spans_{off,on}_rss_mb        agent resident memory at the end of a run
#
# Needs root (eBPF) and wrk. Environment: BUILD_DIR, ROUNDS (5), SECONDS_PER_RUN (5),
# SPANS_FLAGS (extra flags of the spans-on arm, e.g. "--traces-sample-rate 1").
set -eu
BUILD_DIR=${BUILD_DIR:-build}
ROUNDS=${ROUNDS:-5}
DUR=${SECONDS_PER_RUN:-5}
PORT=${PORT:-18403}
work=$(mktemp -d)
trap 'kill $svc_pid 2>/dev/null; [ -n "$agent_pid" ] && kill $agent_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
agent_pid=

taskset -c 0 "$BUILD_DIR/prp-demo-service" --name users --port "$PORT" --log-level warn \
	2>"$work/svc.log" &
svc_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

# start_agent FLAGS...
start_agent() {
	"$BUILD_DIR/prp-agent" --service "users=port:$PORT" --lock-file "$work/agent.lock" \
		--aggregator "" --log-level warn --no-samplers-syscalls --no-samplers-tcp "$@" \
		2>>"$work/agent.log" &
	agent_pid=$!
	sleep 2 # attach, discover, first window
}
stop_agent() {
	kill -TERM "$agent_pid"
	wait "$agent_pid" || true
	agent_pid=
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# wrk_run ARM: one saturated run; appends "rps p99_us" to $work/ARM
wrk_run() {
	taskset -c 1 wrk -t1 -c32 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/users/1" >"$work/wrk.out" 2>&1
	awk '/Requests\/sec/ {rps = $2}
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
arms=(base off on)
for r in $(seq "$ROUNDS"); do
	# rotate the order, so no arm always runs first or last
	for k in 0 1 2; do
		arm=${arms[$(((r + k) % 3))]}
		if [ "$arm" = base ]; then
			wrk_run base
			continue
		fi
		if [ "$arm" = on ]; then
			# shellcheck disable=SC2086
			start_agent --traces-enabled ${SPANS_FLAGS:-}
		else
			start_agent
		fi
		t0=$(ticks "$agent_pid")
		wrk_run "$arm"
		t1=$(ticks "$agent_pid")
		rps=$(tail -n 1 "$work/$arm" | awk '{print $1}')
		awk -v t="$((t1 - t0))" -v hz="$hz" -v d="$DUR" -v rps="$rps" \
			'BEGIN { printf "%.4f\n", (t / hz / d * 100) / (rps / 1000) }' >>"$work/cpu_$arm"
		awk '/VmRSS/ {printf "%.1f\n", $2 / 1024}' "/proc/$agent_pid/status" >>"$work/rss_$arm"
		stop_agent
	done
	echo "round $r: base $(tail -n 1 "$work/base") off $(tail -n 1 "$work/off")" \
		"on $(tail -n 1 "$work/on") (rps p99_us)" >&2
done

ratio() { paste "$work/$1" "$work/$2" | awk -v c="$3" '{print $c / $(c + 2)}' | median; }
echo "BENCH spans_off_throughput_ratio $(ratio off base 1) ratio"
echo "BENCH spans_on_throughput_ratio $(ratio on base 1) ratio"
echo "BENCH spans_on_off_throughput_ratio $(ratio on off 1) ratio"
echo "BENCH spans_on_off_p99_ratio $(ratio on off 2) ratio"
echo "BENCH spans_off_cpu_per_1k_rps $(median <"$work/cpu_off") percent"
echo "BENCH spans_on_cpu_per_1k_rps $(median <"$work/cpu_on") percent"
echo "BENCH spans_off_rss_mb $(median <"$work/rss_off") MB"
echo "BENCH spans_on_rss_mb $(median <"$work/rss_on") MB"
echo "BENCH spans_base_rps $(awk '{print $1}' "$work/base" | median) requests/s"
