package haproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

type observation = readiness.Observation[galera.Sample]

func healthy() galera.Sample {
	return galera.Sample{WsrepOn: true, Connected: true, Ready: true, ClusterStatus: "Primary",
		LocalState: galera.StateSynced, ClusterSize: 3, RejectQueries: "NONE"}
}

func TestAgentAnswer(t *testing.T) {
	now := time.Now()
	pol := galera.Policy{}
	limits := readiness.Limits{MaxStaleness: time.Second, LivenessGrace: time.Second}
	donorOK := pol
	donorOK.AvailableWhenDonor = true
	sample := func(f func(s *galera.Sample)) *galera.Sample {
		s := healthy()
		s.At = now
		if f != nil {
			f(&s)
		}
		return &s
	}
	donor := sample(func(s *galera.Sample) { s.LocalState = galera.StateDonor })
	for _, tc := range []struct {
		name string
		pol  galera.Policy
		o    observation
		want string
	}{
		{"ready", pol, observation{Last: sample(nil)}, "up ready 100%"},
		{"ready donor", donorOK, observation{Last: donor}, "up ready 25%"},
		{"donor not allowed", pol, observation{Last: donor}, "down #not Synced: Donor/Desynced"},
		{"maintenance", pol, observation{Last: sample(nil), Maintenance: true}, "maint"},
		{"stopping", pol, observation{Last: sample(nil), Stopping: true}, "drain"},
		{"stopping in maintenance", pol, observation{Last: sample(nil), Stopping: true, Maintenance: true}, "drain"},
		{"held", pol, observation{Hold: "waiting for peers: 1 of 3\nexpected"}, "down #not started: waiting for peers: 1 of 3 expected"},
		{"non-Primary", pol, observation{Last: sample(func(s *galera.Sample) { s.ClusterStatus = "non-Primary" })}, "down #not Primary: non-Primary"},
		{"never sampled", pol, observation{Err: errors.New("dial: refused")}, "down #no sample yet: dial: refused"},
	} {
		if tc.o.Last != nil {
			tc.o.LastAt = now
		}
		got := Answer(health.TrafficAt(readiness.Judge[galera.Sample]{Policy: tc.pol, Limits: limits}, tc.o, now))
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Errorf("%s: answer spans lines: %q", tc.name, got)
		}
	}
}

// startAgent serves the agent protocol over state on a loopback port.
func startAgent(t *testing.T, state func(time.Time) health.Traffic) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, state) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	return ln.Addr().String()
}

// askAgent does what HAProxy does: connect, optionally send agent-send,
// read one line.
func askAgent(t *testing.T, addr, send string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatal(err)
		}
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("agent answer: %v (read %q)", err, b)
	}
	return string(b)
}

func TestServeAgent(t *testing.T) {
	judge := readiness.Judge[galera.Sample]{Policy: galera.Policy{}, Limits: readiness.Limits{MaxStaleness: time.Hour, LivenessGrace: time.Second}}
	p := health.NewPoller(health.PollerConfig{Interval: time.Hour, Timeout: time.Second}, judge, fixedSampler{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	for deadline := time.Now().Add(5 * time.Second); p.Snapshot().Last == nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no sample after 5s")
		}
	}
	addr := startAgent(t, p.Traffic)
	if got := askAgent(t, addr, ""); got != "up ready 100%\n" {
		t.Errorf("ready: %q", got)
	}
	// HAProxy's agent-send: the line is read and ignored, the answer
	// still arrives whole (no reset).
	if got := askAgent(t, addr, "backend/db1\n"); got != "up ready 100%\n" {
		t.Errorf("with agent-send: %q", got)
	}
	if err := p.SetMaintenance(true); err != nil {
		t.Fatal(err)
	}
	if got := askAgent(t, addr, ""); got != "maint\n" {
		t.Errorf("maintenance: %q", got)
	}
	p.SetStopping()
	if got := askAgent(t, addr, ""); got != "drain\n" {
		t.Errorf("stopping: %q", got)
	}

	// Clients that connect and never read or close are cut at the
	// deadline; a well-behaved one is still answered meanwhile.
	var idle []net.Conn
	for range 100 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	begin := time.Now()
	if got := askAgent(t, addr, ""); got != "drain\n" {
		t.Errorf("answer with 100 idle connections open: %q", got)
	}
	t.Logf("answer with 100 idle connections open took %v", time.Since(begin))
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(agentDeadline + 2*time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("idle agent connection not closed by the sentinel: %v", err)
			break
		}
		c.Close()
	}
}

type fixedSampler struct{}

func (fixedSampler) Sample(context.Context) (galera.Sample, error) { return healthy(), nil }
