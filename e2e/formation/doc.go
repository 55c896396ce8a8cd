// Package formation tests how a Galera cluster forms under `galera-sentinel
// run` (the built binary, started by internal/testsentinel on
// internal/testcluster nodes): from empty data directories at once, from
// directories an installation filled, with a wiped member, and against
// bad input (a corrupt grastate.dat, a lying peer). It holds tests only; go test runs it side
// by side with the other e2e packages.
package formation
