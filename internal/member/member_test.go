package member

import (
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
)

// The lifecycle itself is tested through each mode (membertest.Lifecycle
// in galeramember and replmember): its parts need a mode to run.

func TestClientConnections(t *testing.T) {
	type sample struct{ threads int }
	conns := func(s sample) int { return s.threads - 1 }
	now := time.Now()
	snap := func(threads int, age time.Duration) *health.Snapshot[sample] {
		s := &health.Snapshot[sample]{}
		s.Last, s.LastAt = &sample{threads}, now.Add(-age)
		return s
	}
	for _, tc := range []struct {
		s     *health.Snapshot[sample]
		n     int
		fresh bool
	}{
		{snap(1, 0), 0, true}, {snap(5, time.Second), 4, true}, {snap(0, 0), 0, true},
		{snap(5, 3*time.Second), 0, false}, {&health.Snapshot[sample]{}, 0, false}, {nil, 0, false},
	} {
		if n, fresh := ClientConnections(tc.s, conns, 2*time.Second, now); n != tc.n || fresh != tc.fresh {
			t.Errorf("ClientConnections = %d %v, want %d %v", n, fresh, tc.n, tc.fresh)
		}
	}
}

func TestDecisionString(t *testing.T) {
	for _, tc := range []struct {
		d    Decision
		want string
	}{
		{Decision{Action: Join, Reason: "node1 is Primary"}, "join: node1 is Primary"},
		{Decision{Action: Wait}, "wait"},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.d, got, tc.want)
		}
	}
	if !(Decision{Action: Refuse}).Refused() || (Decision{Action: Wait}).Refused() {
		t.Error("Refused")
	}
}

// TestClassValues pins the lifecycle's classes to the decision metric's
// label values users' dashboards know; the class is not in the prose.
func TestClassValues(t *testing.T) {
	for c, want := range map[Class]string{ClassRetry: "trying again", ClassRestart: "mariadbd is out of the cluster for good", ClassRestartRequired: "mariadbd says this node must be restarted"} {
		if string(c) != want {
			t.Errorf("class %q, want %q: a published label value changed", c, want)
		}
	}
	if got := (Decision{Action: Retry, Reason: "x", Class: ClassRetry}).String(); got != "retry: x" {
		t.Errorf("String() = %q", got)
	}
}
