package health

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

func TestAgentAnswer(t *testing.T) {
	now := time.Now()
	pol := galera.Policy{MaxStaleness: time.Second, LivenessGrace: time.Second}
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
		o    galera.Observation
		want string
	}{
		{"ready", pol, galera.Observation{Last: sample(nil)}, "up ready 100%"},
		{"ready donor", donorOK, galera.Observation{Last: donor}, "up ready 25%"},
		{"donor not allowed", pol, galera.Observation{Last: donor}, "down #not Synced: Donor/Desynced"},
		{"maintenance", pol, galera.Observation{Last: sample(nil), Maintenance: true}, "maint"},
		{"stopping", pol, galera.Observation{Last: sample(nil), Stopping: true}, "drain"},
		{"stopping in maintenance", pol, galera.Observation{Last: sample(nil), Stopping: true, Maintenance: true}, "drain"},
		{"held", pol, galera.Observation{Hold: "waiting for peers: 1 of 3\nexpected"}, "down #not started: waiting for peers: 1 of 3 expected"},
		{"non-Primary", pol, galera.Observation{Last: sample(func(s *galera.Sample) { s.ClusterStatus = "non-Primary" })}, "down #not Primary: non-Primary"},
		{"never sampled", pol, galera.Observation{Err: errors.New("dial: refused")}, "down #no sample yet: dial: refused"},
	} {
		got := AgentAnswer(&Snapshot{Observation: tc.o}, tc.pol, now)
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Errorf("%s: answer spans lines: %q", tc.name, got)
		}
	}
}

// startAgent serves the agent protocol over p on a loopback port.
func startAgent(t *testing.T, p *Poller) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeAgent(ctx, ln, p) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			t.Error("ServeAgent did not return after its context ended")
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
	p := NewPoller(PollerConfig{Interval: time.Hour, Timeout: time.Second,
		Policy: galera.Policy{MaxStaleness: time.Hour, LivenessGrace: time.Second}}, &fixedSampler{s: healthy()})
	p.pollOnce(context.Background())
	addr := startAgent(t, p)
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

func TestMaintenanceAPI(t *testing.T) {
	const token = "maintenance-test-token-0123"
	for _, withFile := range []bool{false, true} {
		name := "in memory"
		if withFile {
			name = "maintenance file"
		}
		t.Run(name, func(t *testing.T) {
			cfg := PollerConfig{Interval: time.Hour, Timeout: time.Second,
				Policy: galera.Policy{MaxStaleness: time.Hour, LivenessGrace: time.Second}}
			file := filepath.Join(t.TempDir(), "drain")
			if withFile {
				cfg.MaintenanceFile = file
			}
			p := NewPoller(cfg, &fixedSampler{s: healthy()})
			p.pollOnce(context.Background())
			mux := http.NewServeMux()
			h := NewHandlers(p)
			h.Register(mux)
			h.RegisterAdmin(mux, peer.RequireToken(token, nil), slog.New(slog.DiscardHandler))
			ln, err := Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Serve(ctx, ln, mux, slog.New(slog.DiscardHandler)) }()
			defer func() { cancel(); <-done }()
			base := "http://" + ln.Addr().String()

			post := func(query, tok string) (int, string) {
				req, _ := http.NewRequest("POST", base+"/api/v1/maintenance"+query, nil)
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if code, _ := post("?state=on", ""); code != 401 {
				t.Errorf("no token: %d, want 401", code)
			}
			if code, _ := post("?state=on", "wrong-token-wrong-token"); code != 403 {
				t.Errorf("wrong token: %d, want 403", code)
			}
			if code, body := post("?state=maybe", token); code != 400 || !strings.Contains(body, "state=on") {
				t.Errorf("bad state: %d %q, want 400 naming the choices", code, body)
			}
			if code, body := get(t, base+"/readyz"); code != 200 {
				t.Fatalf("refused requests drained the node: %d %q", code, body)
			}

			if code, body := post("?state=on", token); code != 200 {
				t.Fatalf("maintenance on: %d %q", code, body)
			}
			// At once: no poll has run since (the interval is an hour).
			for _, path := range []string{"/readyz", "/writerz"} {
				if code, body := get(t, base+path); code != 503 || body != "maintenance\n" {
					t.Errorf("%s in maintenance: %d %q, want 503 \"maintenance\"", path, code, body)
				}
			}
			if _, body := get(t, base+"/status"); !strings.Contains(body, `"maintenance": true`) {
				t.Errorf("/status does not show maintenance:\n%s", body)
			}
			if _, err := os.Stat(file); withFile != (err == nil) {
				t.Errorf("maintenance file exists=%v, want %v", err == nil, withFile)
			}
			p.pollOnce(context.Background())
			if code, _ := get(t, base+"/readyz"); code != 503 {
				t.Error("a poll ended the maintenance")
			}
			if code, body := post("?state=off", token); code != 200 {
				t.Fatalf("maintenance off: %d %q", code, body)
			}
			if code, body := get(t, base+"/readyz"); code != 200 {
				t.Errorf("after maintenance off: %d %q", code, body)
			}
			if _, err := os.Stat(file); err == nil {
				t.Error("maintenance file left behind")
			}
			// Off twice is not an error.
			if code, body := post("?state=off", token); code != 200 {
				t.Errorf("maintenance off again: %d %q", code, body)
			}
		})
	}
}

func TestMaintenanceAPIWithoutToken(t *testing.T) {
	p := NewPoller(PollerConfig{Interval: time.Hour, Timeout: time.Second}, &fixedSampler{s: healthy()})
	mux := http.NewServeMux()
	NewHandlers(p).RegisterAdmin(mux, peer.RequireToken("", nil), slog.New(slog.DiscardHandler))
	srv := &http.Server{Handler: mux}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/api/v1/maintenance?state=on", nil)
	req.Header.Set("Authorization", "Bearer anything-at-all-really")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("maintenance API with no token configured: %d, want 403", resp.StatusCode)
	}
	if p.Snapshot().Maintenance {
		t.Error("the node was drained through an API that is off")
	}
}
