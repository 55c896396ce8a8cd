package kube

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
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
)

// world is a namespace's pods and claims and the cluster's volumes and
// nodes as Rebuild sees them, with a StatefulSet controller's one habit
// that matters here: a deleted pod comes back unscheduled, with a new UID,
// mounting the same claim, and a missing claim is made anew (unbound).
type world struct {
	mu       sync.Mutex
	pods     map[string]Pod
	claims   map[string]Claim
	volumes  map[string]Volume
	nodes    map[string]Node
	uids     int
	deleted  []string // "pod galera-1 force", "claim data-galera-1"
	failNext error
}

func (w *world) uid() string { w.uids++; return fmt.Sprintf("uid-%d", w.uids) }

func (w *world) Pod(_ context.Context, name string) (Pod, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.failNext; err != nil {
		w.failNext = nil
		return Pod{}, err
	}
	p, ok := w.pods[name]
	if !ok {
		return Pod{}, ErrNotFound
	}
	return p, nil
}

func (w *world) Claim(_ context.Context, name string) (Claim, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.claims[name]
	if !ok {
		return Claim{}, ErrNotFound
	}
	return c, nil
}

func (w *world) Volume(_ context.Context, name string) (Volume, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.volumes[name]
	if !ok {
		return Volume{}, ErrNotFound
	}
	return v, nil
}

func (w *world) Node(_ context.Context, name string) (Node, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, ok := w.nodes[name]
	if !ok {
		return Node{}, ErrNotFound
	}
	return n, nil
}

func (w *world) NodesWithHostname(_ context.Context, host string) ([]Node, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n, ok := w.nodes[host]; ok {
		return []Node{n}, nil
	}
	return nil, nil
}

func (w *world) DeletePod(_ context.Context, name, uid string, force bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.pods[name]
	if !ok {
		return ErrNotFound
	}
	if p.UID != uid {
		return ErrConflict
	}
	w.deleted = append(w.deleted, fmt.Sprintf("pod %s force=%t", name, force))
	// The StatefulSet: a new pod, unscheduled; its claims made anew when
	// missing.
	for _, c := range p.Claims {
		if _, ok := w.claims[c]; !ok {
			w.claims[c] = Claim{Name: c, UID: w.uid()}
		}
	}
	w.pods[name] = Pod{Name: name, UID: w.uid(), Phase: "Pending", Claims: p.Claims}
	return nil
}

func (w *world) DeleteClaim(_ context.Context, name, uid string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.claims[name]
	if !ok {
		return ErrNotFound
	}
	if c.UID != uid {
		return ErrConflict
	}
	w.deleted = append(w.deleted, "claim "+name)
	delete(w.claims, name) // the pod is unscheduled: no protection holds it
	return nil
}

func (w *world) Deleted() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.deleted)
}

// newWorld: galera-1 runs on node-1 with data-galera-1 bound to a local
// volume of node-1; node-4 is a spare.
func newWorld() *world {
	w := &world{pods: map[string]Pod{}, claims: map[string]Claim{}, volumes: map[string]Volume{}, nodes: map[string]Node{}}
	for _, n := range []string{"node-0", "node-1", "node-2", "node-4"} {
		w.nodes[n] = Node{Name: n}
	}
	w.volumes["pv-1"] = Volume{Name: "pv-1", Hosts: []string{"node-1"}}
	w.claims["data-galera-1"] = Claim{Name: "data-galera-1", UID: w.uid(), Volume: "pv-1"}
	w.pods["galera-1"] = Pod{Name: "galera-1", UID: w.uid(), Node: "node-1", Phase: "Running", Claims: []string{"data-galera-1"}}
	return w
}

// rounds runs Once on galera-1 until it takes no step, at most 10 times.
func rounds(t *testing.T, r *Rebuild) []Step {
	t.Helper()
	var steps []Step
	for range 10 {
		s, _, err := r.Once(context.Background(), "galera-1")
		if err != nil {
			t.Fatal(err)
		}
		if s == nil {
			return steps
		}
		steps = append(steps, *s)
	}
	t.Fatalf("still acting after 10 rounds: %v", steps)
	return nil
}

func actions(steps []Step) []string {
	var a []string
	for _, s := range steps {
		a = append(a, s.Action)
	}
	return a
}

