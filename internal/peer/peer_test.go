package peer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/galera-sentinel/galera-sentinel/internal/member"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
)

const token = "0123456789abcdef-peer-token"

func goodState() State {
	return State{Version: StateVersion, NodeName: "galera-1", InstanceID: "a1b2", Phase: PhaseWaiting, PositionKnown: true,
		UUID: "c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99", Seqno: 12, SafeToBootstrap: true}
}

func newServer(t *testing.T, st State) (*httptest.Server, *[]string) {
	var overrides []string
	s := &Server{Token: token, State: func() State { return st }, Bootstrap: func(n string) error {
		if n != st.NodeName {
			return fmt.Errorf("%w: this is %s", ErrOverrideRejected, st.NodeName)
		}
		overrides = append(overrides, n)
		return nil
	}}
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &overrides
}

func addr(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

func TestStateRoundTrip(t *testing.T) {
	srv, _ := newServer(t, goodState())
	c := NewClient(token, nil, time.Second)
	defer c.Close()
	got, err := c.State(context.Background(), addr(srv))
	if err != nil {
		t.Fatal(err)
	}
	if got != goodState() {
		t.Fatalf("got %+v", got)
	}
	if m := got.Member(); m.Name != "galera-1" || m.Position.Seqno != 12 || !m.SafeToBootstrap {
		t.Fatalf("member %+v", m)
	}
}

func TestAuth(t *testing.T) {
	srv, overrides := newServer(t, goodState())
	for _, tc := range []struct {
		method, path, auth string
		want               int
	}{
		{"GET", "/api/v1/state", "", 401},
		{"GET", "/api/v1/state", "Basic Zm9vOmJhcg==", 401},
		{"GET", "/api/v1/state", "Bearer wrong-token-of-some-length", 403},
		{"GET", "/api/v1/state", "Bearer " + token + "x", 403},
		{"GET", "/api/v1/state", "Bearer " + token[:len(token)-1], 403},
		{"GET", "/api/v1/state", "Bearer " + token, 200},
		{"POST", "/api/v1/bootstrap?node=galera-1", "", 401},
		{"POST", "/api/v1/bootstrap?node=galera-1", "Bearer nope-nope-nope-nope", 403},
		{"POST", "/api/v1/bootstrap", "Bearer " + token, 400},
		{"POST", "/api/v1/bootstrap?node=galera-2", "Bearer " + token, 409},
		{"GET", "/api/v1/bootstrap?node=galera-1", "Bearer " + token, 405},
		{"POST", "/api/v1/bootstrap?node=galera-1", "Bearer " + token, 202},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s with %q: %d, want %d", tc.method, tc.path, tc.auth, resp.StatusCode, tc.want)
		}
	}
	if len(*overrides) != 1 {
		t.Fatalf("overrides recorded: %v, want exactly one", *overrides)
	}
	c := NewClient("another-token-0123456789", nil, time.Second)
	if _, err := c.State(context.Background(), addr(srv)); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("wrong token: %v", err)
	}
}

