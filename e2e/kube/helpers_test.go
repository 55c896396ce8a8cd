//go:build e2ek8s

package kube

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/testkube"
)

const (
	ns       = "galera-e2e"
	replicas = 3
	appUser  = "e2e"
	appPass  = "e2e-password"
)

// multiNode says the cluster runs worker nodes of its own
// (GALERA_KUBE_NODES), not the one node on the host.
func multiNode() bool { return len(cluster.Nodes()) > 1 }

// nodeOf is the node pod name is scheduled on.
func nodeOf(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	n := strings.TrimSpace(kubectl(t, ctx, "-n", ns, "get", "pod", name, "-o", "jsonpath={.spec.nodeName}"))
	if n == "" {
		t.Fatalf("%s is on no node", name)
	}
	return n
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func kubectl(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	out, err := cluster.Kubectl(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func overlay(t *testing.T) string {
	repo, err := testkube.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(repo, "deploy/kubernetes/overlays/e2e")
}

type pod struct {
	Metadata struct {
		Name              string `json:"name"`
		UID               string `json:"uid"`
		DeletionTimestamp string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		PodIP      string `json:"podIP"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
		ContainerStatuses []struct {
			ContainerID  string `json:"containerID"`
			RestartCount int    `json:"restartCount"`
			Ready        bool   `json:"ready"`
			State        struct {
				Waiting *struct {
					Reason string `json:"reason"`
				} `json:"waiting"`
				Running *struct{} `json:"running"`
			} `json:"state"`
			LastState struct {
				Terminated *struct {
					Reason   string `json:"reason"`
					ExitCode int    `json:"exitCode"`
				} `json:"terminated"`
			} `json:"lastState"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

func (p pod) ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

func (p pod) restarts() int {
	if len(p.Status.ContainerStatuses) == 0 {
		return 0
	}
	return p.Status.ContainerStatuses[0].RestartCount
}

func pods(ctx context.Context) (map[string]pod, error) {
	out, err := cluster.Kubectl(ctx, "-n", ns, "get", "pods", "-l", "app=galera", "-o", "json")
	if err != nil {
		return nil, err
	}
	var list struct{ Items []pod }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, err
	}
	m := map[string]pod{}
	for _, p := range list.Items {
		m[p.Metadata.Name] = p
	}
	return m, nil
}

func mustPods(t *testing.T, ctx context.Context) map[string]pod {
	t.Helper()
	ps, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// loginAs connects to a member's MariaDB over TCP as user and runs a query.
func loginAs(ctx context.Context, ip, user, pass, db string) error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, pass, "tcp", ip+":3306", db
	cfg.Timeout = 3 * time.Second
	c, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var one int
	return c.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// readyEndpoints returns the addresses the client Service sends traffic to.
func readyEndpoints(ctx context.Context) (map[string]bool, error) {
	return readyEndpointsOf(ctx, "galera")
}

// readyEndpointsOf returns the addresses a Service sends traffic to.
func readyEndpointsOf(ctx context.Context, service string) (map[string]bool, error) {
	out, err := cluster.Kubectl(ctx, "-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name="+service, "-o", "json")
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			Endpoints []struct {
				Addresses  []string `json:"addresses"`
				Conditions struct {
					Ready *bool `json:"ready"`
				} `json:"conditions"`
			} `json:"endpoints"`
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				for _, a := range e.Addresses {
					m[a] = true
				}
			}
		}
	}
	return m, nil
}

// query runs SQL inside a pod, over mariadbd's socket, as the mysql user
// (the unix_socket account the sentinel's initialisation creates).
func query(ctx context.Context, podName, q string) (string, error) {
	out, err := cluster.Kubectl(ctx, "-n", ns, "exec", podName, "--", "mariadb", "-S", "/run/mysqld/mysqld.sock", "-N", "-B", "-e", q)
	return strings.TrimSpace(out), err
}

func waitUntil(t *testing.T, ctx context.Context, what string, every time.Duration, check func() error) {
	t.Helper()
	var last error
	for {
		if last = check(); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last: %v)", what, ctx.Err(), last)
		case <-time.After(every):
		}
	}
}

// healthy: every pod Ready, and every member Synced in a Primary
// component of replicas members.
func healthy(ctx context.Context) error { return healthyN(ctx, replicas) }

