// Package ops tests the operations a running Galera cluster goes through
// under `galera-sentinel run` with clients writing: rolling restarts behind
// HAProxy (the sentinel check and the TCP control), the drain that waits
// for clients, --drain-delay against the balancer, maintenance through the
// API, and how fast mariadbd's notifications reach the probes. It holds
// tests only; go test runs it side by side with the other e2e packages.
package ops
