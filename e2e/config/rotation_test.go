package config

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
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

const (
	rotOld = "rotation-token-A-0123456789"
	rotNew = "rotation-token-B-0123456789"
)

// secretVolume writes content as version v of a Kubernetes-style Secret
// volume in dir: dir/token -> ..data/token, ..data -> ..v<v>, swapped by
// renaming a ..data_tmp symlink over ..data, as kubelet does.
func secretVolume(t *testing.T, dir string, v int, content string) string {
	t.Helper()
	vdir := filepath.Join(dir, fmt.Sprintf("..v%d", v))
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vdir, "token"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(vdir), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "token")
	if _, err := os.Lstat(link); err != nil {
		if err := os.Symlink("..data/token", link); err != nil {
			t.Fatal(err)
		}
	}
	return link
}

// stateCode is the HTTP status of GET /api/v1/state at a sentinel with tok.
func stateCode(t *testing.T, scheme string, c *http.Client, n *testcluster.Node, tok string) int {
	req, _ := http.NewRequest(http.MethodGet, scheme+"://"+n.SentinelAddr()+"/api/v1/state", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestRunTokenRotation: a cluster runs with token A; members are
// restarted one by one with B alone while the others still hold only A.
// Every restarted member joins (the peers that refuse its token say they
// are Primary in their open /status), in bounded time. Then the last old
// member's Secret volume becomes "B\nA" (a ..data symlink swap, no
// restart): it takes B, its calls to the others stop being refused, and
// restarted with B alone it joins through the peer API as usual.
func TestRunTokenRotation(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	vols := map[string]string{}
	base := filepath.Dir(rc.C.Nodes[0].Dir)
	for i, n := range rc.C.Nodes {
		vols[n.Name] = filepath.Join(base, fmt.Sprintf("secret-%d", i))
		secretVolume(t, vols[n.Name], 1, rotOld+"\n")
	}
	flags := rc.Flags
	rc.Flags = func(n *testcluster.Node) []string {
		var out []string
		for _, f := range flags(n) {
			if strings.HasPrefix(f, "--token-file=") {
				f = "--token-file=" + filepath.Join(vols[n.Name], "token")
			}
			out = append(out, f)
		}
		return out
	}
	testsentinel.KillAtEnd(t, rc.C.Nodes...)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	t.Log("cluster formed with token A")

	nodes := rc.C.Nodes
	for i, n := range nodes[:2] {
		rc.Stop(ctx, n)
		secretVolume(t, vols[n.Name], 2, rotNew+"\n")
		begin := time.Now()
		rc.Start(n)
		jctx, jcancel := context.WithTimeout(ctx, 3*time.Minute)
		rc.WaitSynced(jctx, 3, n)
		jcancel()
		t.Logf("%s restarted with B alone (%d of the others hold only A): Synced in a cluster of 3 after %v",
			n.Name, 2-i, time.Since(begin).Round(time.Millisecond))
		// The first one restarted has no peer that takes its token: it
		// joined on what the refusing peers' /status says. The second has
		// the first, which takes B, and joins through the peer API.
		if i == 0 && testsentinel.CountLogs(n, "refuses this member's token but says") == 0 {
			t.Errorf("%s: joined without the decision naming the peers that refuse its token", n.Name)
		}
	}
	for _, n := range nodes[:2] {
		if c := stateCode(t, "http", testsentinel.ProbeClient, n, rotOld); c != http.StatusForbidden {
			t.Errorf("%s holds B alone but answers A with HTTP %d", n.Name, c)
		}
	}

	// The old member, still A alone, keeps calling the new ones with A
	// (its writer view): refused.
	last := nodes[2]
	refusals := func() int {
		return testsentinel.CountLogs(nodes[0], "API: wrong token") + testsentinel.CountLogs(nodes[1], "API: wrong token")
	}
	before := refusals()
	testcluster.EventuallyWithin(t, 10*time.Second, "the member with A alone refused by the members with B (else the test would prove nothing)", 100*time.Millisecond, func() error {
		if refusals() == before {
			return errors.New("no refusal logged")
		}
		return nil
	})

	// Its Secret becomes "B\nA", by a symlink swap.
	secretVolume(t, vols[last.Name], 2, rotNew+"\n"+rotOld+"\n")
	testcluster.EventuallyWithin(t, 5*time.Second, last.Name+": token B taken after its token file became B, A", 100*time.Millisecond, func() error {
		if c := stateCode(t, "http", testsentinel.ProbeClient, last, rotNew); c != http.StatusOK {
			return fmt.Errorf("HTTP %d", c)
		}
		return nil
	})
	if c := stateCode(t, "http", testsentinel.ProbeClient, last, rotOld); c != http.StatusOK {
		t.Fatalf("%s: token A refused (HTTP %d) with B, A in its file", last.Name, c)
	}
	if testsentinel.CountLogs(last, "token file reloaded") != 1 {
		t.Errorf("%s: want one 'token file reloaded' in its log", last.Name)
	}
	time.Sleep(2 * time.Second) // at most a second to see the file, then the next writer round
	before = refusals()
	time.Sleep(3 * time.Second)
	if n := refusals() - before; n != 0 {
		t.Fatalf("%d calls refused in 3 s after %s's file became B, A: the members do not all answer each other", n, last.Name)
	}
	for _, n := range nodes {
		if c := stateCode(t, "http", testsentinel.ProbeClient, n, rotNew); c != http.StatusOK {
			t.Errorf("%s: token B: HTTP %d", n.Name, c)
		}
	}

	// Step 3 of the procedure: B alone everywhere.
	rc.Stop(ctx, last)
	secretVolume(t, vols[last.Name], 3, rotNew+"\n")
	begin := time.Now()
	rc.Start(last)
	rc.WaitSynced(ctx, 3)
	t.Logf("%s restarted with B alone, every peer on B: Synced after %v", last.Name, time.Since(begin).Round(time.Millisecond))
	if testsentinel.CountLogs(last, "refuses this member's token") != 0 {
		t.Errorf("%s: a peer refused B after every member held it", last.Name)
	}
	uuids := map[string]bool{}
	for _, n := range nodes {
		uuids[testsentinel.StateUUID(ctx, t, n)] = true
	}
	if len(uuids) != 1 {
		t.Fatalf("cluster UUIDs %v: want one", uuids)
	}
	rc.StopAll(ctx)
}

// testPKI makes a CA and one certificate for every sentinel whose only
// name is dnsName (no IP address), and writes them to dir.
func testPKI(t *testing.T, dir, dnsName string) (ca, cert, key string, pool *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "galera-sentinel test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{dnsName}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	ca, cert, key = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for f, b := range map[string]*pem.Block{ca: {Type: "CERTIFICATE", Bytes: caDER}, cert: {Type: "CERTIFICATE", Bytes: der},
		key: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o644); err != nil { // read by the mysql user
			t.Fatal(err)
		}
	}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return ca, cert, key, pool
}

