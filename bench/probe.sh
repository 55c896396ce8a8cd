#!/usr/bin/env bash
# Prints /readyz throughput against a bare net/http handler (the ceiling),
# and /readyz throughput and latency of a real sentinel process over a
# real mariadbd node, and the database's Questions/s with and without the
# probe load. Needs root and the packages of scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
exec go test -run '^$' -bench 'BenchmarkReadyz(Ceiling|Wrk|WithScrapes)' -benchtime 1x -count 1 ./bench/
