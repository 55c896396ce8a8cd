// Package serve tests `galera-sentinel serve` (the built binary, started
// by internal/testsentinel) against real mariadbd nodes of
// internal/testcluster: each probe under address faults (refused,
// blackholed, silent), node faults (partition, freeze, kill, maintenance),
// a state transfer, a long stall and max_connections; the /metrics series
// and the shipped alert rules over a recorded partition and split brain;
// and the forms of HAProxy's HTTP check. It holds tests only; go test
// runs it side by side with the other e2e packages.
package serve
