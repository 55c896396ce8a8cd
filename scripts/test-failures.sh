#!/usr/bin/env bash
# test-failures.sh prints what failed in the output of go test, the last
# lines of each failed test's own output, so that it can be printed once
# more at the end of a long run (.ci/run): a CI that keeps only the tail of
# its output then still shows why a test failed, not only that it did.
#
#   scripts/test-failures.sh LOG [LINES]
#
# It reads both forms go test prints: with -v, a test's lines follow its
# "=== RUN", "=== CONT" or "=== NAME" marker; without, they are the
# indented block under its "--- FAIL:" line. A test that failed only
# because a subtest did is named, not printed (its subtests are). At most
# LINES (default 60) lines per test.
set -euo pipefail
log=${1:?usage: test-failures.sh LOG [LINES]}
lines=${2:-60}
[[ -r $log ]] || { echo "test-failures.sh: cannot read $log" >&2; exit 2; }

awk -v max="$lines" '
function keep(name, line) {
	n[name]++
	buf[name, n[name]] = line
}
/^=== (RUN|CONT|NAME|PAUSE) / { cur = $3; block = ""; next }
/^ *--- FAIL: / {
	name = $3
	if (!(name in failed)) { failed[name] = 1; order[++nf] = name }
	block = name
	next
}
/^ *--- (PASS|SKIP): / { block = ""; next }
/^(FAIL|ok|PASS)([ \t]|$)/ { cur = ""; block = ""; next }
{
	if (block != "" && $0 ~ /^ /) { keep("block:" block, $0); next }
	block = ""
	if (cur != "") keep(cur, $0)
}
END {
	if (nf == 0) exit 0
	print "==== what failed (the last lines of each failed test) ===="
	for (i = 1; i <= nf; i++) {
		name = order[i]
		parent = 0
		for (j = 1; j <= nf; j++) if (index(order[j], name "/") == 1) parent = 1
		if (parent) { print "---- " name ": failed with its subtests"; continue }
		key = (("block:" name) in n) ? "block:" name : name
		total = n[key] + 0
		from = total - max + 1
		if (from < 1) from = 1
		printf "---- %s (%d lines of output; the last %d)\n", name, total, total - from + 1
		for (k = from; k <= total; k++) print buf[key, k]
	}
}' "$log"
