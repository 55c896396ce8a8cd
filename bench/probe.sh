#!/usr/bin/env bash
# Prints the cost of a /metrics scrape (ms, allocations), /readyz
# throughput against a bare net/http handler (the ceiling), /readyz
# throughput and latency of a real sentinel process over a real mariadbd
# node, the database's Questions/s with and without the probe load, and
# /readyz throughput with a scrape every second against without. Needs
# root and the packages of scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
# The cost of one /metrics scrape, in process: time, allocations, bytes.
go test -run '^$' -bench 'BenchmarkScrape' -benchmem -count 1 ./internal/metrics/
exec go test -run '^$' -bench 'BenchmarkReadyz(Ceiling|Wrk|WithScrapes)' -benchtime 1x -count 1 ./bench/
