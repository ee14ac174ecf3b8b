#!/bin/sh
# run-suite.sh RESULTS LABEL BINARY [ARGS...]: runs one criterion test binary,
# shows its output, and appends "LABEL PASSED FAILED" to RESULTS. A binary
# that dies without criterion's closing line counts as one failure. Always
# exits 0 so that the next suite runs; summarize.sh decides.
set -u
results=$1 label=$2 bin=$3
shift 3
out=$(mktemp)
"$bin" --short-filename "$@" >"$out" 2>&1
rc=$?
cat "$out"
line=$(grep 'Synthesis:' "$out" | tail -n 1)
# A test whose .fini aborts (test_no_leaks found a leak) is still counted as
# passing by criterion 2.4, which only warns: count each such test as failed.
teardown=$(grep -c 'crashed during its setup or teardown' "$out")
rm -f "$out"
if [ -z "$line" ]; then
	echo "$label: no criterion synthesis (exit $rc)" >&2
	echo "$label 0 1" >>"$results"
	exit 0
fi
passed=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
failed=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
passed=$((${passed:-0} - teardown))
failed=$((${failed:-0} + teardown))
# criterion counts crashes among the failures already
if [ "$rc" != 0 ] && [ "${failed:-0}" = 0 ]; then
	failed=1
fi
echo "$label $passed $failed" >>"$results"
exit 0
