// Package kubetest is a Kubernetes API server for tests of the pod marks:
// it accepts the calls the sentinel makes (a JSON merge patch of one
// pod's writer label; a strategic merge patch of one pod's Primary
// condition in its status; GET /version, its reachability check; GET of
// its own pod, for its grace period), checks them as the real one would (method,
// path in the namespace, content type, bearer token, body), and records
// every value of each pod's writer label and condition with its time. No real Kubernetes is needed;
// e2e/kube proves the same against a real one.
package kubetest

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/kube"
)

// API is the recording API server.
type API struct {
	Namespace, Token string

	srv        *httptest.Server
	mu         sync.Mutex
	history    map[string][]Set
	conditions map[string][]Set
	refused    []string
	forbid     bool
	pings      int
	// tokens are more accepted tokens (ServiceAccountDirFor); cut the
	// tokens whose calls get no answer (Cut).
	tokens map[string]bool
	cut    map[string]bool
	// grace is the terminationGracePeriodSeconds a GET of a pod shows
	// (SetGrace); gets counts those GETs.
	grace int64
	gets  int
}

// SetGrace sets the terminationGracePeriodSeconds of the pods a GET
// returns (420, the shipped manifests', by default).
func (a *API) SetGrace(seconds int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.grace = seconds
}

// PodGets is how many GETs of a pod came (the sentinel reads its own
// pod's grace period once at start).
func (a *API) PodGets() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gets
}

// Cut makes every call with token get no answer, as from a node cut off
// from the API server: the connection is held until the client gives up.
// Cut(token, false) ends it.
func (a *API) Cut(token string, on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cut == nil {
		a.cut = map[string]bool{}
	}
	a.cut[token] = on
}

func (a *API) isCut(r *http.Request) bool {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cut[tok]
}

// Pings is how many reachability checks (GET /version) came.
func (a *API) Pings() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pings
}

// Forbid makes every call answer 403, as a Role without the rule would.
func (a *API) Forbid(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forbid = on
}

// Set is one value the label was set to, and when.
type Set struct {
	Value string
	At    time.Time
}

// Start serves an API server over TLS until t ends.
func Start(t testing.TB, namespace, token string) *API {
	a := &API{Namespace: namespace, Token: token, history: map[string][]Set{}, conditions: map[string][]Set{}, grace: 420}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	if a.isCut(r) {
		// Held until the client gives up (its timeout closes the
		// connection, which the server notices once the body is read),
		// and never longer than a minute.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return
	}
	now := time.Now()
	if r.Method == http.MethodGet && r.URL.Path == "/version" {
		// The sentinels' reachability check (kube.Client.Ping): any
		// answer will do, as from the real one.
		a.mu.Lock()
		a.pings++
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"major":"1","minor":"31","gitVersion":"v1.31.4"}`)
		return
	}
	pod, ok := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/"+a.Namespace+"/pods/")
	if r.Method == http.MethodGet && ok && pod != "" && !strings.Contains(pod, "/") {
		a.getPod(w, r, pod)
		return
	}
	pod, status := strings.CutSuffix(pod, "/status")
	var patch struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Status struct {
			Conditions []map[string]string `json:"conditions"`
		} `json:"status"`
	}
	b, _ := io.ReadAll(r.Body)
	bad := ""
	decoded := json.Unmarshal(b, &patch) == nil
	switch {
	case r.Method != http.MethodPatch || !ok || pod == "" || strings.Contains(pod, "/"):
		bad = r.Method + " " + r.URL.Path
	case r.Header.Get("Authorization") != "Bearer "+a.Token && !a.accepts(r.Header.Get("Authorization")):
		bad = "no or wrong bearer token"
	case !status && r.Header.Get("Content-Type") != "application/merge-patch+json",
		status && r.Header.Get("Content-Type") != "application/strategic-merge-patch+json":
		bad = "content type " + r.Header.Get("Content-Type")
	case !status && (!decoded || len(patch.Metadata.Labels) != 1 || patch.Metadata.Labels[kube.WriterLabelKey] == "" || patch.Status.Conditions != nil):
		bad = "body " + string(b)
	case status && (!decoded || patch.Metadata.Labels != nil || !validConditions(patch.Status.Conditions)):
		bad = "status body " + string(b)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.forbid && bad == "" {
		what := "pods"
		if status {
			what = "pods/status"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"kind":"Status","message":"%s \"%s\" is forbidden: User \"system:serviceaccount:%s:galera\" cannot patch resource \"%s\""}`, what, pod, a.Namespace, what)
		return
	}
	if bad != "" {
		a.refused = append(a.refused, bad)
		http.Error(w, bad, http.StatusBadRequest)
		return
	}
	if status {
		for _, c := range patch.Status.Conditions {
			key := pod
			if c["type"] == kube.ReadyConditionType {
				key = pod + readySuffix
			}
			a.conditions[key] = append(a.conditions[key], Set{c["status"], now})
		}
	} else {
		a.history[pod] = append(a.history[pod], Set{patch.Metadata.Labels[kube.WriterLabelKey], now})
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"kind":"Pod"}`)
}

// getPod answers a GET of one pod: what the sentinel reads of it (its
// grace period), as the real API server shapes it.
func (a *API) getPod(w http.ResponseWriter, r *http.Request, pod string) {
	authorized := r.Header.Get("Authorization") == "Bearer "+a.Token || a.accepts(r.Header.Get("Authorization")) // accepts locks mu
	a.mu.Lock()
	defer a.mu.Unlock()
	if !authorized {
		a.refused = append(a.refused, "GET with no or wrong bearer token")
		http.Error(w, "no or wrong bearer token", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if a.forbid {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"kind":"Status","message":"pods \"%s\" is forbidden: User \"system:serviceaccount:%s:galera\" cannot get resource \"pods\""}`, pod, a.Namespace)
		return
	}
	a.gets++
	fmt.Fprintf(w, `{"kind":"Pod","metadata":{"name":%q,"uid":"uid-%s"},"spec":{"nodeName":"node-1","terminationGracePeriodSeconds":%d},"status":{"phase":"Running"}}`, pod, pod, a.grace)
}

