package replmember

import (
	"testing"

	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

// TestDecisionCarriesClass: the member publishes a start decision with
// its action, its reason (the fix after it) and the class of the rule
// that made it.
func TestDecisionCarriesClass(t *testing.T) {
	got := Decision(replica.StartDecision{Action: replica.StartRefuse, Class: replica.DecidedDiverged, Reason: "r", Fix: "f"})
	want := member.Decision{Action: member.Refuse, Class: member.Class(replica.DecidedDiverged), Reason: "r — to fix: f"}
	if got != want {
		t.Errorf("Decision() = %+v, want %+v", got, want)
	}
}