func TestRebuildDeclaredGone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		declare func(w *world)
	}{
		{"out-of-service taint", func(w *world) { w.nodes["node-1"] = Node{Name: "node-1", OutOfService: true} }},
		{"Node deleted", func(w *world) { delete(w.nodes, "node-1") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			tc.declare(w)
			r := &Rebuild{API: w, Gone: func(string) bool { return true }}
			steps := rounds(t, r)
			want := []string{StepPodDeleted, StepClaimDeleted, StepPendingPodDeleted}
			if got := actions(steps); !slices.Equal(got, want) {
				t.Fatalf("steps %v, want %v", got, want)
			}
			if got, want := w.Deleted(), []string{"pod galera-1 force=true", "claim data-galera-1", "pod galera-1 force=false"}; !slices.Equal(got, want) {
				t.Errorf("deleted %v, want %v", got, want)
			}
			if c := w.claims["data-galera-1"]; c.Volume != "" || c.UID == "" {
				t.Errorf("the claim at the end: %+v, want a new unbound one", c)
			}
			if !strings.Contains(steps[1].Why, "pv-1") || !strings.Contains(steps[1].Why, "node-1") {
				t.Errorf("the claim step does not say which volume and node: %q", steps[1].Why)
			}
		})
	}
}

// A node that is only NotReady, a partition, a zonal volume: no
// declaration, nothing deleted.
func TestRebuildNotDeclared(t *testing.T) {
	t.Run("node not declared", func(t *testing.T) {
		w := newWorld()
		r := &Rebuild{API: w, Gone: func(string) bool { return true }}
		if steps := rounds(t, r); len(steps) > 0 || len(w.Deleted()) > 0 {
			t.Fatalf("acted on a node nobody declared gone: %v %v", steps, w.Deleted())
		}
		_, report, _ := r.Once(context.Background(), "galera-1")
		if !strings.Contains(report, "not declared gone") {
			t.Errorf("report %q", report)
		}
	})
	t.Run("pending pod, volume of a live node", func(t *testing.T) {
		w := newWorld()
		w.pods["galera-1"] = Pod{Name: "galera-1", UID: "p", Phase: "Pending", Claims: []string{"data-galera-1"}}
		r := &Rebuild{API: w, Gone: func(string) bool { return true }}
		if steps := rounds(t, r); len(steps) > 0 {
			t.Fatalf("steps %v", steps)
		}
	})
	t.Run("zonal volume", func(t *testing.T) {
		w := newWorld()
		w.volumes["pv-1"] = Volume{Name: "pv-1"}
		w.nodes["node-1"] = Node{Name: "node-1", OutOfService: true}
		r := &Rebuild{API: w, Gone: func(string) bool { return true }}
		// The pod is deleted (its node is gone); the claim is kept: the
		// volume follows the new pod.
		if got := actions(rounds(t, r)); !slices.Equal(got, []string{StepPodDeleted}) {
			t.Fatalf("steps %v", got)
		}
		if _, ok := w.claims["data-galera-1"]; !ok {
			t.Fatal("a zonal volume's claim was deleted")
		}
	})
	t.Run("member back in the component", func(t *testing.T) {
		w := newWorld()
		delete(w.nodes, "node-1")
		r := &Rebuild{API: w, Gone: func(string) bool { return false }}
		if steps := rounds(t, r); len(steps) > 0 || len(w.Deleted()) > 0 {
			t.Fatalf("acted on a member in the component: %v %v", steps, w.Deleted())
		}
	})
}

// A pod or claim replaced between the read and the delete: the UID
// precondition refuses, and that is no failure.
func TestRebuildConflict(t *testing.T) {
	w := newWorld()
	delete(w.nodes, "node-1")
	r := &Rebuild{API: w, Gone: func(string) bool {
		// Between the read and the delete, the pod is replaced.
		w.mu.Lock()
		defer w.mu.Unlock()
		p := w.pods["galera-1"]
		p.UID = "newer"
		w.pods["galera-1"] = p
		return true
	}}
	s, report, err := r.Once(context.Background(), "galera-1")
	if err != nil || s != nil {
		t.Fatalf("step %v, err %v", s, err)
	}
	if !strings.Contains(report, "changed") || len(w.Deleted()) > 0 {
		t.Fatalf("report %q, deleted %v", report, w.Deleted())
	}
}

