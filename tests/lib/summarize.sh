#!/bin/sh
# summarize.sh RESULTS: totals what run-suite.sh and run-fuzz.sh recorded and
# exits 1 if anything failed or nothing ran. The last line is the plain
# "N passed, N failed" that CI reads.
set -u
results=$1
if [ ! -s "$results" ]; then
	echo "total: 0 passed, 1 failed (no test ran)"
	exit 1
fi
echo "== summary"
awk '$3 > 0 { printf "FAILED %s (%d failed)\n", $1, $3 }' "$results"
awk '{ p += $2; f += $3 } END { printf "total: %d passed, %d failed\n", p, f; exit f > 0 }' "$results"
