package galera

import (
	"strings"
	"testing"
)

const goodGrastate = `# GALERA saved state
version: 2.1
uuid:    c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99
seqno:   42
safe_to_bootstrap: 0
`

func TestParseGrastate(t *testing.T) {
	g, err := ParseGrastate([]byte(goodGrastate))
	if err != nil {
		t.Fatal(err)
	}
	want := GraState{Version: "2.1", UUID: "c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99", Seqno: 42}
	if g != want {
		t.Fatalf("got %+v, want %+v", g, want)
	}

	crashed := strings.Replace(strings.Replace(goodGrastate, "42", "-1", 1), "safe_to_bootstrap: 0", "safe_to_bootstrap: 1", 1)
	g, err = ParseGrastate([]byte(crashed))
	if err != nil || g.Seqno != -1 || !g.SafeToBootstrap {
		t.Fatalf("crashed node: %+v, %v", g, err)
	}
	// Galera 3 files have no safe_to_bootstrap line; CRLF from an editor.
	old := "version: 2.1\r\nuuid: " + ZeroUUID + "\r\nseqno: -1\r\n"
	g, err = ParseGrastate([]byte(old))
	if err != nil || g.HasState() || g.SafeToBootstrap {
		t.Fatalf("old file: %+v, %v", g, err)
	}
}

func TestParseGrastateRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"blank":          "\n\n  \n",
		"no uuid":        "version: 2.1\nseqno: 1\n",
		"no seqno":       "version: 2.1\nuuid: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99\n",
		"no version":     "uuid: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99\nseqno: 1\n",
		"bad uuid":       "version: 2.1\nuuid: c8bb4bee-e5d7-11f1-a5ed\nseqno: 1\n",
		"bad seqno":      "version: 2.1\nuuid: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99\nseqno: 12x\n",
		"seqno -2":       "version: 2.1\nuuid: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99\nseqno: -2\n",
		"seqno overflow": "version: 2.1\nuuid: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99\nseqno: 99999999999999999999\n",
		"bad safe":       goodGrastate + "safe_to_bootstrap: yes\n",
		"twice":          goodGrastate + "seqno: 43\n",
		"not key value":  goodGrastate + "garbage\n",
		"truncated":      goodGrastate[:60],
		"binary":         "\x00\x01\x02\xff",
	} {
		if _, err := ParseGrastate([]byte(in)); err == nil {
			t.Errorf("%s: parsed %q", name, in)
		} else if !strings.Contains(err.Error(), "grastate.dat") {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	if _, err := ParseGrastate([]byte(strings.Repeat("#", maxGrastate+1))); err == nil {
		t.Error("a huge file parsed")
	}
}

func TestSetSafeToBootstrap(t *testing.T) {
	for _, in := range []string{goodGrastate, "version: 2.1\nuuid: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99\nseqno: 7"} {
		out, err := SetSafeToBootstrap([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		g, err := ParseGrastate(out)
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v\n%s", err, out)
		}
		orig, _ := ParseGrastate([]byte(in))
		if !g.SafeToBootstrap || g.UUID != orig.UUID || g.Seqno != orig.Seqno || g.Version != orig.Version {
			t.Fatalf("rewrite changed more than safe_to_bootstrap:\n%s", out)
		}
	}
	if _, err := SetSafeToBootstrap([]byte("seqno: 1\n")); err == nil {
		t.Fatal("rewrote a malformed file")
	}
}

func TestParseRecoveredPosition(t *testing.T) {
	log := `2026-11-21 18:17:31 0 [Note] InnoDB: Starting recovery
2026-11-21 18:17:31 0 [Note] WSREP: Recovered position: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99:17
`
	p, err := ParseRecoveredPosition([]byte(log))
	if err != nil || p != (Position{"c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99", 17}) {
		t.Fatalf("got %v, %v", p, err)
	}
	p, err = ParseRecoveredPosition([]byte("WSREP: Recovered position: C8BB4BEE-E5D7-11F1-A5ED-F285D65E2E99:-1\nWSREP: Recovered position: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99:9,0-1-9\n"))
	if err != nil || p.Seqno != 9 {
		t.Fatalf("last position with GTID: %v, %v", p, err)
	}
	for _, bad := range []string{
		"", "InnoDB: nothing here\n", "WSREP: Recovered position:\n",
		"WSREP: Recovered position: 00000000:5\n", "WSREP: Recovered position: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99\n",
		"WSREP: Recovered position: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99:abc\n",
	} {
		if _, err := ParseRecoveredPosition([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func FuzzParseGrastate(f *testing.F) {
	f.Add([]byte(goodGrastate))
	f.Add([]byte("version: 2.1\r\nuuid: " + ZeroUUID + "\r\nseqno: -1\r\n"))
	f.Add([]byte("seqno: 1\nseqno: 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ParseGrastate(b)
		if err != nil {
			return
		}
		if !ValidUUID(g.UUID) || g.Seqno < -1 || g.Version == "" {
			t.Fatalf("accepted an invalid state %+v from %q", g, b)
		}
		out, err := SetSafeToBootstrap(b)
		if err != nil {
			t.Fatalf("parsed but cannot rewrite: %v", err)
		}
		g2, err := ParseGrastate(out)
		if err != nil || g2.UUID != g.UUID || g2.Seqno != g.Seqno || !g2.SafeToBootstrap {
			t.Fatalf("rewrite of %q gave %q (%+v, %v)", b, out, g2, err)
		}
	})
}

func FuzzParseRecoveredPosition(f *testing.F) {
	f.Add([]byte("WSREP: Recovered position: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99:17\n"))
	f.Add([]byte("WSREP: Recovered position: c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99:9,0-1-9"))
	f.Add([]byte("WSREP: Recovered position: :"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseRecoveredPosition(b)
		if err == nil && (!ValidUUID(p.UUID) || p.Seqno < -1) {
			t.Fatalf("accepted %+v from %q", p, b)
		}
	})
}

func TestParseSizeAndOptions(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1024": 1024, "128M": 128 << 20, "1G": 1 << 30, "64k": 64 << 10, " 2T ": 2 << 40} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "M", "-1", "1.5G", "12P", "99999999999T"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
		}
	}
	opts := "gcache.name = galera.cache; gcache.size = 32M;gcs.fc_limit=16"
	if v, ok := ProviderOption(opts, "gcache.size"); !ok || v != "32M" {
		t.Errorf("gcache.size: %q %v", v, ok)
	}
	if v, ok := ProviderOption(opts, "gcs.fc_limit"); !ok || v != "16" {
		t.Errorf("gcs.fc_limit: %q %v", v, ok)
	}
	if _, ok := ProviderOption(opts, "gcache"); ok {
		t.Error("a prefix of a name matched")
	}
	if avg, m, err := ParseReplLatency("0.1/0.2/0.3/0.01/5"); err != nil || avg != 0.2 || m != 0.3 {
		t.Errorf("latency: %v %v %v", avg, m, err)
	}
	for _, bad := range []string{"", "0/0/0", "a/b/c/d/e", "0/-1/0/0/0"} {
		if _, _, err := ParseReplLatency(bad); err == nil {
			t.Errorf("ParseReplLatency(%q): want an error", bad)
		}
	}
}