// healthyN: every pod Ready, and every member Synced in a Primary
// component of n members.
func healthyN(ctx context.Context, replicas int) error {
	ps, err := pods(ctx)
	if err != nil {
		return err
	}
	if len(ps) != replicas {
		return fmt.Errorf("%d pods", len(ps))
	}
	for name, p := range ps {
		if !p.ready() || p.Metadata.DeletionTimestamp != "" {
			return fmt.Errorf("%s not Ready", name)
		}
		out, err := query(ctx, name, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('wsrep_cluster_size','wsrep_local_state_comment','wsrep_cluster_status') ORDER BY VARIABLE_NAME")
		if err != nil {
			return err
		}
		if f := strings.Fields(out); len(f) != 3 || f[0] != fmt.Sprint(replicas) || f[1] != "Primary" || f[2] != "Synced" {
			return fmt.Errorf("%s: size, status, state = %v", name, f)
		}
	}
	return nil
}

func waitHealthy(t *testing.T, ctx context.Context, timeout time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	waitUntil(t, ctx, "3 Ready members, Synced, cluster size 3", time.Second, func() error { return healthy(ctx) })
	return time.Since(t0)
}

// client opens a pool on the client Service. Connections live for at most
// a second: a client that keeps a connection for ever to a member being
// drained is cut at --drain-timeout, whatever the Service does.
func client(t *testing.T, ctx context.Context) *sql.DB { return clientOn(t, ctx, "galera") }

// clientOn is client on the named Service.
func clientOn(t *testing.T, ctx context.Context, service string) *sql.DB {
	t.Helper()
	return pooledOn(t, ctx, service, time.Second)
}

// pooledOn is a pool of long-lived connections on the named Service, as
// applications keep them: each lives for lifetime (0: for ever), and up to
// 4 stay idle in the pool between uses.
func pooledOn(t *testing.T, ctx context.Context, service string, lifetime time.Duration) *sql.DB {
	t.Helper()
	ip := strings.TrimSpace(kubectl(t, ctx, "-n", ns, "get", "service", service, "-o", "jsonpath={.spec.clusterIP}"))
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = appUser, appPass, "tcp", ip+":3306", "e2e"
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 3*time.Second, 10*time.Second, 10*time.Second
	cfg.Params = map[string]string{"wsrep_sync_wait": "0"}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	db.SetConnMaxLifetime(lifetime)
	db.SetMaxIdleConns(4)
	t.Cleanup(func() { db.Close() })
	return db
}

// writer inserts one row per transaction, through the client Service,
// and remembers which ones were acknowledged and by which member.
type writer struct {
	db     *sql.DB
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	next     int64
	attempts int
	acked    map[int64]string // id → @@hostname that committed it
	ackedAt  map[int64]time.Time
	failures []string
}

func startWriter(db *sql.DB, firstID int64, every time.Duration) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{db: db, cancel: cancel, done: make(chan struct{}), next: firstID, acked: map[int64]string{}, ackedAt: map[int64]time.Time{}}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			w.once(ctx)
		}
	}()
	return w
}

func (w *writer) once(ctx context.Context) {
	w.mu.Lock()
	id := w.next
	w.next++
	w.attempts++
	w.mu.Unlock()
	qctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := func() error {
		conn, err := w.db.Conn(qctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		var host string
		if err := conn.QueryRowContext(qctx, "SELECT @@hostname").Scan(&host); err != nil {
			return err
		}
		_, err = conn.ExecContext(qctx, "INSERT INTO t (id, host) VALUES (?, ?)", id, host)
		if err == nil {
			w.mu.Lock()
			w.acked[id] = host
			w.ackedAt[id] = time.Now()
			w.mu.Unlock()
		}
		return err
	}()
	if err != nil && ctx.Err() == nil {
		at := time.Now()
		var op *net.OpError
		mark, note := "", ""
		if errors.As(err, &op) && op.Op == "dial" {
			if op.Timeout() {
				mark = unopened
			}
			note = " [" + dialNote() + "]"
		}
		w.mu.Lock()
		w.failures = append(w.failures, fmt.Sprintf("%s%s id %d: %v%s", mark, at.Format("15:04:05.000"), id, err, note))
		w.mu.Unlock()
	}
}

// unopened marks a failure whose connection was never opened: the dial
// timed out, nothing reached a server.
const unopened = "(never connected) "

// dialNote says where a connection that could not be opened was headed:
// the connections to port 3306 that the host's conntrack has seen send a
// SYN and get no answer (for a Service address, with the pod address
// kube-proxy translated it to), and each member's pod address and
// state. A dial through a Service that times out is then either a pod
// that did not answer or a translation to an address no pod holds.
func dialNote() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var parts []string
	out, err := exec.CommandContext(ctx, "conntrack", "-L", "-p", "tcp", "--dport", "3306", "--state", "SYN_SENT").Output()
	if err != nil {
		parts = append(parts, fmt.Sprintf("conntrack: %v", err))
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			var keep []string
			for _, x := range f {
				if strings.HasPrefix(x, "src=") || strings.HasPrefix(x, "dst=") || x == "[UNREPLIED]" {
					keep = append(keep, x)
				}
			}
			parts = append(parts, "unanswered SYN "+strings.Join(keep, " "))
		}
	}
	ps, err := pods(ctx)
	if err != nil {
		parts = append(parts, fmt.Sprintf("pods: %v", err))
	}
	names := make([]string, 0, len(ps))
	for name := range ps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := ps[name]
		state := "not ready"
		if p.ready() {
			state = "ready"
		}
		if p.Metadata.DeletionTimestamp != "" {
			state += ", deleting"
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", name, p.Status.PodIP, state))
	}
	return strings.Join(parts, "; ")
}