// TestLyingPeers: a peer that answers garbage, lies in a way we can see,
// or never answers is an error within the timeout, never a state.
func TestLyingPeers(t *testing.T) {
	lies := map[string]string{
		"html":              "<html>hello</html>",
		"empty":             "",
		"truncated":         `{"version":1,"node_name":"x"`,
		"wrong version":     `{"version":2,"node_name":"x","instance_id":"i","phase":"waiting"}`,
		"no name":           `{"version":1,"instance_id":"i","phase":"waiting"}`,
		"no instance":       `{"version":1,"node_name":"x","phase":"waiting"}`,
		"bad phase":         `{"version":1,"node_name":"x","instance_id":"i","phase":"dancing"}`,
		"bad uuid":          `{"version":1,"node_name":"x","instance_id":"i","phase":"waiting","position_known":true,"uuid":"nope","seqno":1}`,
		"seqno -5":          `{"version":1,"node_name":"x","instance_id":"i","phase":"waiting","position_known":true,"uuid":"c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99","seqno":-5}`,
		"empty w/ pos":      `{"version":1,"node_name":"x","instance_id":"i","phase":"waiting","position_known":true,"datadir_empty":true,"uuid":"c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99","seqno":5}`,
		"primary, down":     `{"version":1,"node_name":"x","instance_id":"i","phase":"waiting","primary":true,"cluster_size":3}`,
		"primary, 0":        `{"version":1,"node_name":"x","instance_id":"i","phase":"running","running":true,"primary":true}`,
		"non-Primary, down": `{"version":1,"node_name":"x","instance_id":"i","phase":"waiting","non_primary":true}`,
		"joining, Primary":  `{"version":1,"node_name":"x","instance_id":"i","phase":"running","running":true,"primary":true,"cluster_size":3,"joining":true}`,
		"name w/ space":     `{"version":1,"node_name":"a b","phase":"waiting"}`,
		"types":             `{"version":"1","node_name":7}`,
		"huge":              `{"version":1,"node_name":"` + strings.Repeat("x", maxStateBytes) + `"}`,
	}
	for name, body := range lies {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, body)
		}))
		_, err := NewClient(token, nil, time.Second).State(context.Background(), addr(srv))
		srv.Close()
		if err == nil {
			t.Errorf("%s: believed %q", name, clip(body))
		}
	}

	// A peer that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	begin := time.Now()
	_, err = NewClient(token, nil, 300*time.Millisecond).State(context.Background(), ln.Addr().String())
	if err == nil {
		t.Fatal("silent peer: no error")
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("silent peer: gave up after %v, timeout 300ms", d)
	}
}

// TestTLS: a sentinel serving TLS is reachable by a client that trusts its
// CA, and by no other: not one with another CA, not one speaking plain
// HTTP. A rotated certificate is served without a restart.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t, "test CA")
	writeLeaf(t, dir, "server", ca, caKey)
	caFile := filepath.Join(dir, "ca.pem")
	writePEM(t, caFile, "CERTIFICATE", ca.Raw)
	other, _ := newCA(t, "other CA")
	otherFile := filepath.Join(dir, "other.pem")
	writePEM(t, otherFile, "CERTIFICATE", other.Raw)

	stc, err := httpserver.ServerTLS(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&Server{Token: token, State: goodState}).Register(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
	go hs.Serve(tls.NewListener(ln, stc))
	defer hs.Close()
	a := ln.Addr().String()

	ctc, err := httpserver.ClientTLS(caFile, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(token, ctc, time.Second).State(context.Background(), a); err != nil {
		t.Fatalf("trusted client: %v", err)
	}
	otc, _ := httpserver.ClientTLS(otherFile, "")
	if _, err := NewClient(token, otc, time.Second).State(context.Background(), a); err == nil {
		t.Fatal("a client trusting another CA was served")
	} else if !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Fatalf("other CA: %v, want a certificate verification error", err)
	}
	if _, err := NewClient(token, nil, time.Second).State(context.Background(), a); err == nil {
		t.Fatal("plain HTTP to a TLS listener got a state")
	}

	// Rotation: a new certificate file is served from the next handshake.
	time.Sleep(10 * time.Millisecond) // a distinct mtime
	serial := writeLeaf(t, dir, "server", ca, caKey)
	conn, err := tls.Dial("tcp", a, &tls.Config{RootCAs: ctc.RootCAs})
	if err != nil {
		t.Fatal(err)
	}
	got := conn.ConnectionState().PeerCertificates[0].SerialNumber
	conn.Close()
	if got.Cmp(serial) != 0 {
		t.Fatalf("served certificate %v, want the rotated %v", got, serial)
	}

	if _, err := httpserver.ClientTLS(filepath.Join(dir, "server.key"), ""); err == nil {
		t.Fatal("a key file was accepted as a CA")
	}
	if _, err := httpserver.ServerTLS(filepath.Join(dir, "missing.pem"), filepath.Join(dir, "server.key")); err == nil {
		t.Fatal("a missing certificate was accepted")
	}
}

func newCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func writeLeaf(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) *big.Int {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "galera-1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	writePEM(t, filepath.Join(dir, name+".key"), "EC PRIVATE KEY", kb)
	writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
	return serial
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add(`{"version":1,"node_name":"galera-0","instance_id":"i","phase":"running","running":true,"primary":true,"cluster_size":3}`)
	f.Add(`{"version":1,"node_name":"x","instance_id":"i","phase":"waiting","position_known":true,"uuid":"c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99","seqno":-1}`)
	f.Add(`{"version":1,"node_name":"x","instance_id":"i","phase":"waiting","datadir_empty":true,"position_known":true}`)
	f.Add(`{"version":1,"node_name":"x","instance_id":"i","phase":"waiting","action":"wait","decision_reason":"r","decision_class":"c","decision":"wait: r"}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, in string) {
		s, err := DecodeState(strings.NewReader(in))
		if err != nil {
			if s != (State{}) {
				t.Fatalf("error %v with a non-zero state %+v", err, s)
			}
			return
		}
		if s.Validate() != nil || s.NodeName == "" || (s.Primary && !s.Running) ||
			len(s.DecisionReason) > maxReasonBytes || len(s.DecisionClass) > maxClassBytes || (s.Action == "" && s.DecisionReason+string(s.DecisionClass) != "") {
			t.Fatalf("accepted %+v from %q", s, in)
		}
	})
}

// TestNewState: what a member publishes validates, and maps back to the
// same member for the decision; the live part needs a fresh sample and a
// running mariadbd.
func TestNewState(t *testing.T) {
	m := galera.Member{Name: "galera-1", PositionKnown: true, Position: galera.Position{UUID: "c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99", Seqno: 12}, SafeToBootstrap: true}
	synced := &galera.Sample{WsrepOn: true, Connected: true, Ready: true, ClusterStatus: "Primary", LocalState: galera.StateSynced, LocalIndex: 2, ClusterSize: 3}
	for _, tc := range []struct {
		name  string
		phase string
		last  *galera.Sample
		ready bool
		check func(State) string
	}{
		{"waiting", PhaseWaiting, nil, false, func(s State) string {
			if s.Running || s.Primary || s.Ready || s.LocalIndex != -1 {
				return "live state while waiting"
			}
			return ""
		}},
		{"running and ready", PhaseRunning, synced, true, func(s State) string {
			if !s.Running || !s.Primary || !s.Synced || !s.Ready || s.LocalIndex != 2 || s.ClusterSize != 3 || s.LocalState != "Synced" {
				return "live state lost"
			}
			return ""
		}},
		{"running, sample stale (nil)", PhaseRunning, nil, true, func(s State) string {
			if !s.Running || s.Primary || s.Ready {
				return "vouches for a node it has not seen lately"
			}
			return ""
		}},
		{"stopping, not ready", PhaseStopping, synced, false, func(s State) string {
			if !s.Running || !s.Primary || s.Ready {
				return "a draining member claims to be ready"
			}
			return ""
		}},
		{"running outside a Primary component", PhaseRunning, &galera.Sample{ClusterStatus: "non-Primary", LocalIndex: -1}, false, func(s State) string {
			if s.Primary || s.LocalIndex != -1 {
				return "non-Primary published as Primary"
			}
			return ""
		}},
	} {
		s := NewState(Self{Member: m, InstanceID: "i1", Phase: tc.phase, Decision: member.Decision{Action: member.Join, Reason: "x", Class: "c"}}, tc.last, tc.ready)
		if err := s.Validate(); err != nil {
			t.Errorf("%s: does not validate: %v", tc.name, err)
		}
		if msg := tc.check(s); msg != "" {
			t.Errorf("%s: %s: %+v", tc.name, msg, s)
		}
		if d, ok := s.Decided(); !ok || d != (member.Decision{Action: member.Join, Reason: "x", Class: "c"}) || s.Decision != "join: x" {
			t.Errorf("%s: decision %q %q -> %+v %v", tc.name, s.Action, s.Decision, d, ok)
		}
		back := s.Member()
		if back.Name != m.Name || back.Position != m.Position || back.SafeToBootstrap != m.SafeToBootstrap || back.Running != s.Running || back.Primary != s.Primary ||
			back.Stopping != (tc.phase == PhaseStopping) {
			t.Errorf("%s: round trip %+v -> %+v", tc.name, m, back)
		}
	}
	// What a step-down rests on: outside a Primary component only from a
	// fresh sample; joining only while running and not Primary.
	nonPrimary := &galera.Sample{ClusterStatus: "non-Primary", LocalIndex: -1, ClusterSize: 1}
	for _, tc := range []struct {
		name                string
		phase               string
		joining             bool
		last                *galera.Sample
		nonPrimary, joinsUp bool
	}{
		{"non-Primary, fresh", PhaseRunning, false, nonPrimary, true, false},
		{"running, stale", PhaseRunning, false, nil, false, false},
		{"joining, no sample yet", PhaseRunning, true, nil, false, true},
		{"joining, non-Primary", PhaseRunning, true, nonPrimary, true, true},
		{"joining, now Primary", PhaseRunning, true, synced, false, false},
		{"joining flag while waiting", PhaseWaiting, true, nil, false, false},
	} {
		s := NewState(Self{Member: m, InstanceID: "i1", Phase: tc.phase, Joining: tc.joining}, tc.last, false)
		if err := s.Validate(); err != nil {
			t.Errorf("%s: does not validate: %v", tc.name, err)
		}
		back := s.Member()
		if s.NonPrimary != tc.nonPrimary || back.NonPrimary != tc.nonPrimary || s.Joining != tc.joinsUp || back.Joining != tc.joinsUp {
			t.Errorf("%s: non_primary %v joining %v (member %v %v), want %v %v", tc.name, s.NonPrimary, s.Joining, back.NonPrimary, back.Joining, tc.nonPrimary, tc.joinsUp)
		}
	}
	empty := NewState(Self{Member: galera.Member{Name: "galera-2", Empty: true, PositionKnown: true}, InstanceID: "i2", Phase: PhaseWaiting}, nil, false)
	if err := empty.Validate(); err != nil || !empty.DataDirEmpty || empty.UUID != "" {
		t.Errorf("empty member: %+v %v", empty, err)
	}
}

// TestFanOut: every address is asked at once, answers keep their order.
func TestFanOut(t *testing.T) {
	begin := time.Now()
	got := FanOut(context.Background(), []string{"a", "b", "c"}, func(ctx context.Context, addr string) (string, error) {
		time.Sleep(100 * time.Millisecond)
		if addr == "b" {
			return "", errors.New("no")
		}
		return addr + "!", nil
	})
	if d := time.Since(begin); d > time.Second {
		t.Errorf("took %v: not in parallel", d)
	}
	if len(got) != 3 || got[0].Value != "a!" || got[1].Err == nil || got[2].Addr != "c" || got[2].Value != "c!" {
		t.Errorf("answers %+v", got)
	}
}

// TestFanOutUntil: the answers come back once they are enough; a call
// that hangs is cancelled, not waited for; without enough, every answer.
func TestFanOutUntil(t *testing.T) {
	call := func(ctx context.Context, addr string) (string, error) {
		if addr == "dead" {
			<-ctx.Done()
			return "", ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
		return addr, nil
	}
	begin := time.Now()
	got := FanOutUntil(context.Background(), []string{"a", "dead", "b"}, call, func(got []Answer[string]) bool {
		n := 0
		for _, a := range got {
			if a.Err == nil {
				n++
			}
		}
		return n == 2
	})
	if d := time.Since(begin); d > time.Second || len(got) != 2 {
		t.Errorf("enough after two answers: %d answers after %v", len(got), d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	got = FanOutUntil(ctx, []string{"a", "dead"}, call, func([]Answer[string]) bool { return false })
	if len(got) != 2 || got[1].Addr != "dead" || got[1].Err == nil {
		t.Errorf("never enough: %+v", got)
	}
}

// TestStateAction: the typed action, reason and class travel next to the
// prose; a document of the release before the action (prose alone) still
// decodes, with no typed decision, and one of the release between (action
// and prose) decodes with no reason or class; an action that is not a
// short name, a class too long or unprintable, a reason too long or a
// reason without an action is refused.
func TestStateAction(t *testing.T) {
	base := `{"version":1,"node_name":"n1","instance_id":"i1","phase":"waiting","position_known":false,"local_index":-1`
	for _, tc := range []struct {
		name, doc string
		want      member.Decision
		typed, ok bool
	}{
		{"typed", base + `,"action":"refuse","decision_reason":"two cluster UUIDs","decision_class":"refusing to choose","decision":"refuse: two cluster UUIDs"}`,
			member.Decision{Action: member.Refuse, Reason: "two cluster UUIDs", Class: "refusing to choose"}, true, true},
		{"reason not from the prose", base + `,"action":"wait","decision_reason":"r","decision":"wait: something else"}`, member.Decision{Action: member.Wait, Reason: "r"}, true, true},
		{"a newer action", base + `,"action":"evict","decision_reason":"why","decision_class":"evicted","decision":"evict: why"}`, member.Decision{Action: "evict", Reason: "why", Class: "evicted"}, true, true},
		{"release between", base + `,"action":"refuse","decision":"refuse: two cluster UUIDs"}`, member.Decision{Action: member.Refuse}, true, true},
		{"class too long", base + `,"action":"wait","decision_class":"` + strings.Repeat("c", maxClassBytes+1) + `"}`, member.Decision{}, false, false},
		{"class unprintable", base + `,"action":"wait","decision_class":"a\nb"}`, member.Decision{}, false, false},
		{"reason too long", base + `,"action":"wait","decision_reason":"` + strings.Repeat("r", maxReasonBytes+1) + `"}`, member.Decision{}, false, false},
		{"reason without action", base + `,"decision_reason":"r","decision":"wait: r"}`, member.Decision{}, false, false},
		{"class without action", base + `,"decision_class":"c"}`, member.Decision{}, false, false},
		{"previous release", base + `,"decision":"refuse: two cluster UUIDs"}`, member.Decision{}, false, true},
		{"not a name", base + `,"action":"Refuse now","decision":"x"}`, member.Decision{}, false, false},
	} {
		s, err := DecodeState(strings.NewReader(tc.doc))
		if (err == nil) != tc.ok {
			t.Errorf("%s: DecodeState: %v", tc.name, err)
			continue
		}
		if err != nil {
			continue
		}
		if d, typed := s.Decided(); d != tc.want || typed != tc.typed {
			t.Errorf("%s: Decided() = %+v %v, want %+v %v", tc.name, d, typed, tc.want, tc.typed)
		}
	}
}

// TestStream: a long answer outlives the client's call timeout once its
// headers came; the tokens are presented in turn; headers that do not
// come within the wait end the call.
func TestStream(t *testing.T) {
	const good = "token-b-0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+good {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		if r.URL.Path == "/slow" {
			time.Sleep(500 * time.Millisecond)
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(300 * time.Millisecond) // longer than the call timeout
		_, _ = io.WriteString(w, "stream")
	}))
	defer srv.Close()
	c := NewTokensClient(httpserver.StaticTokens("token-a-0123456789abcdef", good), nil, 100*time.Millisecond)
	defer c.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	resp, err := c.Stream(context.Background(), addr, "/fast", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "stream" {
		t.Fatalf("body %q, %v", b, err)
	}
	if _, err := c.Stream(context.Background(), addr, "/slow", 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("headers late: %v", err)
	}
}

// TestNewStateClipsReason: a reason too long for a peer to accept is
// clipped when published, so the member's own document always validates.
func TestNewStateClipsReason(t *testing.T) {
	m := galera.Member{Name: "galera-1"}
	long := strings.Repeat("é", maxReasonBytes)
	s := NewState(Self{Member: m, InstanceID: "i1", Phase: PhaseWaiting, Decision: member.Decision{Action: member.Wait, Reason: long, Class: "c"}}, nil, false)
	if err := s.Validate(); err != nil {
		t.Fatalf("does not validate: %v", err)
	}
	if len(s.DecisionReason) > maxReasonBytes || !strings.HasSuffix(s.DecisionReason, "...") || !utf8.ValidString(s.DecisionReason) {
		t.Errorf("reason of %d bytes, valid UTF-8 %v", len(s.DecisionReason), utf8.ValidString(s.DecisionReason))
	}
}
