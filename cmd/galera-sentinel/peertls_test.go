package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// TestPeerTLSComponent: deploy/kubernetes/components/peer-tls applied to
// the base (an overlay made here) gives the sentinel the four TLS
// settings through the environment, the namespace defined before the
// server name that uses it, the certificate files next to the token in
// one projected volume (no secret source left on it), and HTTPS probes.
func TestPeerTLSComponent(t *testing.T) {
	kubectl := testcluster.RequireBinary(t, "kubectl")
	root, err := filepath.Abs("../../deploy/kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base, _ := filepath.Rel(dir, filepath.Join(root, "base"))
	comp, _ := filepath.Rel(dir, filepath.Join(root, "components", "peer-tls"))
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [" + base + "]\ncomponents: [" + comp + "]\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, "kustomize", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	doc := string(out)
	for _, want := range []string{
		"name: GALERA_SENTINEL_TLS_CERT_FILE\n          value: /etc/galera-sentinel/tls/tls.crt",
		"name: GALERA_SENTINEL_TLS_KEY_FILE\n          value: /etc/galera-sentinel/tls/tls.key",
		"name: GALERA_SENTINEL_TLS_CA_FILE\n          value: /etc/galera-sentinel/tls/ca.crt",
		"name: GALERA_SENTINEL_TLS_SERVER_NAME\n          value: galera-peers.$(POD_NAMESPACE).svc",
		"name: galera-peer-tls", "path: tls/tls.crt", "path: tls/tls.key", "path: tls/ca.crt", "name: galera-sentinel",
		"name: GALERA_SENTINEL_TOKEN_FILE\n          value: /etc/galera-sentinel/token",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("kustomize output lacks %q", want)
		}
	}
	if n := strings.Count(doc, "scheme: HTTPS"); n != 3 {
		t.Errorf("%d probes with scheme: HTTPS, want 3", n)
	}
	if ns, sn := strings.Index(doc, "name: POD_NAMESPACE"), strings.Index(doc, "name: GALERA_SENTINEL_TLS_SERVER_NAME"); ns < 0 || ns > sn {
		t.Errorf("POD_NAMESPACE is not defined before GALERA_SENTINEL_TLS_SERVER_NAME: $(POD_NAMESPACE) would not expand")
	}
	vol := doc[strings.Index(doc, "volumes:"):]
	if i := strings.Index(vol, "- name: token"); i < 0 || !strings.HasPrefix(strings.TrimSpace(vol[i+len("- name: token"):]), "projected:") {
		t.Errorf("the token volume is not a projected volume:\n%s", vol)
	}
	for _, f := range []string{"--tls-cert-file", "--tls-key-file", "--tls-ca-file", "--tls-server-name"} {
		flag := strings.TrimPrefix(f, "--")
		if envName := envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_")); !strings.Contains(doc, envName) {
			t.Errorf("%s not set (%s)", f, envName)
		}
	}
}