type writeStats struct {
	Attempts int
	Acked    map[int64]string
	AckedAt  map[int64]time.Time
	Failures []string
}

// longestGap is the longest time without an acknowledged write, after t:
// how long clients could not write.
func (s writeStats) longestGap(t time.Time) time.Duration {
	var ats []time.Time
	for _, at := range s.AckedAt {
		if at.After(t) {
			ats = append(ats, at)
		}
	}
	sort.Slice(ats, func(i, j int) bool { return ats[i].Before(ats[j]) })
	var gap time.Duration
	prev := t
	for _, at := range ats {
		if d := at.Sub(prev); d > gap {
			gap = d
		}
		prev = at
	}
	return gap
}

func (s writeStats) byHost() map[string]int {
	m := map[string]int{}
	for _, h := range s.Acked {
		m[h]++
	}
	return m
}

func (w *writer) stop() writeStats {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return writeStats{Attempts: w.attempts, Acked: w.acked, AckedAt: w.ackedAt, Failures: w.failures}
}

// verifyRows checks, on every member, that every acknowledged row is there
// (wsrep_sync_wait: a row still in a member's apply queue counts).
func verifyRows(t *testing.T, ctx context.Context, acked map[int64]string) {
	t.Helper()
	var names []string
	for i := 0; i < replicas; i++ {
		names = append(names, fmt.Sprintf("galera-%d", i))
	}
	verifyRowsOn(t, ctx, acked, names...)
}

// verifyRowsOn is verifyRows on the named members.
func verifyRowsOn(t *testing.T, ctx context.Context, acked map[int64]string, names ...string) {
	t.Helper()
	for _, name := range names {
		out, err := query(ctx, name, "SET SESSION wsrep_sync_wait=1; SELECT id FROM e2e.t")
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, l := range strings.Fields(out) {
			have[l] = true
		}
		missing := 0
		for id := range acked {
			if !have[fmt.Sprint(id)] {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d acknowledged rows missing", name, missing, len(acked))
		} else {
			t.Logf("%s: all %d acknowledged rows present (%d rows in the table)", name, len(acked), len(have))
		}
	}
}

func maxID(t *testing.T, ctx context.Context) int64 {
	out, err := query(ctx, "galera-0", "SET SESSION wsrep_sync_wait=1; SELECT COALESCE(MAX(id),0) FROM e2e.t")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	fmt.Sscan(out, &n)
	return n + 1
}

// logJournals logs each member's journal since a second before t0: the
// drains, the sessions closed and cut, the decisions, across the pod's
// earlier lives (the journal is on the member's volume).
func logJournals(t *testing.T, ctx context.Context, t0 time.Time) {
	t.Helper()
	for i := 0; i < replicas; i++ {
		name := fmt.Sprintf("galera-%d", i)
		out, err := cluster.Kubectl(ctx, "-n", ns, "exec", name, "--", "galera-sentinel", "events", "--since", t0.Add(-time.Second).UTC().Format(time.RFC3339))
		t.Logf("%s journal since %s (%v):\n%s", name, t0.Format("15:04:05.000"), err, out)
	}
}

// collect stops the writers and adds up what they did.
func collect(ws []*writer) writeStats {
	all := writeStats{Acked: map[int64]string{}, AckedAt: map[int64]time.Time{}}
	for _, w := range ws {
		st := w.stop()
		all.Attempts += st.Attempts
		all.Failures = append(all.Failures, st.Failures...)
		for id, host := range st.Acked {
			all.Acked[id] = host
			all.AckedAt[id] = st.AckedAt[id]
		}
	}
	return all
}

// followLogs streams the log of each of ps (kubectl logs -f) into memory
// until the pod's container ends or the test does; the result says what
// each wrote, without the sentinel's notification records.
func followLogs(t *testing.T, ctx context.Context, ps map[string]pod) func() map[string]string {
	t.Helper()
	type stream struct {
		buf  *syncBuffer
		done chan struct{}
	}
	streams := map[string]stream{}
	for name := range ps {
		st := stream{buf: &syncBuffer{}, done: make(chan struct{})}
		cmd := exec.CommandContext(ctx, filepath.Join(cluster.BinDir, "kubectl"), "--kubeconfig", cluster.Kubeconfig, "-n", ns, "logs", "-f", "--tail=0", name)
		cmd.Stdout, cmd.Stderr = st.buf, st.buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = cmd.Wait(); close(st.done) }()
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-st.done })
		streams[name] = st
	}
	return func() map[string]string {
		out := map[string]string{}
		for name, st := range streams {
			var keep []string
			for _, l := range strings.Split(st.buf.String(), "\n") {
				if !strings.Contains(l, `"kind":"notification"`) {
					keep = append(keep, l)
				}
			}
			out[name] = strings.Join(keep, "\n")
		}
		return out
	}
}

// lastLines is the last n lines of text.
func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
