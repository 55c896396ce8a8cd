#!/usr/bin/env bash
# fuzz.sh runs one fuzzer for a while (make fuzz runs each in turn).
#
#   scripts/fuzz.sh PACKAGE FUNCTION FUZZTIME
#
# Go before 1.27 can fail a fuzzer that found nothing at the very end of
# a timed run: its coordinator reports the end of -fuzztime as the
# error "context deadline exceeded" (golang/go#75804). A real finding
# always writes its input under testdata/fuzz and says "Failing input
# written to". So a failure that is that error and nothing else is run
# once more; any other failure, or the same one twice, fails.
set -uo pipefail
pkg=${1:?usage: fuzz.sh PACKAGE FUNCTION FUZZTIME} fn=${2:?} fuzztime=${3:?}
go=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() {
	"$go" test -run '^$' -fuzz "^$fn\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$log"
	return "${PIPESTATUS[0]}"
}

# deadline_only: the failure is the coordinator's own end of time.
deadline_only() {
	grep -q '^    context deadline exceeded$' "$log" &&
		! grep -q 'Failing input written to' "$log" &&
		[[ $(grep -c '^    ' "$log") -eq 1 ]]
}

run && exit 0
if deadline_only; then
	echo "fuzz.sh: $fn failed with the end of -fuzztime alone and wrote no input (golang/go#75804); running it once more"
	run && exit 0
fi
exit 1