// Run: members told on the channel are followed until they are back;
// steps and the first failure are told.
func TestRebuildRun(t *testing.T) {
	w := newWorld()
	w.nodes["node-1"] = Node{Name: "node-1", OutOfService: true}
	w.failNext = errors.New("the API server is away")
	var mu sync.Mutex
	gone := true
	var did []string
	var failed []error
	r := &Rebuild{API: w, Every: 5 * time.Millisecond, RetryMin: 5 * time.Millisecond,
		Gone: func(string) bool { mu.Lock(); defer mu.Unlock(); return gone },
		Did:  func(s Step) { mu.Lock(); defer mu.Unlock(); did = append(did, s.Action) },
		Failed: func(pod string, err error) {
			mu.Lock()
			defer mu.Unlock()
			failed = append(failed, err)
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan []string, 1)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, in) }()
	in <- []string{"galera-1"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(did)
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("steps %v after 5s", did)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	gone = false // the new member joined
	mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(did, []string{StepPodDeleted, StepClaimDeleted, StepPendingPodDeleted}) {
		t.Errorf("steps %v", did)
	}
	if len(failed) != 1 || !strings.Contains(failed[0].Error(), "away") {
		t.Errorf("failures told %v, want the one", failed)
	}
	if n := len(w.Deleted()); n != 3 {
		t.Errorf("%d deletions after the member was back: %v", n, w.Deleted())
	}
}

