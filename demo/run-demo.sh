#!/bin/bash
# The prp demo on one machine: prp-aggregator, prp-agent watching the orders,
# users and payments services (on their DESIGN.md ports) from the kernel and
# streaming its windows to the aggregator, prp-loadgen driving orders (which
# calls users and payments), and one injected fault, which the policies of
# policies/ answer: a circuit breaker opens on payments, and closes once
# payments is well again.
# Runs until Ctrl-C, or DURATION seconds. Needs root (eBPF).
#
# Environment: BUILD_DIR (build), DURATION (empty: until Ctrl-C), RPS (30).
set -u

BUILD_DIR=${BUILD_DIR:-build}
DURATION=${DURATION:-}
RPS=${RPS:-30}
VAR=var/demo
mkdir -p "$VAR"

API=http://127.0.0.1:8080
pids=()
loadgen_pid=
agent_pid=
aggregator_pid=

say() { printf '%s demo: %s\n' "$(date -u +%H:%M:%S)" "$*"; }

stop_all() {
	trap - INT TERM
	[ -n "$loadgen_pid" ] && kill -INT "$loadgen_pid" 2>/dev/null && wait "$loadgen_pid" 2>/dev/null
	[ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	[ -n "$aggregator_pid" ] && kill -TERM "$aggregator_pid" 2>/dev/null &&
		wait "$aggregator_pid" 2>/dev/null
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
	say "stopped; logs in $VAR/"
}

# start NAME PORT [ARGS...]: one service, waiting until it listens
start() {
	local name=$1 port=$2
	shift 2
	"$BUILD_DIR/prp-demo-service" --name "$name" --port "$port" "$@" 2>"$VAR/$name.log" &
	local pid=$!
	pids+=("$pid")
	for _ in $(seq 50); do
		grep -q 'listening on' "$VAR/$name.log" && {
			say "$(printf '%-9s pid %-7s http://127.0.0.1:%s  (log %s)' "$name" "$pid" "$port" "$VAR/$name.log")"
			return 0
		}
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	say "$name did not start:" >&2
	cat "$VAR/$name.log" >&2
	stop_all
	exit 1
}

trap 'stop_all; exit 0' INT TERM

# The aggregator, with one key for the demo's tenant that the agent signs with.
# Every demo starts from an empty store and spool: what it prints is this run's.
rm -rf "$VAR/data" "$VAR/spool"
mkdir -p "$VAR/keys/default" "$VAR/data"
[ -s "$VAR/keys/default/tenant.key" ] ||
	(umask 077 && head -c 32 /dev/urandom | base64 >"$VAR/keys/default/tenant.key")
say "aggregator: prp-aggregator, API on $API, ingest on tcp://127.0.0.1:7070 (log $VAR/aggregator.log)"
"$BUILD_DIR/prp-aggregator" --data "$VAR/data" --keys-dir "$VAR/keys" \
	--listen 127.0.0.1:8080 --ingest tcp://127.0.0.1:7070 --detect-warmup 30s \
	--policy-dir "$PWD/policies" --slo-service payments:latency_p99_ms=150 \
	--api-rate-limit-role admin:0/0 \
	2>"$VAR/aggregator.log" &
aggregator_pid=$!
for _ in $(seq 100); do
	grep -q 'HTTP on' "$VAR/aggregator.log" && break
	kill -0 "$aggregator_pid" 2>/dev/null || { cat "$VAR/aggregator.log" >&2; stop_all; exit 1; }
	sleep 0.1
done
# Auth is on: the admin key made at first start (the aggregator printed it
# above) is what the demo's own calls, and prpctl, use. The watcher below
# polls every second, hence no rate limit for admin keys.
API_KEY=$(cat "$VAR/data/admin.key")
export PRP_URL="$API" PRP_API_KEY="$API_KEY"
say "API key in $VAR/data/admin.key: try  build/prpctl keys list"

say "starting the demo services (no instrumentation: prp sees them from the kernel)"
start users 8002
start payments 8003
start orders 8001 --call users=http://127.0.0.1:8002 --call payments=http://127.0.0.1:8003

# The agent, before any client connects, so it sees every connection made.
say "agent: prp-agent --print, windows in $VAR/windows.jsonl (log $VAR/agent.log)"
"$BUILD_DIR/prp-agent" --print --lock-file "$VAR/agent.lock" \
	--aggregator tcp://127.0.0.1:7070 --key-file "$VAR/keys/default/tenant.key" \
	--spool-dir "$VAR/spool" --agent-id demo-agent \
	--service orders=port:8001 --service users=port:8002 --service payments=port:8003 \
	2>"$VAR/agent.log" > >(tee "$VAR/windows.jsonl" | demo/summarize-windows.py 5) &
agent_pid=$!
for _ in $(seq 100); do
	grep -q 'agent: watching' "$VAR/agent.log" && break
	kill -0 "$agent_pid" 2>/dev/null || { cat "$VAR/agent.log" >&2; stop_all; exit 1; }
	sleep 0.1
done
grep 'discovery: service\|samplers' "$VAR/agent.log" | sed 's/^[^ ]* [a-z]* /      /'

# Tell when the agent connects and when its first windows are stored.
(
	for _ in $(seq 150); do
		grep -q 'sender: connected' "$VAR/agent.log" && { say "agent: connected to the aggregator"; break; }
		sleep 0.2
	done
	for _ in $(seq 150); do
		svcs=$(curl -fs -H "X-API-Key: $API_KEY" "$API/services" 2>/dev/null | python3 -c \
			'import json,sys; print(" ".join(s["service"] for s in json.load(sys.stdin)["services"]))' 2>/dev/null)
		[ -n "$svcs" ] && { say "aggregator: first windows stored, services: $svcs"; break; }
		sleep 0.2
	done
) &

# Tell each anomaly as detection opens, escalates and resolves it, each
# predicted SLO breach, and each action policies take and how it ends.
python3 -u - "$API" "$API_KEY" <<'EOF_WATCH' &
import json, sys, time, urllib.request
api, api_key, seen, warned, acted = sys.argv[1], sys.argv[2], {}, set(), {}
rca_at, rca_last = None, 0
def get(path):
    req = urllib.request.Request(api + path, headers={"X-API-Key": api_key})
    return json.load(urllib.request.urlopen(req, timeout=2))
def post(path, body):
    req = urllib.request.Request(api + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "X-API-Key": api_key})
    return json.load(urllib.request.urlopen(req, timeout=10))
