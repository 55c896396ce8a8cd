package discovery

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

func TestParseStatic(t *testing.T) {
	s, err := ParseStatic(" 10.0.0.1:9200, galera-1.galera:9200 ,[fd00::3]:9200")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Static{"10.0.0.1:9200", "galera-1.galera:9200", "[fd00::3]:9200"}); !slices.Equal(s, want) {
		t.Fatalf("got %v", s)
	}
	for _, bad := range []string{"", ",", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:99999", ":9200", "a:1,a:1", "a:b"} {
		if _, err := ParseStatic(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestDNS resolves through a real dnsmasq, re-resolving on every call so
// that a changed record is seen, and fails clearly on a name that does not
// resolve.
func TestDNS(t *testing.T) {
	dns := testcluster.StartDNS(t, map[string][]string{
		"galera.test": {"127.77.9.3", "127.77.9.1", "127.77.9.2"},
	})
	d := DNS{Name: "galera.test", Port: 9200, Server: dns.Addr, Timeout: 2 * time.Second}
	got, err := d.Peers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.77.9.1:9200", "127.77.9.2:9200", "127.77.9.3:9200"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	dns.Set(map[string][]string{"galera.test": {"127.77.9.1", "127.77.9.4"}})
	got, err = d.Peers(context.Background())
	if err != nil || !slices.Equal(got, []string{"127.77.9.1:9200", "127.77.9.4:9200"}) {
		t.Fatalf("after the change: %v, %v", got, err)
	}

	_, err = DNS{Name: "missing.test", Port: 9200, Server: dns.Addr, Timeout: 2 * time.Second}.Peers(context.Background())
	if err == nil || !strings.Contains(err.Error(), "missing.test") {
		t.Fatalf("unknown name: %v", err)
	}
	// A server that never answers: the timeout holds.
	begin := time.Now()
	_, err = DNS{Name: "galera.test", Port: 9200, Server: "127.0.0.1:9", Timeout: 500 * time.Millisecond}.Peers(context.Background())
	if err == nil {
		t.Fatal("no error from a dead DNS server")
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("dead DNS server: %v", d)
	}
}
