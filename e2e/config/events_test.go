package config

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// TestEventsOutliveTheProcess: a member's journal lives in its data
// directory. Three lives of node2's sentinel on one data directory (a
// clean stop, then a kill -9 of sentinel and mariadbd, then a new start):
// `galera-sentinel events` shows each earlier life's last verdicts, the
// drain of the clean stop, and the decision that started the next life.
func TestEventsOutliveTheProcess(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	n2 := rc.C.Nodes[1]
	file := filepath.Join(n2.DataDir, journal.FileName)

	rc.Stop(ctx, n2) // life 1 ends cleanly: drain, stop
	rc.Start(n2)
	rc.WaitSynced(ctx, 3)
	if err := n2.Kill(); err != nil { // life 2 ends by kill -9
		t.Fatal(err)
	}
	rc.Start(n2)
	rc.WaitSynced(ctx, 3)

	var out strings.Builder
	stdout, stderr, err := testsentinel.Command(ctx, t, []string{"events", "--file=" + file, "--format=json"})
	if err != nil {
		t.Fatalf("events: %v\n%s", err, stderr)
	}
	out.WriteString(stdout)
	var lives []string
	byLife := map[string][]journal.Event{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e journal.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("events --format=json printed %q: %v", line, err)
		}
		if e.Node != n2.Name {
			t.Errorf("an event of %q in %s's journal", e.Node, n2.Name)
		}
		if _, ok := byLife[e.Instance]; !ok {
			lives = append(lives, e.Instance)
		}
		byLife[e.Instance] = append(byLife[e.Instance], e)
	}
	if len(lives) != 3 {
		t.Fatalf("%d lives in the journal, want 3:\n%s", len(lives), out.String())
	}
	has := func(life int, kind, reasonPart string, ok ...bool) bool {
		for _, e := range byLife[lives[life]] {
			if e.Kind == kind && strings.Contains(e.Reason, reasonPart) && (len(ok) == 0 || e.OK != nil && *e.OK == ok[0]) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		life       int
		kind, part string
		ok         []bool
		what       string
	}{
		{0, journal.KindStart, "run, pid", nil, "the first life's start"},
		{0, journal.KindVerdict, "ready: Primary, Synced", []bool{true}, "the first life's ready verdict"},
		{0, journal.KindDrain, "began", nil, "the drain of the clean stop"},
		{0, journal.KindVerdict, "maintenance: shutting down", []bool{false}, "the first life's last verdict (draining)"},
		{0, journal.KindStop, "stopped", nil, "the clean stop"},
		{1, journal.KindDecision, "join", nil, "the decision that started the second life"},
		{1, journal.KindVerdict, "ready: Primary, Synced", []bool{true}, "the second life's ready verdict"},
		{2, journal.KindPosition, "", nil, "the third life reading its position after the kill"},
		{2, journal.KindDecision, "join", nil, "the decision that started the third life"},
		{2, journal.KindMariadbd, "join", nil, "the third life's mariadbd"},
	} {
		if !has(c.life, c.kind, c.part, c.ok...) {
			t.Errorf("no %s (life %d: %s %q) in the journal:\n%s", c.what, c.life+1, c.kind, c.part, out.String())
		}
	}
	if has(1, journal.KindStop, "") {
		t.Error("a stop event in the life that was killed -9")
	}
	// The text form names the lives and the events.
	out.Reset()
	stdout, stderr, err = testsentinel.Command(ctx, t, []string{"events", "--file=" + file})
	if err != nil {
		t.Fatalf("events: %v\n%s", err, stderr)
	}
	out.WriteString(stdout)
	if !strings.Contains(out.String(), "verdict ready=pass") || !strings.Contains(out.String(), lives[2][:6]) {
		t.Errorf("events (text):\n%s", out.String())
	}
	t.Logf("%d events over 3 lives; the text form:\n%s", len(strings.Split(strings.TrimSpace(out.String()), "\n")), tailLines(out.String(), 12))
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
