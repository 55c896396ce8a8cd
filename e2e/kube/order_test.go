//go:build e2ek8s

package kube

import "testing"

// TestE2E runs every scenario on the one shared cluster, in this order
// and no other: go test would run separate tests in the order of their
// file names. Each scenario starts by waiting for a healthy 3-member
// Galera cluster and leaves one behind, except S9, which stops the Galera
// StatefulSet and so runs last. Run one scenario with
// -run 'TestE2E/S3RollingUpdate$'.
func TestE2E(t *testing.T) {
	for _, s := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"S1Apply", testS1Apply},
		{"S1Plumbing", testS1Plumbing},
		{"S2FullOutage", testS2FullOutage},
		{"S3RollingUpdate", testS3RollingUpdate},
		{"S4KillAndFreeze", testS4KillAndFreeze},
		{"S5PVCDeleted", testS5PVCDeleted},
		{"S6KillEveryContainer", testS6KillEveryContainer},
		{"S8InterruptedSST", testS8InterruptedSST},
		{"S7WriterThroughHAProxy", testS7WriterThroughHAProxy},
		{"S10WriterService", testS10WriterService},
		{"S15NodeLost", testS15NodeLost},
		{"S16NodeDrain", testS16NodeDrain},
		{"S17Partition", testS17Partition},
		{"S18NodeDeclaredGone", testS18NodeDeclaredGone},
		{"S19CutFromAPIServer", testS19CutFromAPIServer},
		{"S11SlowSST", testS11SlowSST},
		{"S12OutagePendingMember", testS12OutagePendingMember},
		{"S13Scale", testS13Scale},
		{"S14TokenRotation", testS14TokenRotation},
		{"S20VersionUpgrade", testS20VersionUpgrade},
		{"S9Replication", testS9Replication},
	} {
		t.Run(s.name, s.run)
	}
}
