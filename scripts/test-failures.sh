#!/usr/bin/env bash
# test-failures.sh prints what failed in the output of go test, the last
# messages of each failed test, so that it can be printed once more at the
# end of a long run (.ci/run): a CI that keeps only the tail of its output
# then still shows why a test failed, not only that it did.
#
#   scripts/test-failures.sh LOG [LINES]
#
# It reads both forms go test prints: with -v, a test's lines follow its
# "=== RUN", "=== CONT" or "=== NAME" marker; without, they are the
# indented block under its "--- FAIL:" line. A test that failed only
# because a subtest did is named, not printed (its subtests are).
#
# A message is a "file.go:N: text" line and the more deeply indented lines
# under it. Long dumps (a log, a config) would push the failure itself out
# of sight, so each message keeps its first line and at most its first
# three more, each cut at 300 characters, and a test prints at most its
# last LINES (default 60) such lines.
set -euo pipefail
log=${1:?usage: test-failures.sh LOG [LINES]}
lines=${2:-60}
[[ -r $log ]] || { echo "test-failures.sh: cannot read $log" >&2; exit 2; }

awk -v max="$lines" '
function keep(name, line) {
	n[name]++
	buf[name, n[name]] = line
}
function rest(k) { return "        … " k (k == 1 ? " more line" : " more lines") }
function cut(s) { return length(s) > 300 ? substr(s, 1, 300) " …" : s }
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
	print "==== what failed (the last messages of each failed test) ===="
	for (i = 1; i <= nf; i++) {
		name = order[i]
		parent = 0
		for (j = 1; j <= nf; j++) if (index(order[j], name "/") == 1) parent = 1
		if (parent) { print "---- " name ": failed with its subtests"; continue }
		key = (("block:" name) in n) ? "block:" name : name
		total = n[key] + 0
		# Shorten each message to its head and three more lines.
		m = 0; more = 0
		for (k = 1; k <= total; k++) {
			line = buf[key, k]
			if (line ~ /^ *[A-Za-z0-9_.\/-]+\.go:[0-9]+: / || line !~ /^     /) {
				if (more > 0) out[++m] = rest(more)
				more = 0; cont = 0
				out[++m] = cut(line)
				continue
			}
			if (++cont <= 3) out[++m] = cut(line)
			else more++
		}
		if (more > 0) out[++m] = rest(more)
		from = m - max + 1
		if (from < 1) from = 1
		printf "---- %s (%d lines of output; the last %d of them shortened)\n", name, total, m - from + 1
		for (k = from; k <= m; k++) print out[k]
		delete out
	}
}' "$log"
