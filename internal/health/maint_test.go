package health

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
)

func TestMaintenanceAPI(t *testing.T) {
	const token = "maintenance-test-token-0123"
	for _, withFile := range []bool{false, true} {
		name := "in memory"
		if withFile {
			name = "maintenance file"
		}
		t.Run(name, func(t *testing.T) {
			cfg := PollerConfig{Interval: time.Hour, Timeout: time.Second}
			judge := testJudge(time.Hour, time.Second)
			file := filepath.Join(t.TempDir(), "drain")
			if withFile {
				cfg.MaintenanceFile = file
			}
			p := NewPoller(cfg, judge, &fixedSampler{s: healthy()})
			p.pollOnce(context.Background())
			mux := http.NewServeMux()
			h := NewHandlers(p)
			h.Register(mux)
			h.RegisterAdmin(mux, httpserver.RequireToken(token, nil), slog.New(slog.DiscardHandler))
			ln, err := httpserver.Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- httpserver.Serve(ctx, ln, mux, slog.New(slog.DiscardHandler)) }()
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
	p := NewPoller(PollerConfig{Interval: time.Hour, Timeout: time.Second}, testJudge(time.Hour, time.Second), &fixedSampler{s: healthy()})
	mux := http.NewServeMux()
	NewHandlers(p).RegisterAdmin(mux, httpserver.RequireToken("", nil), slog.New(slog.DiscardHandler))
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
