#!/usr/bin/env bash
# Where the suite's time goes: runs `go test -json` (the same flags as
# `make test-go`) and prints the wall time of each package and the 20
# longest tests. Needs root and the packages of scripts/install-deps.sh.
#
#   bench/suite-times.sh                      # the whole suite (30+ min)
#   bench/suite-times.sh ./e2e/ops ./e2e/writer
#   bench/suite-times.sh -f saved.json        # report on a saved run
#   TEST_P=4 bench/suite-times.sh             # go test -p (default: make's)
#
# The raw events are kept in $OUT (default /tmp/suite-times.json) to be
# read again with -f. Times depend on what else the machine runs: say so
# when you quote them.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/suite-times.json}
if [[ ${1:-} == -f ]]; then
	OUT=$2
else
	pkgs=("$@")
	[[ ${#pkgs[@]} -gt 0 ]] || pkgs=(./...)
	p=${TEST_P:-$(sed -n 's/^TEST_P *?= *//p' Makefile)}
	begin=$(date +%s)
	# A failing test must not stop the report.
	go test -count=1 -timeout "${TEST_TIMEOUT:-60m}" ${p:+-p "$p"} -json "${pkgs[@]}" >"$OUT" || true
	echo "wall: $(( $(date +%s) - begin ))s (-p ${p:-default}), events in $OUT"
fi
echo
echo "packages (s, longest first):"
jq -r 'select(.Test == null and (.Action == "pass" or .Action == "fail") and .Elapsed != null)
	| "\(.Elapsed)\t\(.Action)\t\(.Package)"' "$OUT" | sort -rn | awk -F'\t' '{sub(".*/galera-sentinel/galera-sentinel/", "", $3); printf "  %8.1f  %-4s  %s\n", $1, $2, $3}'
echo
echo "top 20 tests (s; subtests not counted):"
jq -r 'select(.Test != null and (.Test | contains("/") | not) and (.Action == "pass" or .Action == "fail" or .Action == "skip"))
	| "\(.Elapsed)\t\(.Action)\t\(.Test)\t\(.Package)"' "$OUT" | sort -rn | head -20 |
	awk -F'\t' '{sub(".*/galera-sentinel/", "", $4); printf "  %8.1f  %-4s  %-45s %s\n", $1, $2, $3, $4}'
