#!/bin/sh
# run-fuzz.sh RESULTS BINARY SECONDS: runs one libFuzzer target for a bounded
# time over its committed corpus (tests/fuzz/corpus/NAME), keeping what it
# learns in build/fuzz/corpus-NAME so the tree stays clean. A crash, leak or
# timeout is one failure, with the reproducer left in build/fuzz/.
set -u
results=$1 bin=$2 seconds=$3
name=$(basename "$bin")
seeds=tests/fuzz/corpus/${name#fuzz_}
work=$(dirname "$bin")/corpus-${name#fuzz_}
mkdir -p "$work"
[ -d "$seeds" ] || seeds=
if "$bin" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$(dirname "$bin")/" "$work" $seeds >"$work.log" 2>&1; then
	echo "fuzz $name: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" |
		awk '{print $2}') runs in ${seconds} s, no crash"
	echo "fuzz:$name 1 0" >>"$results"
else
	tail -n 40 "$work.log"
	echo "fuzz $name: FAILED, see $work.log" >&2
	echo "fuzz:$name 0 1" >>"$results"
fi
exit 0
