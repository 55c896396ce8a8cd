// Package recovery tests how `galera-sentinel run` brings a Galera
// cluster back (the built binary on internal/testcluster nodes): after a
// full outage, with the most advanced member last, with a member gone for
// good (the override and force-bootstrap), and through a partition during
// the start. It holds tests only; go test runs it side by side with the
// other e2e packages.
package recovery
