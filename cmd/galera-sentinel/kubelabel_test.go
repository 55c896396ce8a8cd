package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/kube"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// labelAPI is a Kubernetes API server that accepts the one call the
// sentinel makes, checks it as the real one would (method, path in the
// namespace, content type, bearer token, body), and records every value
// of each pod's writer label with its time.
type labelAPI struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	history map[string][]labelSet
	refused []string
}

type labelSet struct {
	value string
	at    time.Time
}

const kubeNS, kubeToken = "galera-db", "kube-sa-token-abcdef"

func startLabelAPI(t *testing.T) *labelAPI {
	a := &labelAPI{t: t, history: map[string][]labelSet{}}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		pod, ok := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/"+kubeNS+"/pods/")
		var patch struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		b, _ := io.ReadAll(r.Body)
		bad := ""
		switch {
		case r.Method != http.MethodPatch || !ok || strings.Contains(pod, "/"):
			bad = r.Method + " " + r.URL.Path
		case r.Header.Get("Content-Type") != "application/merge-patch+json":
			bad = "content type " + r.Header.Get("Content-Type")
		case r.Header.Get("Authorization") != "Bearer "+kubeToken:
			bad = "no or wrong bearer token"
		case json.Unmarshal(b, &patch) != nil || len(patch.Metadata.Labels) != 1 || patch.Metadata.Labels[kube.WriterLabelKey] == "":
			bad = "body " + string(b)
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if bad != "" {
			a.refused = append(a.refused, bad)
			http.Error(w, bad, http.StatusBadRequest)
			return
		}
		a.history[pod] = append(a.history[pod], labelSet{patch.Metadata.Labels[kube.WriterLabelKey], now})
		_, _ = io.WriteString(w, `{"kind":"Pod"}`)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// label is a pod's label now, and when it was last set to that value
// (the first of a run of equal values).
func (a *labelAPI) label(pod string) (string, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.history[pod]
	if len(h) == 0 {
		return "", time.Time{}
	}
	i := len(h) - 1
	for i > 0 && h[i-1].value == h[i].value {
		i--
	}
	return h[i].value, h[i].at
}

func (a *labelAPI) trues(nodes []*testcluster.Node) []string {
	var out []string
	for _, n := range nodes {
		if v, _ := a.label(n.Name); v == "true" {
			out = append(out, n.Name)
		}
	}
	return out
}

func (a *labelAPI) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	for pod, h := range a.history {
		fmt.Fprintf(&b, "%s:", pod)
		for _, s := range h {
			fmt.Fprintf(&b, " %s@%s", s.value, s.at.Format("15:04:05.000"))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "refused: %q", a.refused)
	return b.String()
}

// serviceAccountDir writes what Kubernetes mounts in a pod, readable by
// the sentinels (which run as mysql), trusting a's certificate.
func serviceAccountDir(t *testing.T, a *labelAPI, under string) string {
	dir := filepath.Join(under, "serviceaccount")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw})
	for name, content := range map[string]string{"ca.crt": string(ca), "namespace": kubeNS, "token": kubeToken} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestKubeWriterLabel: three run-mode members with --kube-writer-label
// (on through the environment, as the manifests do) against an API
// server that records the labels: every pod is labelled "false" first;
// once Synced exactly one says "true", the member whose /writerz answers
// 200. After SIGTERM of the writer its label is "false" at once, well
// before it exits, and another member's becomes "true".
func TestKubeWriterLabel(t *testing.T) {
	api := startLabelAPI(t)
	rc := newRunCluster(t, testcluster.Options{Nodes: 3})
	sa := serviceAccountDir(t, api, filepath.Dir(rc.c.Nodes[0].Dir))
	host, port, _ := net.SplitHostPort(api.srv.Listener.Addr().String())
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	t.Setenv("GALERA_SENTINEL_KUBE_WRITER_LABEL", "true")
	rc.withFlags(func(n *testcluster.Node) []string {
		return []string{"--kube-pod-name=" + n.Name, "--kube-service-account-dir=" + sa}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			t.Logf("labels:\n%s", api)
		}
	}()
	begin := time.Now()
	rc.startAll()
	rc.waitSynced(ctx, 3)
	synced := time.Since(begin)

	// Exactly one "true", the /writerz writer, soon after Synced.
	w := currentWriter(t, rc.c.Nodes)
	deadline := time.Now().Add(5 * time.Second)
	for !(len(api.trues(rc.c.Nodes)) == 1 && api.trues(rc.c.Nodes)[0] == w.Name) {
		if time.Now().After(deadline) {
			t.Fatalf("labelled true: %v, want only the writer %s", api.trues(rc.c.Nodes), w.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	api.mu.Lock()
	for _, n := range rc.c.Nodes {
		if h := api.history[n.Name]; len(h) == 0 || h[0].value != "false" {
			t.Errorf("%s: label history %v, want \"false\" first", n.Name, h)
		}
	}
	refused := len(api.refused)
	api.mu.Unlock()
	if refused > 0 {
		t.Fatalf("the API server refused calls: %s", api)
	}
	// Stable: still one for a few re-checks.
	for range 10 {
		if tr := api.trues(rc.c.Nodes); len(tr) != 1 || tr[0] != w.Name {
			t.Fatalf("labelled true: %v, want only %s", tr, w.Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, wTrueAt := api.label(w.Name)
	t.Logf("start -> Synced %v; writer %s labelled true at +%v", synced.Round(time.Millisecond), w.Name, wTrueAt.Sub(begin).Round(time.Millisecond))

	// Maintenance on the writer: its label follows /writerz, handover
	// window included: its successor's "true" at once, its own "false"
	// when the window ends (two "true" for the window, never none).
	// Maintenance off: the lowest index is the writer again.
	maint := func(state string) time.Time {
		req, _ := http.NewRequest("POST", "http://"+w.SentinelAddr()+"/api/v1/maintenance?state="+state, nil)
		req.Header.Set("Authorization", "Bearer "+runToken)
		resp, err := probeClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("maintenance %s: %d", state, resp.StatusCode)
		}
		return time.Now()
	}
	on := maint("on")
	waitLabels := func(what string, want ...string) time.Duration {
		t.Helper()
		from := time.Now()
		for {
			tr := api.trues(rc.c.Nodes)
			if strings.Join(tr, ",") == strings.Join(want, ",") {
				return time.Since(from)
			}
			if time.Since(from) > 15*time.Second {
				t.Fatalf("%s: labelled true %v, want %v", what, tr, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var succ string
	for succ == "" && time.Since(on) < 10*time.Second {
		for _, n := range api.trues(rc.c.Nodes) {
			if n != w.Name {
				succ = n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if succ == "" {
		t.Fatalf("no successor labelled true after maintenance on %s: %v", w.Name, api.trues(rc.c.Nodes))
	}
	_, succAt := api.label(succ)
	if v, _ := api.label(w.Name); v != "true" {
		t.Fatalf("%s: label %q as its successor's became true, want true for the handover window", w.Name, v)
	}
	waitLabels("the handover window ended", succ)
	_, wFalseAt := api.label(w.Name)
	t.Logf("maintenance on %s: %s labelled true %v after, %s false %v after (both true for %v; --writer-handover=5s)", w.Name, succ,
		succAt.Sub(on).Round(time.Millisecond), w.Name, wFalseAt.Sub(on).Round(time.Millisecond), wFalseAt.Sub(succAt).Round(time.Millisecond))
	if wFalseAt.Sub(on) < 4*time.Second {
		t.Errorf("%s labelled false %v after maintenance on, before its handover window ended", w.Name, wFalseAt.Sub(on))
	}
	off := maint("off")
	waitLabels("maintenance off", w.Name)
	_, backAt := api.label(w.Name)
	t.Logf("maintenance off: %s labelled true again %v after, %s alone %v after", w.Name, backAt.Sub(off).Round(time.Millisecond), w.Name, time.Since(off).Round(time.Millisecond))
	if cw := currentWriter(t, rc.c.Nodes); cw != w {
		t.Fatalf("/writerz says %s, the label %s", cw.Name, w.Name)
	}

	// SIGTERM of the writer.
	term := time.Now()
	if err := w.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := w.ExitCode(ctx)
	exited := time.Now()
	if err != nil || code != 0 {
		t.Fatalf("%s: exit %d, %v\n%s", w.Name, code, err, tailFile(w.SentinelLog(), 20))
	}
	v, falseAt := api.label(w.Name)
	if v != "false" || falseAt.Before(term) {
		t.Fatalf("%s after its exit: label %q set at %v (SIGTERM at %v), want \"false\" set after the SIGTERM", w.Name, v, falseAt, term)
	}
	if lag := falseAt.Sub(term); lag > time.Second || exited.Sub(falseAt) < 2*time.Second {
		t.Fatalf("%s: label false %v after SIGTERM and %v before the exit: want at once, well before mariadbd stops", w.Name, lag, exited.Sub(falseAt))
	}
	var others []*testcluster.Node
	for _, n := range rc.c.Nodes {
		if n != w {
			others = append(others, n)
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(api.trues(others)) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after the writer's SIGTERM, labelled true: %v, want one of the others", api.trues(others))
		}
		time.Sleep(20 * time.Millisecond)
	}
	next := api.trues(others)[0]
	_, nextAt := api.label(next)
	if tr := api.trues(rc.c.Nodes); len(tr) != 1 {
		t.Fatalf("labelled true: %v, want only %s", tr, next)
	}
	if cw := currentWriter(t, others); cw.Name != next {
		t.Fatalf("%s is labelled the writer, /writerz says %s", next, cw.Name)
	}
	t.Logf("SIGTERM of writer %s: its label false after %v, %v before it exited (exit %v after SIGTERM); %s labelled true %v after the old writer's false (%v after SIGTERM)",
		w.Name, falseAt.Sub(term).Round(time.Millisecond), exited.Sub(falseAt).Round(time.Millisecond), exited.Sub(term).Round(time.Millisecond),
		next, nextAt.Sub(falseAt).Round(time.Millisecond), nextAt.Sub(term).Round(time.Millisecond))
	rc.stopAll(ctx, others...)
	for _, n := range rc.c.Nodes {
		if v, _ := api.label(n.Name); v != "false" {
			t.Errorf("%s: label %q after the stop, want false", n.Name, v)
		}
	}
}
