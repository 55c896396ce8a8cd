// Package transfer tests state transfers under `galera-sentinel run` (the
// built binary on internal/testcluster nodes): an SST broken off by a
// killed joiner, a refused SST port and a killed donor, and a transfer
// that stalls (the stall timeout, liveness, the retry). It holds tests
// only; go test runs it side by side with the other e2e packages.
package transfer