// TestRunTLSServerName: peers called at IP addresses (as --peers-dns
// finds them) serve one
// certificate whose only name is galera-peers.test. Without
// --tls-server-name no member can verify another, and the log says to
// set it; with it they decide and form the cluster.
func TestRunTLSServerName(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	const name = "galera-peers.test"
	dir := filepath.Join(filepath.Dir(rc.C.Nodes[0].Dir), "pki")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca, cert, key, pool := testPKI(t, dir, name)
	// The peers are IP addresses (--peers here, as --peers-dns finds
	// them): the certificate names none of them.
	base := rc.Flags
	serverName := ""
	rc.Flags = func(n *testcluster.Node) []string {
		out := append(base(n), "--tls-cert-file="+cert, "--tls-key-file="+key, "--tls-ca-file="+ca)
		if serverName != "" {
			out = append(out, "--tls-server-name="+serverName)
		}
		return out
	}
	testsentinel.KillAtEnd(t, rc.C.Nodes...)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil,
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: name}}}

	// Without --tls-server-name.
	rc.StartAll()
	testcluster.EventuallyWithin(t, 30*time.Second, "without --tls-server-name: every log says to set it", 200*time.Millisecond, func() error {
		hinted := 0
		for _, n := range rc.C.Nodes {
			if testsentinel.CountLogs(n, "set --tls-server-name") > 0 {
				hinted++
			}
		}
		if hinted != len(rc.C.Nodes) {
			return fmt.Errorf("%d of %d do", hinted, len(rc.C.Nodes))
		}
		return nil
	})
	for _, n := range rc.C.Nodes {
		if n.MariadbdPid() > 0 {
			t.Fatalf("%s started mariadbd without verifying a single peer", n.Name)
		}
		if c := stateCode(t, "https", hc, n, testsentinel.Token); c != http.StatusOK {
			t.Fatalf("%s: its own HTTPS peer API, verified against %s: HTTP %d", n.Name, name, c)
		}
	}
	rc.KillAll()

	// With it.
	serverName = name
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	begin := time.Now()
	rc.StartAll()
	for _, n := range rc.C.Nodes {
		for {
			resp, err := hc.Get("https://" + n.SentinelAddr() + "/readyz")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && strings.TrimSpace(string(b)) == "ready: Primary, Synced, size 3" {
					break
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: not ready in a cluster of 3 over TLS: %v", n.Name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("with --tls-server-name=%s: three Synced after %v", name, time.Since(begin).Round(time.Millisecond))
	bootstraps := 0
	for _, n := range rc.C.Nodes {
		bootstraps += testsentinel.CountLogs(n, "--wsrep-new-cluster")
	}
	if bootstraps != 1 {
		t.Fatalf("%d bootstraps, want 1", bootstraps)
	}
	rc.StopAll(ctx)
}
