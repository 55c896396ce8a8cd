package replmember

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

func TestParseBinlogInfo(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{"binlog.000002\t1234\t0-1-5\n", "0-1-5", false},
		{"binlog.000002\t1234\t0-1-5,1-2-7", "0-1-5,1-2-7", false},
		{"binlog.000001\t329", "", false}, // no GTID written yet
		{"binlog.000001\t329\t\n", "", false},
		{"garbage", "", true},
		{"binlog.000001\t329\tnot-a-gtid", "", true},
	} {
		got, err := ParseBinlogInfo(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseBinlogInfo(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

type fakePoller struct {
	snap health.Snapshot[replica.Sample]
}

func (*fakePoller) SetHold(string)                               {}
func (*fakePoller) SetStopping()                                 {}
func (*fakePoller) Kick()                                        {}
func (p *fakePoller) Snapshot() *health.Snapshot[replica.Sample] { return &p.snap }

// The backup endpoint is behind the token, and refuses while this
// member's server is not serving.
func TestBackupEndpointGuarded(t *testing.T) {
	const tok = "a-token-of-sixteen-bytes-or-more"
	m := New(Config{Config: member.Config{NodeName: "n1"}, Advertise: "h1:3306", Backup: BackupConfig{Token: tok}}, &fakePoller{}, nil, nil, nil, nil, nil, nil, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(httpserver.NewMux(m.Routes(nil)))
	defer srv.Close()
	for _, tc := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer wrong-token-wrong-token-wrong", 403}, {"Bearer " + tok, 503}} {
		req, _ := http.NewRequest("GET", srv.URL+BackupPath, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("auth %q: HTTP %d, want %d", tc.auth, resp.StatusCode, tc.code)
		}
	}
	resp, err := http.Get(srv.URL + StatePath)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("member document: %v %v", resp, err)
	}
	resp.Body.Close()
	if d := m.State(); d.Name != "n1" || d.Addr != "h1:3306" || d.Sample != nil {
		t.Fatalf("state %+v", d)
	}
}
