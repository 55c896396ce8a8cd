// Package writer tests the single writer of a Galera cluster under
// `galera-sentinel run`: the handover through the shipped single-writer
// HAProxy listener in a rolling restart and after a kill -9 (with the
// control that shows the test can fail), and the Kubernetes writer label
// against a fake API server. It holds tests only; go test runs it side by
// side with the other e2e packages.
package writer