func TestPinnedHosts(t *testing.T) {
	term := func(exprs ...string) nodeSelectorTerm {
		var t nodeSelectorTerm
		for _, e := range exprs {
			k, v, _ := strings.Cut(e, "=")
			t.MatchExpressions = append(t.MatchExpressions, struct {
				Key      string   `json:"key"`
				Operator string   `json:"operator"`
				Values   []string `json:"values"`
			}{Key: k, Operator: "In", Values: strings.Split(v, ",")})
		}
		return t
	}
	for _, tc := range []struct {
		name  string
		terms []nodeSelectorTerm
		want  []string
	}{
		{"one host", []nodeSelectorTerm{term(HostnameLabel + "=n1")}, []string{"n1"}},
		{"two terms", []nodeSelectorTerm{term(HostnameLabel + "=n1"), term(HostnameLabel + "=n2,n1")}, []string{"n1", "n2"}},
		{"zone only", []nodeSelectorTerm{term("topology.kubernetes.io/zone=a")}, nil},
		{"host or zone", []nodeSelectorTerm{term(HostnameLabel + "=n1"), term("topology.kubernetes.io/zone=a")}, nil},
		{"host and zone", []nodeSelectorTerm{term("topology.kubernetes.io/zone=a", HostnameLabel+"=n1")}, []string{"n1"}},
		{"none", nil, nil},
	} {
		if got := pinnedHosts(tc.terms); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The client's calls against an API server that checks them as the real
// one does: paths, the bearer token, DeleteOptions with the UID
// precondition; 404, 409 and 403 become ErrNotFound, ErrConflict and an
// error that names the missing rights.
func TestObjectCalls(t *testing.T) {
	var mu sync.Mutex
	var deletes []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		status := func(code int, msg string) {
			w.WriteHeader(code)
			_, _ = fmt.Fprintf(w, `{"kind":"Status","message":%q}`, msg)
		}
		switch p := r.URL.Path; {
		case r.Method == http.MethodGet && p == "/api/v1/namespaces/db/pods/galera-1":
			_, _ = io.WriteString(w, `{"metadata":{"name":"galera-1","uid":"u1","deletionTimestamp":"2026-12-06T00:00:00Z"},"spec":{"nodeName":"n1","volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"data-galera-1"}},{"name":"cfg","configMap":{"name":"x"}}]},"status":{"phase":"Running"}}`)
		case r.Method == http.MethodGet && p == "/api/v1/namespaces/db/pods/galera-2":
			_, _ = io.WriteString(w, `{"metadata":{"name":"galera-2","uid":"u2"},"spec":{"nodeName":"n2","terminationGracePeriodSeconds":420},"status":{"phase":"Running"}}`)
		case r.Method == http.MethodGet && p == "/api/v1/namespaces/db/persistentvolumeclaims/data-galera-1":
			_, _ = io.WriteString(w, `{"metadata":{"name":"data-galera-1","uid":"c1"},"spec":{"volumeName":"pv-7"}}`)
		case r.Method == http.MethodGet && p == "/api/v1/persistentvolumes/pv-7":
			_, _ = io.WriteString(w, `{"metadata":{"name":"pv-7","uid":"v1"},"spec":{"nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]}}}}`)
		case r.Method == http.MethodGet && p == "/api/v1/nodes/n1":
			_, _ = io.WriteString(w, `{"metadata":{"name":"n1"},"spec":{"taints":[{"key":"node.kubernetes.io/out-of-service","value":"nodeshutdown","effect":"NoExecute"}]}}`)
		case r.Method == http.MethodGet && p == "/api/v1/nodes/n2":
			status(http.StatusNotFound, `nodes "n2" not found`)
		case r.Method == http.MethodGet && p == "/api/v1/nodes":
			if r.URL.Query().Get("labelSelector") != "kubernetes.io/hostname=n1" {
				status(http.StatusBadRequest, "selector "+r.URL.RawQuery)
				return
			}
			_, _ = io.WriteString(w, `{"items":[{"metadata":{"name":"n1"},"spec":{}}]}`)
		case r.Method == http.MethodDelete:
			b, _ := io.ReadAll(r.Body)
			var opts struct {
				Preconditions      struct{ UID string } `json:"preconditions"`
				GracePeriodSeconds *int64               `json:"gracePeriodSeconds"`
			}
			if err := json.Unmarshal(b, &opts); err != nil || r.Header.Get("Content-Type") != "application/json" {
				status(http.StatusBadRequest, "body "+string(b))
				return
			}
			mu.Lock()
			deletes = append(deletes, fmt.Sprintf("%s uid=%s grace=%v", p, opts.Preconditions.UID, opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds == 0))
			mu.Unlock()
			switch opts.Preconditions.UID {
			case "stale":
				status(http.StatusConflict, "Precondition failed: UID in precondition: stale, UID in object meta: u2")
			case "forbidden":
				status(http.StatusForbidden, `pods "galera-1" is forbidden: User "system:serviceaccount:db:galera" cannot delete resource "pods"`)
			default:
				_, _ = io.WriteString(w, `{"kind":"Status","status":"Success"}`)
			}
		default:
			status(http.StatusNotFound, "no "+p)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	for name, content := range map[string]string{"ca.crt": string(ca), "namespace": "db", "token": "tok"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c, err := InCluster(Config{Host: host, Port: port, Dir: dir, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := c.Pod(ctx, "galera-1")
	if err != nil || p.UID != "u1" || p.Node != "n1" || !p.Deleting || !slices.Equal(p.Claims, []string{"data-galera-1"}) || p.Grace != 30*time.Second {
		t.Errorf("pod %+v, %v", p, err)
	}
	if p, err := c.Pod(ctx, "galera-2"); err != nil || p.Grace != 420*time.Second || p.Deleting || len(p.Claims) != 0 {
		t.Errorf("pod %+v, %v; want a grace period of 420 s", p, err)
	}
	cl, err := c.Claim(ctx, "data-galera-1")
	if err != nil || cl.UID != "c1" || cl.Volume != "pv-7" || cl.Deleting {
		t.Errorf("claim %+v, %v", cl, err)
	}
	v, err := c.Volume(ctx, "pv-7")
	if err != nil || !slices.Equal(v.Hosts, []string{"n1"}) {
		t.Errorf("volume %+v, %v", v, err)
	}
	n, err := c.Node(ctx, "n1")
	if err != nil || !n.OutOfService {
		t.Errorf("node %+v, %v", n, err)
	}
	if _, err := c.Node(ctx, "n2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a deleted node: %v, want ErrNotFound", err)
	}
	ns, err := c.NodesWithHostname(ctx, "n1")
	if err != nil || len(ns) != 1 || ns[0].OutOfService {
		t.Errorf("nodes %+v, %v", ns, err)
	}
	if _, err := c.Claim(ctx, "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing claim: %v", err)
	}
	if err := c.DeletePod(ctx, "galera-1", "u1", true); err != nil {
		t.Error(err)
	}
	if err := c.DeleteClaim(ctx, "data-galera-1", "c1"); err != nil {
		t.Error(err)
	}
	if err := c.DeletePod(ctx, "galera-1", "stale", false); !errors.Is(err, ErrConflict) {
		t.Errorf("stale UID: %v, want ErrConflict", err)
	}
	if err := c.DeletePod(ctx, "galera-1", "forbidden", false); err == nil || !strings.Contains(err.Error(), "rebuild-lost") || errors.Is(err, ErrNotFound) {
		t.Errorf("403: %v", err)
	}
	if err := c.DeletePod(ctx, "galera-1", "", false); err == nil {
		t.Error("a delete without a UID was sent")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"/api/v1/namespaces/db/pods/galera-1 uid=u1 grace=true",
		"/api/v1/namespaces/db/persistentvolumeclaims/data-galera-1 uid=c1 grace=false",
		"/api/v1/namespaces/db/pods/galera-1 uid=stale grace=false",
		"/api/v1/namespaces/db/pods/galera-1 uid=forbidden grace=false",
	}
	if !slices.Equal(deletes, want) {
		t.Errorf("deletes\n%s\nwant\n%s", strings.Join(deletes, "\n"), strings.Join(want, "\n"))
	}
}
