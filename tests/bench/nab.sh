#!/bin/bash
# prp-detect on the NAB development subset (docs/detection.md): runs
# build/prp-detect on every data file, writes the results tree NAB's layout
# expects under $BUILD_DIR/nab/, and scores it with the independent scorer.
#
#   BENCH nab_score_standard  normalised NAB score, standard profile (target >= 70)
#   BENCH nab_score_low_fp    the same, reward_low_FP_rate profile
#   BENCH nab_score_low_fn    the same, reward_low_FN_rate profile
#
# Environment: BUILD_DIR (build), NAB_DIR (/work/shared/data/nab, else
# ../shared/data/nab from the repository), NAB_SCORER
# (/work/shared/tools/nab_score.py), JOBS (parallel runs, nproc), PRP_DETECT_ARGS
# (extra prp-detect arguments, e.g. "--param cusum_h=10" to try a setting),
# PRP_DETECT (the binary, $BUILD_DIR/prp-detect), NAB_PER_FILE=1 (also print each
# file's raw score). Without the data or the
# scorer it prints a note and exits 0.
set -eu
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
if [ -z "${NAB_DIR:-}" ]; then
	NAB_DIR=/work/shared/data/nab
	[ -d "$NAB_DIR/data" ] || NAB_DIR=../shared/data/nab
fi
NAB_SCORER=${NAB_SCORER:-/work/shared/tools/nab_score.py}
JOBS=${JOBS:-$(nproc)}
DETECT=${PRP_DETECT:-$BUILD_DIR/prp-detect}

if [ ! -d "$NAB_DIR/data" ] || [ ! -r "$NAB_DIR/labels/combined_windows.json" ]; then
	echo "nab: no NAB data at '$NAB_DIR' (set NAB_DIR): skipped"
	exit 0
fi
if [ ! -r "$NAB_SCORER" ]; then
	echo "nab: no scorer at '$NAB_SCORER' (set NAB_SCORER): skipped"
	exit 0
fi
[ -x "$DETECT" ] || { echo "nab: $DETECT is not built (make $DETECT)" >&2; exit 1; }

out="$BUILD_DIR/nab/results"
rm -rf "$out"
# one job per file: "<category>/<file>.csv"
mkdir -p "$out"
(cd "$NAB_DIR/data" && find . -name '*.csv' | sed 's|^\./||' | sort) >"$BUILD_DIR/nab/files"
export DETECT NAB_DIR out PRP_DETECT_ARGS="${PRP_DETECT_ARGS:-}"
# shellcheck disable=SC2016 # expanded by the inner shell
xargs -P "$JOBS" -I{} sh -c '
	cat=$(dirname "{}"); f=$(basename "{}")
	mkdir -p "$out/prp/$cat"
	"$DETECT" $PRP_DETECT_ARGS "$NAB_DIR/data/{}" >"$out/prp/$cat/prp_$f"' <"$BUILD_DIR/nab/files"

score="$BUILD_DIR/nab/score.txt"
python3 "$NAB_SCORER" --data "$NAB_DIR/data" --labels "$NAB_DIR/labels/combined_windows.json" \
	--results "$out" --detector prp ${NAB_PER_FILE:+--per-file} >"$score"
[ -n "${NAB_PER_FILE:-}" ] && grep -v '^{' "$score"
awk '$1 == "standard" { s = $2 } $1 == "reward_low_FP_rate" { fp = $2 }
	$1 == "reward_low_FN_rate" { fn = $2 }
	END {
		printf "BENCH nab_score_standard %s score\n", s
		printf "BENCH nab_score_low_fp %s score\n", fp
		printf "BENCH nab_score_low_fn %s score\n", fn
	}' "$score"