def say(msg):
    print("%s demo: %s" % (time.strftime("%H:%M:%S", time.gmtime()), msg))
while True:
    time.sleep(1)
    try:
        anomalies = get("/anomalies?limit=50")["anomalies"]
        predictions = get("/predictions/all")["predictions"]
    except Exception:
        continue
    for a in reversed(anomalies):
        state = (a["status"], a["severity"])
        if seen.get(a["id"]) == state:
            continue
        what = {None: "detected"}.get(seen.get(a["id"]), "resolved" if a["status"] == "resolved" else "escalated")
        seen[a["id"]] = state
        say("anomaly %s: %s %s = %.4g (expected %.4g), %s, id %d" % (what, a["service"], a["metric"],
            a["current_value"], a["expected_range"]["mean"], a["severity"], a["id"]))
        if what == "detected" and a["severity"] != "info" and rca_at is None and time.time() - rca_last > 120:
            rca_at = time.time() + 8  # let the incident show on every service first
    try:
        actions = get("/actions?limit=50")["actions"]
    except Exception:
        actions = []
    for a in reversed(actions):
        if acted.get(a["action_id"]) == a["status"]:
            continue
        first = a["action_id"] not in acted
        acted[a["action_id"]] = a["status"]
        params = a.get("parameters") or {}
        what = a["action"] + (" " + params["state"] if "state" in params else "")
        if first:
            say("action %d: %s on %s by %s: %s (%s)" % (a["action_id"], what, a["service"],
                a["policy_name"] or "hand", a["status"], a["reason"]))
        else:
            say("action %d: %s on %s: %s" % (a["action_id"], what, a["service"], a["status"]))
    if rca_at is not None and time.time() >= rca_at:
        rca_at, rca_last = None, time.time()
        try:
            r = post("/rca", {"time_range": "2m"})
            rc = r.get("root_cause") or {}
            say("root cause: %s (confidence %.0f%%): %s" % (rc.get("service") or "none found",
                100 * (r.get("confidence") or 0), rc.get("reason") or r.get("rca", "")))
            for s in (r.get("suspected_services") or [])[1:3]:
                say("  also affected: %s (score %.2f)" % (s["service"], s["score"]))
        except Exception as e:
            say("root cause analysis failed: %s" % e)
    for p in predictions:
        key = (p["service"], p["metric"])
        if p["will_breach"] and key not in warned:
            warned.add(key)
            say("prediction: %s %s will reach its SLO %.4g in %.0f s" % (p["service"], p["metric"],
                p["threshold"], p["breach_in_s"]))
        elif not p["will_breach"]:
            warned.discard(key)