// validConditions: the Primary condition, True or False, or it and Ready
// False (a member that left), each with a reason, a message and a
// transition time, as the sentinel sets them.
func validConditions(cs []map[string]string) bool {
	valid := func(c map[string]string) bool {
		_, err := time.Parse(time.RFC3339, c["lastTransitionTime"])
		return (c["status"] == "True" || c["status"] == "False") && c["reason"] != "" && c["message"] != "" && err == nil
	}
	switch {
	case len(cs) == 1:
		return cs[0]["type"] == kube.PrimaryConditionType && valid(cs[0])
	case len(cs) == 2:
		return cs[0]["type"] == kube.PrimaryConditionType && cs[0]["status"] == "False" && valid(cs[0]) &&
			cs[1]["type"] == kube.ReadyConditionType && cs[1]["status"] == "False" && valid(cs[1])
	}
	return false
}

// readySuffix keys the Ready condition's history.
const readySuffix = "|Ready"

// Ready is pod's Ready condition as the sentinels set it (they only ever
// set it False), and when (the first of a run of equal values); "" when
// never set.
func (a *API) Ready(pod string) (string, time.Time) {
	return last(a.Conditions(pod + readySuffix))
}

// SetSince is when pod's Ready condition (ready) or its Primary condition
// was first set to value at or after since, and whether it was.
func (a *API) SetSince(pod string, ready bool, value string, since time.Time) (time.Time, bool) {
	if ready {
		pod += readySuffix
	}
	for _, s := range a.Conditions(pod) {
		if s.Value == value && !s.At.Before(since) {
			return s.At, true
		}
	}
	return time.Time{}, false
}

// Conditions is every value pod's Primary condition was set to.
func (a *API) Conditions(pod string) []Set {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.conditions[pod])
}

// Condition is pod's Primary condition now, and when it was set to that
// value (the first of a run of equal values); "" when it was never set.
func (a *API) Condition(pod string) (string, time.Time) {
	return last(a.Conditions(pod))
}

// HostPort is the API server's address, as KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT say it.
func (a *API) HostPort() (host, port string) {
	host, port, _ = net.SplitHostPort(a.srv.Listener.Addr().String())
	return host, port
}

func (a *API) accepts(header string) bool {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	a.mu.Lock()
	defer a.mu.Unlock()
	return ok && a.tokens[tok]
}

// ServiceAccountDirFor is ServiceAccountDir with a token of its own, which
// the server accepts too: a pod whose calls Cut can single out.
func (a *API) ServiceAccountDirFor(t testing.TB, under, token string) string {
	a.mu.Lock()
	if a.tokens == nil {
		a.tokens = map[string]bool{}
	}
	a.tokens[token] = true
	a.mu.Unlock()
	return a.serviceAccountDir(t, under, token)
}

// ServiceAccountDir writes what Kubernetes mounts in a pod (token, ca.crt
// trusting this server, namespace) in under/serviceaccount, readable by
// every user (sentinels in the lab run as mysql), and returns it.
func (a *API) ServiceAccountDir(t testing.TB, under string) string {
	return a.serviceAccountDir(t, under, a.Token)
}

func (a *API) serviceAccountDir(t testing.TB, under, token string) string {
	dir := filepath.Join(under, "serviceaccount")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw})
	for name, content := range map[string]string{"ca.crt": string(ca), "namespace": a.Namespace, "token": token} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// History is every value pod's label was set to.
func (a *API) History(pod string) []Set {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.history[pod])
}

// Refused are the calls the server refused, and why.
func (a *API) Refused() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.refused)
}

// Label is pod's label now, and when it was set to that value (the first
// of a run of equal values); "" when it was never set.
func (a *API) Label(pod string) (string, time.Time) {
	return last(a.History(pod))
}

func last(h []Set) (string, time.Time) {
	if len(h) == 0 {
		return "", time.Time{}
	}
	i := len(h) - 1
	for i > 0 && h[i-1].Value == h[i].Value {
		i--
	}
	return h[i].Value, h[i].At
}

// True are the pods among pods labelled "true".
func (a *API) True(pods ...string) []string {
	var out []string
	for _, p := range pods {
		if v, _ := a.Label(p); v == kube.LabelTrue {
			out = append(out, p)
		}
	}
	return out
}

// String is every pod's history, and the refused calls.
func (a *API) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	pods := make([]string, 0, len(a.history))
	for p := range a.history {
		pods = append(pods, p)
	}
	for p := range a.conditions {
		if _, ok := a.history[p]; !ok && !strings.HasSuffix(p, readySuffix) {
			pods = append(pods, p)
		}
	}
	slices.Sort(pods)
	for _, pod := range pods {
		fmt.Fprintf(&b, "%s:", pod)
		for _, s := range a.history[pod] {
			fmt.Fprintf(&b, " %s@%s", s.Value, s.At.Format("15:04:05.000"))
		}
		for _, k := range []string{pod, pod + readySuffix} {
			if c := a.conditions[k]; len(c) > 0 {
				fmt.Fprintf(&b, "; condition %s", strings.TrimPrefix(k, pod+"|"))
				for _, s := range c {
					fmt.Fprintf(&b, " %s@%s", s.Value, s.At.Format("15:04:05.000"))
				}
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "refused: %q", a.refused)
	return b.String()
}
