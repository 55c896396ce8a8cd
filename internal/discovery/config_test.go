package discovery

import (
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string // "" means valid
		src  string
	}{
		{Config{Peers: "a:1,b:2"}, "", "static a:1,b:2"},
		{Config{PeersDNS: "galera-peers.db.svc"}, "", "dns galera-peers.db.svc port 9200"},
		{Config{PeersDNS: "x", PeerPort: 19200, DNSServer: "127.0.0.1:53"}, "", "dns x port 19200 via 127.0.0.1:53"},
		{Config{}, "--peers or --peers-dns", ""},
		{Config{Peers: "a:1", PeersDNS: "x"}, "use one", ""},
		{Config{Peers: "nohost"}, "--peers: peer \"nohost\": want host:port", ""},
		{Config{PeersDNS: "x", PeerPort: 70000}, "--peer-port=70000", ""},
	} {
		src, err := tc.c.Source(9200)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.c, err)
		case tc.want == "" && src.String() != tc.src:
			t.Errorf("%+v: source %q, want %q", tc.c, src, tc.src)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want an error containing %q", tc.c, err, tc.want)
		}
	}
}
