package galera

import (
	"testing"
	"time"
)

func TestDetached(t *testing.T) {
	synced := Sample{WsrepOn: true, Connected: true, Ready: true, ClusterStatus: "Primary", LocalState: StateSynced, ClusterSize: 3}
	for _, tc := range []struct {
		name string
		s    Sample
		want bool
	}{
		{"synced", synced, false},
		{"after a failed IST: disconnected, Initialized", Sample{WsrepOn: true, ClusterStatus: "Disconnected", LocalState: StateUnknown}, true},
		{"cut off from its peers: still connected, non-Primary", Sample{WsrepOn: true, Connected: true, ClusterStatus: "non-Primary", LocalState: StateUnknown}, false},
		{"receiving a state transfer", Sample{WsrepOn: true, Connected: true, ClusterStatus: "Primary", LocalState: StateJoining}, false},
		{"disconnected while Joined", Sample{WsrepOn: true, ClusterStatus: "Disconnected", LocalState: StateJoined}, false},
		{"wsrep off: not a Galera node now", Sample{ClusterStatus: "Disconnected"}, false},
	} {
		if got := Detached(tc.s); got != tc.want {
			t.Errorf("%s: Detached = %v, want %v", tc.name, got, tc.want)
		}
	}
	now := time.Now()
	for _, tc := range []struct {
		name   string
		since  time.Time
		checks int
		want   bool
	}{
		{"not detached", time.Time{}, 5, false},
		{"one check", now.Add(-time.Minute), 1, false},
		{"three checks, too soon", now.Add(-time.Second), 3, false},
		{"three checks over the settle time", now.Add(-DetachedSettle), 3, true},
	} {
		if got := RestartDetached(tc.since, now, tc.checks); got != tc.want {
			t.Errorf("%s: RestartDetached = %v, want %v", tc.name, got, tc.want)
		}
	}
}
