package kube

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is an API server over TLS that checks every request the way the
// real one would and records the pod's labels.
type fakeAPI struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	token  string // the bearer token it accepts
	status int    // answer this instead, when set
	labels map[string]map[string]string
	calls  int
	delay  time.Duration
}

func newFakeAPI(t *testing.T, ns string) *fakeAPI {
	f := &fakeAPI{t: t, token: "token-one", labels: map[string]map[string]string{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls++
		status, token, delay := f.status, f.token, f.delay
		f.mu.Unlock()
		time.Sleep(delay)
		prefix := "/api/v1/namespaces/" + ns + "/pods/"
		switch {
		case r.Method != http.MethodPatch:
			http.Error(w, "method "+r.Method, http.StatusMethodNotAllowed)
			return
		case !strings.HasPrefix(r.URL.Path, prefix):
			http.Error(w, "path "+r.URL.Path, http.StatusNotFound)
			return
		case r.Header.Get("Content-Type") != "application/merge-patch+json":
			http.Error(w, "content type "+r.Header.Get("Content-Type"), http.StatusUnsupportedMediaType)
			return
		case r.Header.Get("Authorization") != "Bearer "+token:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"kind":"Status","message":"Unauthorized"}`)
			return
		case status != 0:
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"kind":"Status","message":"pods \"x\" is forbidden: User \"system:serviceaccount:db:galera\" cannot patch resource \"pods\""}`)
			return
		}
		var patch struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &patch); err != nil || len(patch.Metadata.Labels) == 0 {
			http.Error(w, "body "+string(b), http.StatusBadRequest)
			return
		}
		pod := strings.TrimPrefix(r.URL.Path, prefix)
		f.mu.Lock()
		if f.labels[pod] == nil {
			f.labels[pod] = map[string]string{}
		}
		for k, v := range patch.Metadata.Labels {
			f.labels[pod][k] = v
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"kind":"Pod"}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) label(pod string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.labels[pod][WriterLabelKey]
}

func (f *fakeAPI) set(fn func(f *fakeAPI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// serviceAccount writes the files a pod gets, trusting f's certificate.
func serviceAccount(t *testing.T, f *fakeAPI, ns, token string) (Config, string) {
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	for name, content := range map[string]string{"ca.crt": string(ca), "namespace": ns, "token": token + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
	return Config{Host: host, Port: port, Dir: dir, Timeout: time.Second}, dir
}

func TestSetPodLabel(t *testing.T) {
	f := newFakeAPI(t, "db")
	cfg, _ := serviceAccount(t, f, "db", "token-one")
	c, err := InCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Namespace() != "db" {
		t.Fatalf("namespace %q", c.Namespace())
	}
	ctx := context.Background()
	for _, v := range []string{LabelTrue, LabelFalse} {
		if err := c.SetPodLabel(ctx, "galera-1", WriterLabelKey, v); err != nil {
			t.Fatal(err)
		}
		if got := f.label("galera-1"); got != v {
			t.Fatalf("label %q, want %q", got, v)
		}
	}
	if f.label("galera-0") != "" {
		t.Fatal("another pod was labelled")
	}
}

// TestTokenReread: the kubelet rewrites a projected token; the next call
// uses the new one, and its error never shows the token.
func TestTokenReread(t *testing.T) {
	f := newFakeAPI(t, "db")
	cfg, dir := serviceAccount(t, f, "db", "token-one")
	c, err := InCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.SetPodLabel(ctx, "galera-0", WriterLabelKey, LabelTrue); err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeAPI) { f.token = "token-two" }) // rotated on the server
	err = c.SetPodLabel(ctx, "galera-0", WriterLabelKey, LabelFalse)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "token") {
		t.Fatalf("with the old token: %v, want a 401 that names the token", err)
	}
	if strings.Contains(err.Error(), "token-one") {
		t.Fatalf("the error shows the token: %v", err)
	}
	// The kubelet swaps the file (atomic rename, as with ..data).
	tmp := filepath.Join(dir, ".token.new")
	if err := os.WriteFile(tmp, []byte("token-two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "token")); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPodLabel(ctx, "galera-0", WriterLabelKey, LabelFalse); err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
	if f.label("galera-0") != LabelFalse {
		t.Fatal("label not set with the new token")
	}
}

func TestSetPodLabelErrors(t *testing.T) {
	f := newFakeAPI(t, "db")
	cfg, _ := serviceAccount(t, f, "db", "token-one")
	c, err := InCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f.set(func(f *fakeAPI) { f.status = http.StatusForbidden })
	err = c.SetPodLabel(ctx, "galera-0", WriterLabelKey, LabelTrue)
	for _, want := range []string{"403", "patch", "pods", "namespace db", "RoleBinding", "cannot patch"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("403: %v, want it to say %q", err, want)
		}
	}
	f.set(func(f *fakeAPI) { f.status = http.StatusNotFound })
	if err := c.SetPodLabel(ctx, "galera-9", WriterLabelKey, LabelTrue); err == nil || !strings.Contains(err.Error(), "--kube-pod-name") {
		t.Fatalf("404: %v", err)
	}
	// Bounded by the timeout however slow the server is.
	f.set(func(f *fakeAPI) { f.status, f.delay = 0, 1500*time.Millisecond })
	begin := time.Now()
	if err := c.SetPodLabel(ctx, "galera-0", WriterLabelKey, LabelTrue); err == nil || time.Since(begin) > 1400*time.Millisecond {
		t.Fatalf("slow server: %v after %v, want an error within the 1s timeout", err, time.Since(begin))
	}
}

func TestInClusterBadInput(t *testing.T) {
	f := newFakeAPI(t, "db")
	cfg, dir := serviceAccount(t, f, "db", "token-one")
	noHost := cfg
	noHost.Host = ""
	if _, err := InCluster(noHost); err == nil || !strings.Contains(err.Error(), "KUBERNETES_SERVICE_HOST") {
		t.Fatalf("no host: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := InCluster(cfg); err == nil || !strings.Contains(err.Error(), "ca.crt") {
		t.Fatalf("bad ca: %v", err)
	}
	empty := cfg
	empty.Dir = t.TempDir()
	if _, err := InCluster(empty); err == nil || !strings.Contains(err.Error(), "namespace") {
		t.Fatalf("no service account: %v", err)
	}
}
