package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// states answers the same state every time.
type states peer.State

func (s states) State(context.Context, string) (peer.State, error) { return peer.State(s), nil }

// TestFollowOverrideRefusal: force-bootstrap fails on a refusal, told by
// the typed action, and by the prose from a sentinel of the release
// before it (which sends no action); any other decision is waited on.
func TestFollowOverrideRefusal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		st      peer.State
		refused bool
	}{
		{"typed refusal", peer.State{NodeName: "n1", Action: member.Refuse, Decision: "refuse: two cluster UUIDs"}, true},
		{"typed wait, whatever the prose says", peer.State{NodeName: "n1", Action: member.Wait, Decision: "refuse-like wording: waiting"}, false},
		{"previous release: refusal in prose", peer.State{NodeName: "n1", Decision: "refuse: two cluster UUIDs"}, true},
		{"previous release: wait in prose", peer.State{NodeName: "n1", Decision: "wait: 1 of 3 answered"}, false},
	} {
		err := followOverride(context.Background(), states(tc.st), "n1", "addr", 50*time.Millisecond, 10*time.Millisecond, io.Discard)
		switch {
		case tc.refused && (err == nil || !strings.Contains(err.Error(), "refused the override")):
			t.Errorf("%s: %v, want a refusal", tc.name, err)
		case !tc.refused && (err == nil || !strings.Contains(err.Error(), "has not started within")):
			t.Errorf("%s: %v, want a wait that timed out", tc.name, err)
		}
	}
}
