#!/bin/bash
# Detection end to end on the real platform (tests/integration/aggregator/
# test_detection.c run longer): the demo services under load, prp-agent,
# prp-aggregator.
#
#   BENCH false_alarms_per_hour  anomalies of severity warning+ per hour of steady load (0)
#   BENCH detect_delay_s         median delay, chaos on payments -> GET /anomalies (<= 5)
#   BENCH breach_lead_time_s     a climbing p99 predicted to breach this long before (>= 30)
#
# Needs root (eBPF). Environment: BUILD_DIR, PRP_STEADY_S (600: 10 minutes of
# steady load), PRP_DETECT_TRIALS (10, alternately 300 ms latency and 30% errors).
set -eu
BUILD_DIR=${BUILD_DIR:-build}
export PRP_STEADY_S=${PRP_STEADY_S:-600} PRP_DETECT_TRIALS=${PRP_DETECT_TRIALS:-10}
test=$BUILD_DIR/tests/integration/aggregator/test_detection
[ -x "$test" ] || make --no-print-directory "$test" >/dev/null
out=$("$test" --jobs 1 --verbose 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
printf '%s\n' "$out" | grep -E '^(BENCH|trial)'
