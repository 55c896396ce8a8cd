// Package testsentinel is the test harness one layer above testcluster:
// it builds the galera-sentinel binary once per test binary and runs it as
// users do, as `run` members of a testcluster (RunCluster) or as a
// stand-alone `serve` or client command (Start, Command), with the probe,
// log and row helpers the integration tests of every package share.
//
// It is imported only by tests. It must not reach into cmd/galera-sentinel
// (package main cannot be imported, and the tests it serves check the
// binary from the outside), and it must not start mariadbd itself: nodes,
// their addresses and their faults belong to testcluster.
package testsentinel