EOF_WATCH
pids+=($!)

if [ -n "$DURATION" ]; then
	run_for=$DURATION
	say "load: prp-loadgen -> orders at $RPS rps for ${DURATION}s"
else
	run_for=0
	say "load: prp-loadgen -> orders at $RPS rps until Ctrl-C"
fi
"$BUILD_DIR/prp-loadgen" --target http://127.0.0.1:8001 --mix orders --rps "$RPS" \
	--duration "$run_for" --progress-s 5 &
loadgen_pid=$!

# One fault, a third of the way in but after detection's 30 s warm-up:
# payments slows down by 200 ms for a third of the run (45 s in and for 30 s
# when running until Ctrl-C).
if [ -n "$DURATION" ]; then
	fault_at=$((DURATION / 3)) fault_for=$((DURATION / 3))
	[ "$fault_at" -lt 45 ] && [ "$DURATION" -ge 90 ] && fault_at=45 fault_for=$((DURATION / 3))
else
	fault_at=45 fault_for=30
fi
if [ "$fault_for" -ge 1 ]; then
	sleep "$fault_at" &
	wait $! 2>/dev/null
	if kill -0 "$loadgen_pid" 2>/dev/null; then
		say "fault: payments +200 ms latency for ${fault_for}s (POST /chaos)"
		curl -sS -o /dev/null -X POST http://127.0.0.1:8003/chaos \
			-d "{\"latency_ms\": 200, \"duration_s\": $fault_for}" ||
			say "could not inject the fault"
		# What a client of orders sees, every 5 s: slow while payments is
		# sick, fast failures while the circuit breaker is open, fast
		# successes once it closed.
		(
			for _ in $(seq $(((fault_for + 60) / 5))); do
				kill -0 "$loadgen_pid" 2>/dev/null || break
				out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X POST \
					-H 'Content-Type: application/json' http://127.0.0.1:8001/orders \
					-d '{"customer_id":1,"items":[{"sku":"sku-1","qty":1}],"total":6.00}')
				say "client: POST orders/orders -> ${out% *} in $(awk "BEGIN{printf \"%.0f\", ${out#* } * 1000}") ms"
				sleep 5
			done
		) &
	fi
fi

wait "$loadgen_pid"
rc=$?
loadgen_pid=
sleep 2 # the last windows reach the aggregator
for svc in orders users payments; do
	curl -fs -H "X-API-Key: $API_KEY" "$API/services/$svc?since=1h" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("%s demo: aggregator: %-8s %6d requests, %4d errors, p99 %.1f ms" % (sys.argv[1], s["service"],
      s["requests"], s["errors"], s["latency_p99"] or 0))' "$(date -u +%H:%M:%S)" 2>/dev/null
done
stop_all
exit $rc
