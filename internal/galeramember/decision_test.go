package galeramember

import (
	"testing"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
)

// TestDecisionCarriesClass: the member publishes a galera decision with
// its action's name, its reason and the class of the rule that made it.
func TestDecisionCarriesClass(t *testing.T) {
	got := Decision(galera.Decision{Action: galera.Refuse, Class: galera.DecidedUUIDConflict, Reason: "r"})
	want := member.Decision{Action: member.Refuse, Class: member.Class(galera.DecidedUUIDConflict), Reason: "r"}
	if got != want {
		t.Errorf("Decision() = %+v, want %+v", got, want)
	}
}
