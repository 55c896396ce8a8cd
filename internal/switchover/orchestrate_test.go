package switchover

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// fakeMember is a sentinel over a fakeServer: its /status as the
// replication sentinel writes it, and the API.
func fakeMember(t *testing.T, f *fakeServer) string {
	t.Helper()
	m := mux(f)
	m.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st, _ := f.State(r.Context())
		role := "unknown"
		switch {
		case st.HasReplica:
			role = "replica"
		case !st.ReadOnly:
			role = "primary"
		}
		doc := map[string]any{
			"ready": map[string]any{"ok": role != "unknown", "reason": "fake " + role},
			"sample": map[string]any{"at": time.Now(), "role": role, "read_only": st.ReadOnly, "gtid_binlog_pos": st.BinlogPos,
				"gtid_slave_pos": st.SlavePos, "master_host": st.MasterHost, "master_port": st.MasterPort,
				"io_running": map[bool]string{true: "Yes", false: ""}[st.HasReplica], "sql_running": st.HasReplica,
				"lag_seconds": 0.1, "lag_source": "heartbeat"},
		}
		json.NewEncoder(w).Encode(doc)
	})
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func threeMembers(t *testing.T) ([]*fakeServer, []string) {
	fs := []*fakeServer{
		{st: State{BinlogPos: "0-1-50", SlavePos: ""}},
		{st: State{ReadOnly: true, HasReplica: true, MasterHost: "127.0.0.1", MasterPort: 3307, BinlogPos: "0-1-48", SlavePos: "0-1-48"}, waitReaches: true},
		{st: State{ReadOnly: true, HasReplica: true, MasterHost: "127.0.0.1", MasterPort: 3307, BinlogPos: "0-1-50", SlavePos: "0-1-50"}},
	}
	var addrs []string
	for _, f := range fs {
		addrs = append(addrs, fakeMember(t, f))
	}
	return fs, addrs
}

func clients() Clients {
	c := peer.NewClient(testToken, nil, 2*time.Second)
	return Clients{Call: c, Promote: peer.NewClient(testToken, nil, 10*time.Second)}
}

func TestRun(t *testing.T) {
	fs, addrs := threeMembers(t)
	var out strings.Builder
	rep, err := Run(context.Background(), clients(), addrs, Options{To: addrs[1], Limits: Limits{MaxLag: 10 * time.Second},
		Wait: 5 * time.Second, Settle: 3 * time.Second, Out: &out})
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	host := strings.Split(addrs[1], ":")[0]
	if rep.Primary != host+":3307" {
		t.Errorf("primary %s", rep.Primary)
	}
	if got := strings.Join(fs[0].calls, ","); got != "demote,slave_pos 0-1-50,follow "+host+":3307" {
		t.Errorf("old primary: %s", got)
	}
	if got := strings.Join(fs[1].calls, ","); got != "wait 0-1-50 5s,promote" {
		t.Errorf("candidate: %s", got)
	}
	if got := strings.Join(fs[2].calls, ","); got != "follow "+host+":3307" {
		t.Errorf("other: %s", got)
	}
	if fs[1].st.ReadOnly || !fs[0].st.ReadOnly || !fs[0].st.HasReplica {
		t.Errorf("final state: old %+v new %+v", fs[0].st, fs[1].st)
	}
	for _, want := range []string{"1/4 demote", "2/4 promote", "3/4 follow " + addrs[2], "4/4 follow " + addrs[0], "switchover done"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestRunUndoesWhenTheCandidateDoesNotCatchUp(t *testing.T) {
	fs, addrs := threeMembers(t)
	fs[1].waitReaches = false
	var out strings.Builder
	_, err := Run(context.Background(), clients(), addrs, Options{To: addrs[1], Limits: Limits{MaxLag: 10 * time.Second},
		Wait: time.Second, Settle: 3 * time.Second, Out: &out})
	t.Log(out.String())
	if err == nil || !strings.Contains(err.Error(), "undone: "+addrs[0]+" is the primary again") {
		t.Fatalf("err %v", err)
	}
	if fs[0].st.ReadOnly || !fs[1].st.ReadOnly || !fs[1].st.HasReplica || len(fs[2].calls) != 0 {
		t.Fatalf("state after the undo: %+v %+v %v", fs[0].st, fs[1].st, fs[2].calls)
	}
}

func TestRunDoesNotUndoAChangedCandidate(t *testing.T) {
	fs, addrs := threeMembers(t)
	fs[1].failPromote = errors.New("RESET SLAVE ALL: denied")
	_, err := Run(context.Background(), clients(), addrs, Options{To: addrs[1], Limits: Limits{MaxLag: 10 * time.Second},
		Wait: time.Second, Settle: time.Second})
	if err == nil || !strings.Contains(err.Error(), "NOT undone") || !fs[0].st.ReadOnly {
		t.Fatalf("err %v, old %+v", err, fs[0].st)
	}
}

func TestRunRefuses(t *testing.T) {
	fs, addrs := threeMembers(t)
	_, err := Run(context.Background(), clients(), addrs, Options{To: addrs[0], Limits: Limits{MaxLag: 10 * time.Second}, Wait: time.Second, Settle: time.Second})
	if !errors.As(err, new(*RefusedError)) || !strings.Contains(err.Error(), "already the primary") {
		t.Fatalf("err %v", err)
	}
	for _, f := range fs {
		if len(f.calls) > 0 {
			t.Fatalf("a refused switchover acted: %v", f.calls)
		}
	}
}

// staleCaller answers /status from docs, the primary's newer on every call.
type staleCaller struct{ calls int }

func (s *staleCaller) Get(_ context.Context, addr, _ string, v any) error {
	s.calls++
	at := time.Date(2026, 1, 1, 0, 0, s.calls, 0, time.UTC)
	doc := `{"ready":{"ok":true},"sample":{"role":"primary","gtid_binlog_pos":"0-1-20","at":"` + at.Format(time.RFC3339) + `"}}`
	*(v.(*json.RawMessage)) = json.RawMessage(doc)
	return nil
}

func (s *staleCaller) Post(context.Context, string, string, any) error { return errors.New("no") }

// TestFreshPrimary: a replica sampled after its primary may be ahead of
// the primary's sample; the primary is read again, and the plan is made
// on a sample younger than every replica's.
func TestFreshPrimary(t *testing.T) {
	old := primaryView("p:9200", "0-1-10")
	old.Repl.At = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := replicaView("r:9200", "0-1-12", 0)
	r.Repl.At = old.Repl.At.Add(1500 * time.Millisecond)
	views := []View{old, r}
	if _, err := Decide(views, 1, Limits{MaxLag: time.Second}); err == nil || !strings.Contains(err.Error(), "ahead of the primary") {
		t.Fatalf("stale primary: %v", err)
	}
	c := &staleCaller{}
	freshPrimary(context.Background(), c, views, 2*time.Second)
	if views[0].Repl.BinlogPos != "0-1-20" || c.calls != 2 {
		t.Fatalf("primary not read again until younger: %+v after %d calls", views[0].Repl, c.calls)
	}
	if p, err := Decide(views, 1, Limits{MaxLag: time.Second}); err != nil || p.Behind != 8 {
		t.Fatalf("fresh: %+v %v", p, err)
	}
}
