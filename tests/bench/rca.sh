#!/bin/bash
# Root cause analysis on injected faults, end to end on the real platform
# (tests/integration/aggregator/test_rca.c, with the cascades too): the demo
# services under load, prp-agent, prp-aggregator, one fault at a time.
#
#   BENCH rca_top1_accuracy          root_cause.service is the injected one (target 100 %)
#   BENCH rca_cascade_top1_accuracy  the same on two cascades (reported)
#
# Needs root (eBPF). Environment: BUILD_DIR, PRP_RCA_FAULT_S (15), PRP_RCA_GAP_S (35).
set -eu
BUILD_DIR=${BUILD_DIR:-build}
export PRP_RCA_CASCADES=1
test=$BUILD_DIR/tests/integration/aggregator/test_rca
[ -x "$test" ] || make --no-print-directory "$test" >/dev/null
out=$("$test" --jobs 1 --verbose 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
printf '%s\n' "$out" | grep -E '^(BENCH|rca)'
